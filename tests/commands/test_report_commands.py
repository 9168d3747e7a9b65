"""The sheet and kpi commands, run as a user runs them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from drift_repair.cli import main
from drift_repair.core.models import RemediationRow, RemediationState
from drift_repair.reports.history import append_history, records_for_run

REPO = Path(__file__).resolve().parents[2]
PLAN = REPO / "include" / "environments" / "dev" / "plan.json"
T0 = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)


def test_sheet_writes_the_parameter_sheet_without_aws(tmp_path: Path) -> None:
    out = tmp_path / "params.xlsx"
    # A subprocess with no AWS endpoint reachable at all: the sheet needs none.
    env = {
        "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "drift_repair", "sheet", "--plan", str(PLAN), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"wrote .*params\.xlsx: \d+ attributes of \d+ resources", proc.stderr)
    wb = load_workbook(out)
    assert wb.sheetnames == ["パラメーターシート"]
    ids = [row[3] for row in wb["パラメーターシート"].iter_rows(min_row=2, values_only=True)]
    assert "backup_retention_period" in ids


def test_sheet_in_english_for_an_environment(tmp_path: Path) -> None:
    out = tmp_path / "params-en.xlsx"
    assert main(["sheet", "--plan", str(PLAN), "-o", str(out), "--env", "dev", "--lang", "en"]) == 0
    assert load_workbook(out).sheetnames == ["Parameter sheet"]


def test_sheet_reports_a_missing_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sheet", "--plan", str(tmp_path / "nope.json"), "-o", str(tmp_path / "x.xlsx")]) == 1
    assert "nope.json: file not found" in capsys.readouterr().err


def history(tmp_path: Path) -> Path:
    path = tmp_path / "kpi-history.jsonl"
    rows = [
        RemediationRow(
            resource_address=f"r{i}",
            resource_id=f"r{i}",
            config_rule_name=None,
            runbook_name="rb",
            state=RemediationState.VERIFIED if i < 3 else RemediationState.FAILED,
            detected_at=T0,
            approved_at=T0 + timedelta(hours=2),
            started_at=T0 + timedelta(hours=2),
            finished_at=T0 + timedelta(hours=4),
        )
        for i in range(4)
    ]
    records = records_for_run(rows, environment="dev", dag_run_id="run-1", recorded_at=T0 + timedelta(hours=5))
    append_history(records, path=path)
    append_history(records, path=path)  # the report task ran twice
    return path


def test_kpi_prints_the_month_and_writes_the_workbook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "kpi.xlsx"
    assert main(["kpi", "--month", "2026-11", "--history", str(history(tmp_path)), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    # 4 items counted once each; 3 of 4 verified; one approval after 2 h; 1 of 4 needed a human; 4 h to repair.
    assert "drift detections          4" in printed
    assert "75.0% (3/4)" in printed and "target >= 95%: MISSED" in printed
    assert "2.00 h (1 approvals)" in printed and "target <= 4 h: met" in printed
    assert "25.0% (1/4)" in printed
    assert "4.00 h (3 repaired)" in printed
    wb = load_workbook(out)
    assert wb.sheetnames == ["drift_kpi", "KPI明細"]
    ws = wb["drift_kpi"]
    assert ws.cell(row=5, column=1).value == "2025-12" and ws.cell(row=16, column=1).value == "2026-11"
    assert ws.cell(row=16, column=2).value == 4
    assert len(ws._charts) == 4
    assert wb["KPI明細"].max_row == 5  # header + 4 deduplicated records


def test_kpi_as_json_from_s3(sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    s3 = sandbox.client("s3")
    bucket = f"kpi-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    s3.put_object(Bucket=bucket, Key="kpi-history/dev/2026/11/run-1.jsonl", Body=history(tmp_path).read_bytes())
    url = f"s3://{bucket}/kpi-history/"
    assert main(["kpi", "--month", "2026-11", "--history", url, "--endpoint-url", sandbox.url, "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["detections"] == 4 and figures["success_rate"] == 0.75 and figures["success_met"] is False


def test_kpi_rejects_a_malformed_month(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        main(["kpi", "--month", "11/2026", "--history", str(history(tmp_path))])
