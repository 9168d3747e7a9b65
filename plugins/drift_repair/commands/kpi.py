"""``kpi``: the monthly KPIs from the KPI history, printed, and optionally the KPI workbook."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from drift_repair.core.environment import REPO_ROOT, load_environment
from drift_repair.core.kpi import (
    APPROVAL_HOURS_TARGET,
    MANUAL_RATE_TARGET,
    SUCCESS_RATE_TARGET,
    MonthlyKpi,
    month_of,
    month_range,
    monthly_kpis,
    parse_month,
)

DEFAULT_EVIDENCE_DIR = "var/evidence"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "kpi",
        help="print the monthly KPIs and write the KPI workbook",
        description="KPIs of a month from the append-only KPI history (re-runs of a DAG run count once).",
    )
    parser.add_argument("--month", help="YYYY-MM (default: the current month in --tz)")
    parser.add_argument(
        "--history",
        help="history file (JSON lines) or s3://bucket/kpi-history/[env/] "
        "(default: <evidence dir of --env, else var/evidence>/kpi-history.jsonl)",
    )
    parser.add_argument("--env", help="only this environment's records; its evidence dir is the default history")
    parser.add_argument("-o", "--output", help="write the KPI workbook (.xlsx) here")
    parser.add_argument("--months", type=int, default=12, help="trend window in the workbook (default 12)")
    parser.add_argument("--tz", default="UTC", help="time zone that decides a record's month (default UTC)")
    parser.add_argument("--lang", choices=("ja", "en"), help="workbook language (default: the environment's, else ja)")
    parser.add_argument("--json", action="store_true", help="print the month's KPIs as JSON")
    parser.add_argument("--endpoint-url", help="S3 endpoint for an s3:// history (e.g. the sandbox)")
    parser.add_argument("--region", help="AWS region for an s3:// history")
    parser.set_defaults(func=run)


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if kind == "pct" else f"{value:.2f} h"


def _met(met: bool | None) -> str:
    return {None: "no data", True: "met", False: "MISSED"}[met]


def render(k: MonthlyKpi) -> str:
    """The month's KPIs as a short text table."""
    rows = [
        ("drift detections", str(k.detections), ""),
        (
            "remediation success rate",
            f"{_fmt(k.success_rate, 'pct')} ({k.verified}/{k.attempted})",
            f"target >= {SUCCESS_RATE_TARGET:.0%}: {_met(k.success_met)}",
        ),
        (
            "mean approval time",
            f"{_fmt(k.mean_approval_hours, 'h')} ({k.approvals} approvals)",
            f"target <= {APPROVAL_HOURS_TARGET:g} h: {_met(k.approval_met)}",
        ),
        (
            "manual intervention rate",
            f"{_fmt(k.manual_rate, 'pct')} ({k.manual}/{k.decided})",
            f"target <= {MANUAL_RATE_TARGET:.0%}: {_met(k.manual_met)}",
        ),
        ("mean time to repair", f"{_fmt(k.mttr_hours, 'h')} ({k.repaired} repaired)", ""),
        ("approval timeouts", str(k.approval_timeouts), ""),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"KPIs {k.month}"]
    lines += [f"  {name:<{width}}  {value:<24} {note}".rstrip() for name, value, note in rows]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from drift_repair.reports.history import HISTORY_FILE, read_history  # noqa: PLC0415

    env = load_environment(args.env) if args.env else None
    month = args.month or datetime.now(UTC).strftime("%Y-%m")
    parse_month(month)
    source = args.history
    if source is None:
        evidence_dir = env.resolve(env.evidence_dir) if env else str(REPO_ROOT / DEFAULT_EVIDENCE_DIR)
        source = str(Path(str(evidence_dir)) / HISTORY_FILE)
    records = read_history(source, endpoint_url=args.endpoint_url, region_name=args.region)
    name = env.name if env else None
    window = month_range(month, max(args.months, 1))
    kpis = monthly_kpis(records, months=window, tz=args.tz, environment=name)
    current = kpis[-1]
    if args.json:
        sys.stdout.write(json.dumps(current.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(render(current) + "\n")
    if args.output:
        from drift_repair.reports.excel import write_kpi_workbook  # noqa: PLC0415

        shown = [
            r for r in records if month_of(r.detected_at, args.tz) in window and (name is None or r.environment == name)
        ]
        language = args.lang or (env.report_language if env else "ja")
        out = write_kpi_workbook(args.output, kpis, records=shown, language=language, tz=args.tz, subject=source)
        sys.stderr.write(f"wrote {out}\n")
    return 0
