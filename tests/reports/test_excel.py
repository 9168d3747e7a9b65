"""The run workbook, parameter sheet and KPI workbook, opened with openpyxl as a reader would."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.chart import BarChart, LineChart
from openpyxl.worksheet.worksheet import Worksheet

from drift_repair.core import compare, config_items, environment, mappings, terraform
from drift_repair.core.kpi import HistoryRecord, month_range, monthly_kpis
from drift_repair.core.models import DiffRow, ExpectedValue, RemediationRow, RemediationState, Verdict
from drift_repair.reports.excel import (
    DIFF_HEADER_ROW,
    GREEN,
    KPI_HEADER_ROW,
    RED,
    YELLOW,
    sheet_names,
    write_kpi_workbook,
    write_parameter_sheet,
    write_run_workbook,
)

REPO = Path(__file__).resolve().parents[2]
DEV = REPO / "include" / "environments" / "dev"
INJECTIONS = ["=cmd|' /C calc'!A0", "+1", "-1+2", "@SUM(1)", "\t=1", "\r=1"]
T0 = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)


@dataclass
class Estate:
    design: list[ExpectedValue]
    pre: list[DiffRow]
    post: list[DiffRow]
    remediations: list[RemediationRow]


@pytest.fixture(scope="module")
def estate() -> Estate:
    env = environment.load_environment("dev")
    doc = terraform.load(DEV / "plan.json")
    maps = mappings.load_mappings()
    actual = config_items.ActualIndex(config_items.load_snapshot(DEV / "config-snapshot.json"))
    pre = compare.detect(doc, maps, actual, env.context).rows
    # Tag values an attacker could set on a resource: they reach the sheet as actual values.
    pre += [
        DiffRow("aws_s3_bucket.evil", "aws_s3_bucket", f"tags.t{i}", "ok", value, Verdict.NG)
        for i, value in enumerate(INJECTIONS)
    ]
    pre.append(DiffRow("aws_s3_bucket.evil", "aws_s3_bucket", "tags.count", 1, -1, Verdict.NG))
    post = [replace(r, actual=r.expected, verdict=Verdict.OK) if r.verdict is Verdict.NG else r for r in pre]
    rems = [
        RemediationRow(
            resource_address="aws_db_instance.main",
            resource_id="db-60A03201B5C672FE1BCBC23BF4",
            config_rule_name="db-instance-backup-enabled",
            runbook_name="DriftRepair-RDS-EnableBackupRetention",
            state=RemediationState.VERIFIED,
            automation_execution_id="exec-1",
            approver="admin",
            detected_at=T0,
            approved_at=T0 + timedelta(hours=1),
            started_at=T0 + timedelta(hours=1),
            finished_at=T0 + timedelta(hours=2),
            exit_code=0,
        ),
        RemediationRow(
            resource_address="aws_kms_key.data",
            resource_id="key-1",
            config_rule_name="cmk-backing-key-rotation-enabled",
            runbook_name="DriftRepair-KMS-EnableKeyRotation",
            state=RemediationState.FAILED,
            error_message='=HYPERLINK("http://evil")',
            detected_at=T0,
            exit_code=1,
        ),
    ]
    return Estate(compare.design_values(compare.build_targets(doc, maps, env.context)), pre, post, rems)


def _kpis() -> list[Any]:
    records = [
        HistoryRecord(
            "dev",
            "r1",
            "a|rb",
            "a",
            RemediationState.VERIFIED,
            T0,
            T0,
            approved_at=T0 + timedelta(hours=2),
            finished_at=T0 + timedelta(hours=3),
        ),
        HistoryRecord("dev", "r1", "b|rb", "b", RemediationState.FAILED, T0, T0, approved_at=T0 + timedelta(hours=2)),
        HistoryRecord(
            "dev",
            "r0",
            "c|rb",
            "c",
            RemediationState.VERIFIED,
            T0 - timedelta(days=30),
            T0,
            approved_at=T0 - timedelta(days=30) + timedelta(hours=1),
        ),
    ]
    return monthly_kpis(records, months=month_range("2026-11", 3))


@pytest.fixture(scope="module")
def run_workbook(estate: Estate, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wb") / "run.xlsx"
    write_run_workbook(
        path,
        design_values=estate.design,
        pre_rows=estate.pre,
        post_rows=[r.to_dict() for r in estate.post],  # as it arrives through XCom
        remediation_rows=estate.remediations,
        kpis=_kpis(),
        environment="dev",
        run_id="scheduled__2026-11-02T18:00:00+00:00",
    )
    return path


def header(ws: Worksheet, row: int) -> list[Any]:
    return [c.value for c in ws[row] if c.value is not None]


def find_row(ws: Worksheet, first_row: int, **match: Any) -> tuple[Any, ...]:
    cols = {c.value: i for i, c in enumerate(ws[first_row - 1])}
    for row in ws.iter_rows(min_row=first_row):
        if all(row[cols[k]].value == v for k, v in match.items()):
            return row
    raise AssertionError(f"no row with {match}")


def test_sheet_names_in_japanese_and_english(estate: Estate, run_workbook: Path, tmp_path: Path) -> None:
    assert load_workbook(run_workbook).sheetnames == ["パラメーターシート", "差分一覧", "修復履歴", "drift_kpi"]
    en = write_run_workbook(tmp_path / "en.xlsx", design_values=estate.design, pre_rows=estate.pre, language="en")
    wb = load_workbook(en)
    assert wb.sheetnames == ["Parameter sheet", "Differences", "Remediation history", "drift_kpi"]
    assert header(wb["Differences"], DIFF_HEADER_ROW)[:5] == ["Resource", "Attribute", "Expected", "Actual", "Verdict"]
    assert list(sheet_names("en").values()) == wb.sheetnames
    with pytest.raises(ValueError, match="ja, en"):
        sheet_names("fr")


def test_parameter_sheet_groups_design_values_by_resource(estate: Estate, run_workbook: Path) -> None:
    ws = load_workbook(run_workbook)["パラメーターシート"]
    assert header(ws, 1) == ["リソースアドレス", "リソースタイプ", "リソースID", "属性", "期待値", "出典"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:F{ws.max_row}"
    # One heading row per resource, then its attributes one outline level down (collapsible).
    resources = {v.resource_address for v in estate.design}
    assert ws.max_row == 1 + len(resources) + len(estate.design)
    rds = sum(v.resource_address == "aws_db_instance.main" for v in estate.design)
    heading = find_row(ws, 2, リソースアドレス="aws_db_instance.main", 属性=f"{rds} 属性")
    assert heading[0].font.b and ws.row_dimensions[heading[0].row].outlineLevel == 0
    retention = find_row(ws, 2, リソースアドレス="aws_db_instance.main", 属性="backup_retention_period")
    assert retention[2].value == "db-60A03201B5C672FE1BCBC23BF4"  # the AWS id auditors look up
    assert retention[4].value == 7 and retention[4].data_type == "n"
    assert ws.row_dimensions[retention[0].row].outlineLevel == 1
    assert ws.sheet_properties.outlinePr.summaryBelow is False
    # An explicitly empty designed value is visible as "" rather than a blank cell.
    kms_id = find_row(ws, 2, 属性="sse_kms_key_id")
    assert kms_id[4].value == '""'


def test_column_widths_fit_the_content(run_workbook: Path) -> None:
    ws = load_workbook(run_workbook)["パラメーターシート"]
    # Long resource addresses: capped at 60; the source column fits 'plan:resource_changes.after' (27 + 2).
    assert ws.column_dimensions["A"].width == 60
    assert ws.column_dimensions["F"].width == 29


def test_diff_sheet_has_totals_on_top_verdict_colours_and_post_values(estate: Estate, run_workbook: Path) -> None:
    ws = load_workbook(run_workbook)["差分一覧"]
    assert [c.value for c in ws[2]][:5] == [None, "OK", "NG", "UNKNOWN", "合計"]
    # Before: the example estate's verdicts (7 of the NG are the injected rows); after: every NG repaired.
    ok, ng, unknown = (sum(r.verdict is v for r in estate.pre) for v in (Verdict.OK, Verdict.NG, Verdict.UNKNOWN))
    assert ng >= 7 + 1 and unknown >= 1
    total = len(estate.pre)
    assert [c.value for c in ws[3]][:5] == ["修復前", ok, ng, unknown, total]
    assert [c.value for c in ws[4]][:5] == ["修復後", ok + ng, 0, unknown, total]
    assert ws["B1"].value == "環境" and ws["C1"].value == "dev"
    assert header(ws, DIFF_HEADER_ROW) == [
        "リソース",
        "属性",
        "期待値",
        "現状値",
        "判定",
        "修復後の値",
        "修復後判定",
        "理由",
    ]
    assert ws.freeze_panes == f"A{DIFF_HEADER_ROW + 1}"
    assert ws.auto_filter.ref == f"A{DIFF_HEADER_ROW}:H{DIFF_HEADER_ROW + len(estate.pre)}"

    first = DIFF_HEADER_ROW + 1
    versioning = find_row(ws, first, リソース='module.storage.aws_s3_bucket_versioning.this["logs"]', 属性="versioning")
    values = [c.value for c in versioning]
    assert values[2:7] == ["Enabled", "Disabled", "NG", "Enabled", "OK"]
    assert versioning[4].fill.fgColor.rgb == RED
    assert versioning[6].fill.fgColor.rgb == GREEN
    unknown = find_row(ws, first, リソース="aws_s3_bucket_versioning.reports")
    assert unknown[4].value == "UNKNOWN" and unknown[4].fill.fgColor.rgb == YELLOW
    assert unknown[7].value == "resource id known only after apply"
    assert ws["C2"].fill.fgColor.rgb == RED and ws["B2"].fill.fgColor.rgb == GREEN


def test_values_from_aws_that_look_like_formulas_are_text(run_workbook: Path) -> None:
    wb = load_workbook(run_workbook)
    ws = wb["差分一覧"]
    for i, value in enumerate(INJECTIONS):
        cell = find_row(ws, DIFF_HEADER_ROW + 1, 属性=f"tags.t{i}")[3]
        assert cell.value == value
        assert cell.data_type == "s", value  # never "f" (formula)
        assert cell.quotePrefix, value  # stays text when edited in Excel
    number = find_row(ws, DIFF_HEADER_ROW + 1, 属性="tags.count")[3]
    assert number.value == -1 and number.data_type == "n" and not number.quotePrefix
    error = find_row(wb["修復履歴"], 2, 状態="FAILED")[9]
    assert error.value == '=HYPERLINK("http://evil")' and error.data_type == "s"
    for sheet in wb:
        for row in sheet.iter_rows():
            assert all(c.data_type != "f" for c in row), sheet.title


def test_remediation_history_sheet(run_workbook: Path) -> None:
    ws = load_workbook(run_workbook)["修復履歴"]
    assert header(ws, 1)[:7] == ["リソース", "状態", "Configルール", "ランブック", "実行ID", "承認者", "承認日時 (UTC)"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:L3"
    row = find_row(ws, 2, 状態="VERIFIED")
    assert [c.value for c in row][:6] == [
        "aws_db_instance.main",
        "VERIFIED",
        "db-instance-backup-enabled",
        "DriftRepair-RDS-EnableBackupRetention",
        "exec-1",
        "admin",
    ]
    assert row[6].value == datetime(2026, 11, 2, 19, 0)  # approved, UTC wall time
    assert row[6].is_date and row[6].number_format == "yyyy-mm-dd hh:mm:ss"
    assert row[1].fill.fgColor.rgb == GREEN
    assert find_row(ws, 2, 状態="FAILED")[1].fill.fgColor.rgb == RED


def test_kpi_sheet_has_targets_colours_and_native_charts(run_workbook: Path) -> None:
    ws = load_workbook(run_workbook)["drift_kpi"]
    head = header(ws, KPI_HEADER_ROW)
    assert head[:5] == ["月", "ドリフト検知数", "修復実行数", "修復成功数", "修復成功率"]
    assert ws.freeze_panes == f"A{KPI_HEADER_ROW + 1}"
    months = [ws.cell(row=r, column=1).value for r in range(KPI_HEADER_ROW + 1, KPI_HEADER_ROW + 4)]
    assert months == ["2026-09", "2026-10", "2026-11"]
    nov = ws[KPI_HEADER_ROW + 3]
    col = {name: i for i, name in enumerate(head)}
    assert nov[col["ドリフト検知数"]].value == 2
    assert nov[col["修復成功率"]].value == 0.5  # 1 verified of 2 attempted
    assert nov[col["修復成功率"]].number_format == "0.0%"
    assert nov[col["修復成功率"]].fill.fgColor.rgb == RED  # below 95 %
    assert nov[col["平均承認時間 (h)"]].value == 2 and nov[col["平均承認時間 (h)"]].fill.fgColor.rgb == GREEN
    sep = ws[KPI_HEADER_ROW + 1]
    assert sep[col["修復成功率"]].value is None and sep[col["修復成功率"]].fill.fgColor.rgb == YELLOW  # no data
    charts = ws._charts
    assert len(charts) == 4
    assert sum(isinstance(c, BarChart) for c in charts) == 1 and sum(isinstance(c, LineChart) for c in charts) == 3
    refs = [s.val.numRef.f for c in charts for s in c.series]
    assert f"'drift_kpi'!$E${KPI_HEADER_ROW + 1}:$E${KPI_HEADER_ROW + 3}" in refs  # success rate series


def test_parameter_sheet_alone_and_kpi_workbook(estate: Estate, tmp_path: Path) -> None:
    path = write_parameter_sheet(tmp_path / "params.xlsx", estate.design, language="en")
    wb = load_workbook(path)
    assert wb.sheetnames == ["Parameter sheet"]
    assert header(wb["Parameter sheet"], 1) == [
        "Resource address",
        "Resource type",
        "Resource ID",
        "Attribute",
        "Expected value",
        "Source",
    ]

    records = [HistoryRecord("dev", "r1", "a|rb", "a", RemediationState.VERIFIED, T0, T0)]
    kpi_path = write_kpi_workbook(tmp_path / "kpi.xlsx", monthly_kpis(records), records=records)
    kwb = load_workbook(kpi_path)
    assert kwb.sheetnames == ["drift_kpi", "KPI明細"]
    assert len(kwb["drift_kpi"]._charts) == 4
    detail = kwb["KPI明細"]
    assert [c.value for c in detail[2]][:7] == ["2026-11", "dev", "r1", "a|rb", "a", "VERIFIED", "verified"]
    assert detail[2][6].fill.fgColor.rgb == GREEN


def test_workbook_without_kpis_or_remediations_still_opens(estate: Estate, tmp_path: Path) -> None:
    path = write_run_workbook(tmp_path / "empty.xlsx", design_values=[], pre_rows=[])
    wb = load_workbook(path)
    assert wb["drift_kpi"]._charts == []
    assert [c.value for c in wb["差分一覧"][3]][:5] == ["修復前", 0, 0, 0, 0]
