from __future__ import annotations

from drift_repair.core.environment import load_environment
from drift_repair.core.models import DiffRow, Verdict
from drift_repair.reports.approval import MAX_ROWS, approval_body

ENV = load_environment("dev")


def row(i: int, verdict: Verdict = Verdict.NG) -> DiffRow:
    return DiffRow(
        f"aws_s3_bucket_versioning.b{i}",
        "aws_s3_bucket_versioning",
        "versioning",
        "Enabled",
        "Disabled",
        verdict,
        resource_id=f"bucket-{i}",
    )


def test_body_shows_drift_runbooks_and_manual_items_with_their_reasons() -> None:
    plan = {
        "items": [
            {
                "resource_id": "bucket-1",
                "config_rule": "s3-bucket-versioning-enabled",
                "runbook": "DriftRepair-S3-EnableVersioning",
                "attributes": ["versioning"],
            }
        ],
        "manual": [
            {
                "resource_address": "aws_instance.web",
                "attributes": ["instance_type"],
                "reason": "no runbook repairs this attribute",
            }
        ],
    }
    body = approval_body(ENV, [row(1), row(2, Verdict.OK)], plan, "manual__1", "drift_repair__dev", "CHG-1|x")
    assert "**1 drifted attributes** in `dev`" in body
    assert "| `aws_s3_bucket_versioning.b1` | versioning | Enabled | Disabled |" in body
    assert "b2" not in body  # OK rows are not asked about
    assert "| `bucket-1` | s3-bucket-versioning-enabled | DriftRepair-S3-EnableVersioning | versioning |" in body
    assert "`aws_instance.web` instance_type: no runbook repairs this attribute" in body
    assert "Change ticket: **CHG-1\\|x**" in body  # table-breaking characters are escaped


def test_long_lists_are_cut() -> None:
    body = approval_body(ENV, [row(i) for i in range(MAX_ROWS + 7)], {"items": [], "manual": []}, "r", "d")
    assert "… and 7 more" in body
    assert body.count("| versioning |") == MAX_ROWS
