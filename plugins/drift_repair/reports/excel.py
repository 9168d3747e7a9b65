"""Excel workbooks the team and the auditors read: the run workbook, the parameter sheet, the KPI workbook.

Sheets (Japanese names, as these teams expect them; ``language="en"`` gives English names and headers):

* パラメーターシート / Parameter sheet — the design values from Terraform, one row per resource attribute
  (address, type, AWS resource id, attribute, value, source),
  grouped by resource (a bold heading row per resource, its attributes as a collapsible outline group).
* 差分一覧 / Differences — before / after verdicts per attribute, totals at the top, verdict cells filled
  NG red, OK green, UNKNOWN yellow.
* 修復履歴 / Remediation history — one row per RemediationRow.
* drift_kpi — monthly KPIs against their targets with native Excel charts of the trends.

Every sheet has a frozen header row, an auto filter over the table and fitted column widths. Every value
goes through :func:`drift_repair.core.excel_safe.safe_cell`: strings that could be read as formulas are
text cells with the quote prefix. Sheets are streamed (openpyxl write-only mode) so that a large estate
does not need gigabytes of memory; datetimes are written in UTC and the headers say so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from drift_repair.core.compare import summarise
from drift_repair.core.excel_safe import display_width, safe_cell
from drift_repair.core.kpi import (
    APPROVAL_HOURS_TARGET,
    MANUAL_RATE_TARGET,
    SUCCESS_RATE_TARGET,
    HistoryRecord,
    MonthlyKpi,
    month_of,
)
from drift_repair.core.models import DiffRow, ExpectedValue, RemediationRow, RemediationState, Verdict

if TYPE_CHECKING:  # openpyxl does not export the streaming worksheet class
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

log = logging.getLogger(__name__)

LANGUAGES = ("ja", "en")

# Excel's own "Good / Bad / Neutral" cell style colours.
RED, GREEN, YELLOW = "FFFFC7CE", "FFC6EFCE", "FFFFEB9C"
HEADER_FILL, GROUP_FILL = "FFDDEBF7", "FFF2F2F2"
VERDICT_FILLS = {Verdict.NG.value: RED, Verdict.OK.value: GREEN, Verdict.UNKNOWN.value: YELLOW}
STATE_FILLS = {
    RemediationState.VERIFIED.value: GREEN,
    RemediationState.FAILED.value: RED,
    RemediationState.ROLLED_BACK.value: RED,
}
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
PERCENT_FORMAT = "0.0%"
HOURS_FORMAT = "0.00"
MIN_WIDTH, MAX_WIDTH = 8, 60

TEXT: dict[str, dict[str, Any]] = {
    "ja": {
        "params": "パラメーターシート",
        "diff": "差分一覧",
        "history": "修復履歴",
        "kpi": "drift_kpi",
        "kpi_records": "KPI明細",
        "params_headers": ["リソースアドレス", "リソースタイプ", "リソースID", "属性", "期待値", "出典"],
        "attributes": "{n} 属性",
        "diff_headers": ["リソース", "属性", "期待値", "現状値", "判定", "修復後の値", "修復後判定", "理由"],
        "diff_title": "差分一覧",
        "totals_headers": ["", "OK", "NG", "UNKNOWN", "合計"],
        "before": "修復前",
        "after": "修復後",
        "environment": "環境",
        "run": "実行ID",
        "history_headers": [
            "リソース",
            "状態",
            "Configルール",
            "ランブック",
            "実行ID",
            "承認者",
            "承認日時 (UTC)",
            "開始 (UTC)",
            "終了 (UTC)",
            "エラー",
            "検知日時 (UTC)",
            "終了コード",
        ],
        "kpi_title": "ドリフトKPI",
        "kpi_targets": "目標: 修復成功率 ≥ {s:.0%} / 平均承認時間 ≤ {a:g} 時間 / 手動対応率 ≤ {m:.0%}",
        "kpi_headers": [
            "月",
            "ドリフト検知数",
            "修復実行数",
            "修復成功数",
            "修復成功率",
            "目標 修復成功率",
            "平均承認時間 (h)",
            "目標 承認時間 (h)",
            "承認タイムアウト数",
            "手動対応数",
            "手動対応率",
            "目標 手動対応率",
            "平均修復時間 (h)",
        ],
        "chart_detections": "ドリフト検知数",
        "chart_success": "修復成功率",
        "chart_hours": "承認時間・修復時間 (h)",
        "chart_manual": "手動対応率",
        "records_headers": [
            "月",
            "環境",
            "DAG実行ID",
            "項目キー",
            "リソース",
            "状態",
            "結果",
            "検知日時 (UTC)",
            "承認日時 (UTC)",
            "開始 (UTC)",
            "終了 (UTC)",
            "承認者",
            "終了コード",
            "記録日時 (UTC)",
        ],
    },
    "en": {
        "params": "Parameter sheet",
        "diff": "Differences",
        "history": "Remediation history",
        "kpi": "drift_kpi",
        "kpi_records": "KPI records",
        "params_headers": ["Resource address", "Resource type", "Resource ID", "Attribute", "Expected value", "Source"],
        "attributes": "{n} attributes",
        "diff_headers": [
            "Resource",
            "Attribute",
            "Expected",
            "Actual",
            "Verdict",
            "Value after repair",
            "Verdict after repair",
            "Reason",
        ],
        "diff_title": "Differences",
        "totals_headers": ["", "OK", "NG", "UNKNOWN", "Total"],
        "before": "Before repair",
        "after": "After repair",
        "environment": "Environment",
        "run": "Run ID",
        "history_headers": [
            "Resource",
            "State",
            "Config rule",
            "Runbook",
            "Execution ID",
            "Approver",
            "Approved at (UTC)",
            "Started at (UTC)",
            "Finished at (UTC)",
            "Error",
            "Detected at (UTC)",
            "Exit code",
        ],
        "kpi_title": "Drift KPIs",
        "kpi_targets": "Targets: success rate ≥ {s:.0%} / mean approval time ≤ {a:g} h / manual intervention ≤ {m:.0%}",
        "kpi_headers": [
            "Month",
            "Drift detections",
            "Remediations attempted",
            "Remediations verified",
            "Success rate",
            "Target success rate",
            "Mean approval time (h)",
            "Target approval time (h)",
            "Approval timeouts",
            "Manual interventions",
            "Manual intervention rate",
            "Target manual rate",
            "Mean time to repair (h)",
        ],
        "chart_detections": "Drift detections",
        "chart_success": "Remediation success rate",
        "chart_hours": "Approval time and time to repair (h)",
        "chart_manual": "Manual intervention rate",
        "records_headers": [
            "Month",
            "Environment",
            "DAG run ID",
            "Item key",
            "Resource",
            "State",
            "Outcome",
            "Detected at (UTC)",
            "Approved at (UTC)",
            "Started at (UTC)",
            "Finished at (UTC)",
            "Approver",
            "Exit code",
            "Recorded at (UTC)",
        ],
    },
}


def texts(language: str) -> dict[str, Any]:
    """Sheet names and headers of a language; ValueError names the supported ones."""
    if language not in TEXT:
        raise ValueError(f"report language {language!r}: expected one of {', '.join(LANGUAGES)}")
    return TEXT[language]


def sheet_names(language: str) -> dict[str, str]:
    """``{"params": ..., "diff": ..., "history": ..., "kpi": ...}`` in the given language."""
    t = texts(language)
    return {k: t[k] for k in ("params", "diff", "history", "kpi")}


# ----------------------------------------------------------------------------------------------- cells


@dataclass(frozen=True, slots=True)
class Style:
    fill: str | None = None
    bold: bool = False
    number_format: str | None = None


_BOLD = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")
_FILLS: dict[str, PatternFill] = {}
HEADER = Style(fill=HEADER_FILL, bold=True)


def _fill(colour: str) -> PatternFill:
    if colour not in _FILLS:
        _FILLS[colour] = PatternFill(fill_type="solid", start_color=colour, end_color=colour)
    return _FILLS[colour]


def _cell(ws: WriteOnlyWorksheet, value: Any, style: Style | None = None) -> Any:
    """One cell, formula-safe (see module docstring).

    A plain number or ordinary string goes to openpyxl as is (it binds it exactly as we want, and a large
    estate writes several times faster); everything that needs care becomes a styled cell.
    """
    safe = safe_cell(value)
    v = safe.value
    is_str = isinstance(v, str)
    wide = is_str and len(v) * 2 > MAX_WIDTH and display_width(v) > MAX_WIDTH
    # "#N/A" and friends would be bound as error cells: they are text too.
    if (
        style is None
        and not safe.as_text
        and not wide
        and not isinstance(v, datetime)
        and not (is_str and v[:1] == "#")
    ):
        return v
    cell = WriteOnlyCell(ws, value=v)
    if is_str:
        cell.data_type = "s"  # openpyxl binds "=..." as a formula and "#N/A" as an error: both are text
    if safe.as_text:
        cell.quotePrefix = True  # and stays text when someone edits it in Excel
    if isinstance(v, datetime):
        cell.number_format = DATETIME_FORMAT
    if style is not None:
        if style.fill:
            cell.fill = _fill(style.fill)
        if style.bold:
            cell.font = _BOLD
        if style.number_format:
            cell.number_format = style.number_format
    if wide:
        cell.alignment = _WRAP
    return cell


def _shown(value: Any) -> Any:
    """A compared value as shown: an empty string reads ``""`` so that it is not mistaken for "no value"."""
    return '""' if value == "" else value


@dataclass
class _Table:
    """A sheet's rows before writing: values and styles, so widths can be fitted before streaming."""

    header_row: int
    headers: list[str]
    rows: list[tuple[list[Any], list[Style | None], int]]  # values, styles, outline level

    def widths(self) -> list[float]:
        widths = [display_width(h) for h in self.headers]
        for values, _, _ in self.rows:
            for i, value in enumerate(values):
                if i < len(widths):
                    widths[i] = max(widths[i], display_width(safe_cell(value).value))
        return [float(min(max(w + 2, MIN_WIDTH), MAX_WIDTH)) for w in widths]


def _write_table(
    ws: WriteOnlyWorksheet,
    table: _Table,
    preamble: Sequence[Sequence[tuple[Any, Style | None]]] = (),
    group_summary_above: bool = False,
) -> int:
    """Stream preamble rows, the header and the table; freeze below the header, filter the table.

    Returns the last row written. Layout settings go first: write-only sheets write them with the first row.
    """
    for i, width in enumerate(table.widths(), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = f"A{table.header_row + 1}"
    if group_summary_above:
        ws.sheet_properties.outlinePr.summaryBelow = False
    row_index = 0
    for row in preamble:
        ws.append([_cell(ws, v, s) for v, s in row])
        row_index += 1
    while row_index < table.header_row - 1:
        ws.append([])
        row_index += 1
    ws.append([_cell(ws, h, HEADER) for h in table.headers])
    row_index += 1
    for values, styles, level in table.rows:
        row_index += 1
        if level:
            ws.row_dimensions[row_index].outlineLevel = level
        ws.append([_cell(ws, v, styles[i] if i < len(styles) else None) for i, v in enumerate(values)])
    last_col = get_column_letter(len(table.headers))
    ws.auto_filter.ref = f"A{table.header_row}:{last_col}{max(row_index, table.header_row)}"
    return row_index


# ------------------------------------------------------------------------------------------- the sheets


def _parameter_table(design_values: Iterable[ExpectedValue], t: Mapping[str, Any]) -> _Table:
    by_resource: dict[str, list[ExpectedValue]] = {}
    for value in design_values:
        by_resource.setdefault(value.resource_address, []).append(value)
    rows: list[tuple[list[Any], list[Style | None], int]] = []
    group = Style(fill=GROUP_FILL, bold=True)
    for address in sorted(by_resource):
        values = by_resource[address]
        first = values[0]
        heading = [address, first.terraform_type, first.resource_id, t["attributes"].format(n=len(values)), None, None]
        rows.append((heading, [group] * 6, 0))
        for v in values:
            detail = [v.resource_address, v.terraform_type, v.resource_id, v.attribute, _shown(v.value), v.source]
            rows.append((detail, [], 1))
    return _Table(header_row=1, headers=list(t["params_headers"]), rows=rows)


def _add_parameter_sheet(wb: Workbook, design_values: Iterable[ExpectedValue], t: Mapping[str, Any]) -> None:
    ws = wb.create_sheet(t["params"])
    _write_table(ws, _parameter_table(design_values, t), group_summary_above=True)


def _verdict_style(verdict: str | None) -> Style | None:
    colour = VERDICT_FILLS.get(verdict or "")
    return Style(fill=colour) if colour else None


def _as_diff_rows(rows: Iterable[DiffRow | Mapping[str, Any]]) -> list[DiffRow]:
    return [r if isinstance(r, DiffRow) else DiffRow.from_dict(r) for r in rows]


DIFF_HEADER_ROW = 6


def _add_diff_sheet(
    wb: Workbook,
    pre_rows: Sequence[DiffRow],
    post_rows: Sequence[DiffRow],
    t: Mapping[str, Any],
    environment: str | None,
    run_id: str | None,
) -> None:
    ws = wb.create_sheet(t["diff"])
    post_by_key = {(r.resource_address, r.attribute): r for r in post_rows}
    pre_keys = {(r.resource_address, r.attribute) for r in pre_rows}
    rows: list[tuple[list[Any], list[Style | None], int]] = []
    for pre in pre_rows:
        post = post_by_key.get((pre.resource_address, pre.attribute))
        post_value = _shown(post.actual) if post else None
        post_verdict = post.verdict.value if post else None
        values = [pre.resource_address, pre.attribute, _shown(pre.expected), _shown(pre.actual), pre.verdict.value]
        values.append(post_value)
        values += [post_verdict, (post.reason if post and post.reason else pre.reason) or None]
        styles = [None, None, None, None, _verdict_style(pre.verdict.value), None, _verdict_style(post_verdict)]
        rows.append((values, styles, 0))
    for post in post_rows:  # attributes that only the re-compare saw
        if (post.resource_address, post.attribute) not in pre_keys:
            values = [post.resource_address, post.attribute, _shown(post.expected), None, None, _shown(post.actual)]
            values += [post.verdict.value, post.reason or None]
            rows.append((values, [None] * 6 + [_verdict_style(post.verdict.value)], 0))

    def totals(label: str, source: Sequence[DiffRow]) -> list[tuple[Any, Style | None]]:
        counts = summarise(source)["verdicts"]
        return [(label, Style(bold=True))] + [(counts[v.value], None) for v in Verdict] + [(len(source), None)]

    title = [(t["diff_title"], Style(bold=True))]
    if environment:
        title += [(t["environment"], None), (environment, None)]
    if run_id:
        title += [(t["run"], None), (run_id, None)]
    headers = t["totals_headers"]
    head_styles = [Style(bold=True)] + [Style(fill=VERDICT_FILLS[v.value], bold=True) for v in Verdict]
    preamble = [
        title,
        [(h, s) for h, s in zip(headers, [*head_styles, Style(bold=True)], strict=True)],
        totals(t["before"], pre_rows),
        totals(t["after"], post_rows),
    ]
    _write_table(ws, _Table(DIFF_HEADER_ROW, list(t["diff_headers"]), rows), preamble)


def _add_history_sheet(wb: Workbook, remediation_rows: Sequence[RemediationRow], t: Mapping[str, Any]) -> None:
    ws = wb.create_sheet(t["history"])
    rows: list[tuple[list[Any], list[Style | None], int]] = []
    for r in remediation_rows:
        values = [
            r.resource_address,
            r.state.value,
            r.config_rule_name,
            r.runbook_name,
            r.automation_execution_id,
            r.approver,
            r.approved_at,
            r.started_at,
            r.finished_at,
            r.error_message,
            r.detected_at,
            r.exit_code,
        ]
        rows.append((values, [None, Style(fill=STATE_FILLS.get(r.state.value, YELLOW))], 0))
    _write_table(ws, _Table(1, list(t["history_headers"]), rows))


KPI_HEADER_ROW = 4


def _met_style(met: bool | None, number_format: str) -> Style:
    colour = YELLOW if met is None else (GREEN if met else RED)
    return Style(fill=colour, number_format=number_format)


def _add_kpi_sheet(wb: Workbook, kpis: Sequence[MonthlyKpi], t: Mapping[str, Any]) -> None:
    ws = wb.create_sheet(t["kpi"])
    rows: list[tuple[list[Any], list[Style | None], int]] = []
    pct, hours = Style(number_format=PERCENT_FORMAT), Style(number_format=HOURS_FORMAT)
    for k in kpis:
        values = [
            k.month,
            k.detections,
            k.attempted,
            k.verified,
            k.success_rate,
            SUCCESS_RATE_TARGET,
            k.mean_approval_hours,
            APPROVAL_HOURS_TARGET,
            k.approval_timeouts,
            k.manual,
            k.manual_rate,
            MANUAL_RATE_TARGET,
            k.mttr_hours,
        ]
        styles: list[Style | None] = [None, None, None, None, _met_style(k.success_met, PERCENT_FORMAT), pct]
        styles += [_met_style(k.approval_met, HOURS_FORMAT), hours, None, None]
        styles += [_met_style(k.manual_met, PERCENT_FORMAT), pct, hours]
        rows.append((values, styles, 0))
    preamble = [
        [(t["kpi_title"], Style(bold=True))],
        [(t["kpi_targets"].format(s=SUCCESS_RATE_TARGET, a=APPROVAL_HOURS_TARGET, m=MANUAL_RATE_TARGET), None)],
    ]
    table = _Table(KPI_HEADER_ROW, list(t["kpi_headers"]), rows)
    last = _write_table(ws, table, preamble)
    if kpis:
        _add_kpi_charts(ws, t, first=KPI_HEADER_ROW + 1, last=last)


def _line_chart(title: str, y_format: str | None = None, y_max: float | None = None) -> LineChart:
    chart = LineChart()
    chart.title = title
    chart.height, chart.width = 7.5, 16.0
    chart.x_axis.delete = False  # openpyxl >= 3.1 hides axes unless told otherwise
    chart.y_axis.delete = False
    chart.y_axis.scaling.min = 0
    if y_max is not None:
        chart.y_axis.scaling.max = y_max
    if y_format:
        chart.y_axis.number_format = y_format
    return chart


def _add_kpi_charts(ws: WriteOnlyWorksheet, t: Mapping[str, Any], first: int, last: int) -> None:
    """Native charts of the monthly trends, below the table (categories: the month column)."""
    months = Reference(ws, min_col=1, min_row=first, max_row=last)

    def series(chart: BarChart | LineChart, col: int) -> None:
        chart.add_data(Reference(ws, min_col=col, min_row=first - 1, max_row=last), titles_from_data=True)

    detections = BarChart()
    detections.title = t["chart_detections"]
    detections.height, detections.width = 7.5, 16.0
    detections.x_axis.delete = False
    detections.y_axis.delete = False
    series(detections, 2)

    success = _line_chart(t["chart_success"], PERCENT_FORMAT, 1.0)
    series(success, 5)
    series(success, 6)

    hours = _line_chart(t["chart_hours"])
    for col in (7, 8, 13):
        series(hours, col)

    manual = _line_chart(t["chart_manual"], PERCENT_FORMAT)
    series(manual, 11)
    series(manual, 12)

    anchor_row = last + 3
    for i, chart in enumerate((detections, success, hours, manual)):
        chart.set_categories(months)
        column = "A" if i % 2 == 0 else "J"
        ws.add_chart(chart, f"{column}{anchor_row + (i // 2) * 16}")


def _add_kpi_records_sheet(wb: Workbook, records: Sequence[HistoryRecord], t: Mapping[str, Any], tz: str) -> None:
    ws = wb.create_sheet(t["kpi_records"])
    rows: list[tuple[list[Any], list[Style | None], int]] = []
    for r in records:
        values = [
            month_of(r.detected_at, tz),
            r.environment,
            r.dag_run_id,
            r.item_key,
            r.resource_address,
            r.state.value,
            r.outcome.value,
            r.detected_at,
            r.approved_at,
            r.started_at,
            r.finished_at,
            r.approver,
            r.exit_code,
            r.recorded_at,
        ]
        outcome_fill = GREEN if r.outcome.value == "verified" else (YELLOW if r.outcome.value == "in_progress" else RED)
        rows.append((values, [None] * 6 + [Style(fill=outcome_fill)], 0))
    _write_table(ws, _Table(1, list(t["records_headers"]), rows))


# ------------------------------------------------------------------------------------------- public API


def _save(wb: Workbook, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    log.info("workbook written: %s", out)
    return out


def _workbook(title: str, subject: str | None) -> Workbook:
    wb = Workbook(write_only=True)
    wb.properties.creator = "drift-repair"
    wb.properties.title = title
    if subject:
        wb.properties.subject = subject
    return wb


def write_run_workbook(
    path: str | Path,
    *,
    design_values: Iterable[ExpectedValue],
    pre_rows: Iterable[DiffRow | Mapping[str, Any]],
    post_rows: Iterable[DiffRow | Mapping[str, Any]] = (),
    remediation_rows: Iterable[RemediationRow | Mapping[str, Any]] = (),
    kpis: Sequence[MonthlyKpi] = (),
    language: str = "ja",
    environment: str | None = None,
    run_id: str | None = None,
) -> Path:
    """The workbook of one run: parameter sheet, differences, remediation history, KPIs.

    Rows may be model objects or their ``to_dict`` forms (XCom). ``post_rows`` empty means no re-compare
    yet: the after-repair columns stay empty.
    """
    t = texts(language)
    wb = _workbook(t["diff_title"], " / ".join(x for x in (environment, run_id) if x))
    _add_parameter_sheet(wb, design_values, t)
    _add_diff_sheet(wb, _as_diff_rows(pre_rows), _as_diff_rows(post_rows), t, environment, run_id)
    rems = [r if isinstance(r, RemediationRow) else RemediationRow.from_dict(r) for r in remediation_rows]
    _add_history_sheet(wb, rems, t)
    _add_kpi_sheet(wb, list(kpis), t)
    return _save(wb, path)


def write_parameter_sheet(
    path: str | Path, design_values: Iterable[ExpectedValue], *, language: str = "ja", subject: str | None = None
) -> Path:
    """The parameter sheet alone (design review without any AWS access)."""
    t = texts(language)
    wb = _workbook(t["params"], subject)
    _add_parameter_sheet(wb, design_values, t)
    return _save(wb, path)


def write_kpi_workbook(
    path: str | Path,
    kpis: Sequence[MonthlyKpi],
    *,
    records: Sequence[HistoryRecord] = (),
    language: str = "ja",
    tz: str = "UTC",
    subject: str | None = None,
) -> Path:
    """The KPI workbook: the drift_kpi sheet with charts, and the (deduplicated) records behind it."""
    t = texts(language)
    wb = _workbook(t["kpi_title"], subject)
    _add_kpi_sheet(wb, list(kpis), t)
    _add_kpi_records_sheet(wb, list(records), t, tz)
    return _save(wb, path)
