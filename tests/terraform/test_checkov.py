"""checkov over include/terraform must report zero failed checks (skips only in include/terraform/.checkov.yaml).

checkov lives in its own virtual environment (`make checkov` creates .venv-checkov from the pinned
requirements-checkov.txt on first use, about a minute; later runs take seconds): its pins conflict with Airflow's.
"""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.terraform.engine import REPO, TERRAFORM_DIR


@pytest.mark.timeout(900)
def test_checkov_reports_no_failed_check() -> None:
    proc = subprocess.run(["make", "-s", "checkov"], cwd=REPO, capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    summary = re.search(r"Passed checks: (\d+), Failed checks: (\d+)", output)
    assert summary, output
    assert int(summary.group(1)) > 0
    assert int(summary.group(2)) == 0


def test_every_skipped_check_has_its_reason_in_the_one_config_file() -> None:
    config_path = TERRAFORM_DIR / ".checkov.yaml"
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    lines = config_path.read_text(encoding="utf-8").splitlines()
    for check_id in config["skip-check"]:
        index = lines.index(f"  - {check_id}")
        assert lines[index - 1].lstrip().startswith("#"), f"{check_id} has no reason above it"
    inline = [p for p in TERRAFORM_DIR.rglob("*.tf") if "checkov:skip" in p.read_text(encoding="utf-8")]
    assert inline == [], "skips belong in include/terraform/.checkov.yaml"
