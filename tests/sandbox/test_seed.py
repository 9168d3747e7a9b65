"""python -m sandbox seed: the designed estate in the sandbox, then detection gives 0 NG, or exactly N."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drift_repair.core.environment import load_environment
from drift_repair.core.models import Verdict
from sandbox import seed
from tests.conftest import REPO

pytestmark = pytest.mark.sandbox


def _args(sandbox: Any, out: Path, drift: int = 0, attributes: str = "", env: str = "dev") -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    seed.add_arguments(parser)
    argv = ["--env", env, "--endpoint", sandbox.url, "--out", str(out), "--drift", str(drift), "--json"]
    if attributes:
        argv += ["--drift-attributes", attributes]
    return parser.parse_args(argv)


def _seed(sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], **kwargs: Any) -> dict[str, Any]:
    assert seed.run(_args(sandbox, tmp_path / "plan.json", **kwargs)) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def _ng(sandbox: Any, summary: dict[str, Any], env: str = "dev") -> list[tuple[str, str]]:
    result = seed.detect(sandbox.url, load_environment(env), summary["plan"])
    unknown = [r for r in result.rows if r.verdict is Verdict.UNKNOWN]
    # the only UNKNOWN: the bucket the plan is about to create (its versioning has no id yet)
    assert [(r.resource_address, r.reason) for r in unknown] == [
        ("aws_s3_bucket_versioning.reports", "resource id known only after apply")
    ]
    return sorted((r.resource_address, r.attribute) for r in result.rows if r.verdict is Verdict.NG)


def test_seeded_estate_is_as_designed(sb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = _seed(sb, tmp_path, capsys)
    assert summary["drifted"] == [] and summary["resources"] >= 20
    assert _ng(sb, summary) == []
    # the plan copy names the sandbox's ids: the instances it lists exist
    plan = json.loads(Path(summary["plan"]).read_text(encoding="utf-8"))
    instance_ids = {rc["change"]["after"]["id"] for rc in plan["resource_changes"] if rc["type"] == "aws_instance"}
    running = {i["InstanceId"] for r in sb.client("ec2").describe_instances()["Reservations"] for i in r["Instances"]}
    assert instance_ids and instance_ids <= running
    # Config is on, with the mappings' rules and remediation configurations
    config = sb.client("config")
    status = config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"][0]
    assert status["recording"] is True
    remediations = config.describe_remediation_configurations(ConfigRuleNames=summary["config_rules"])
    by_rule = {r["ConfigRuleName"]: r for r in remediations["RemediationConfigurations"]}
    versioning = by_rule["s3-bucket-versioning-enabled"]
    assert versioning["TargetId"] == "DriftRepair-S3-EnableVersioning"
    assert versioning["Parameters"]["BucketName"] == {"ResourceValue": {"Value": "RESOURCE_ID"}}
    assert versioning["Parameters"]["AutomationAssumeRole"]["StaticValue"]["Values"] == [
        "arn:aws:iam::123456789012:role/drift-repair-automation-dev"
    ]


def test_drift_n_gives_exactly_n_ng(sb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = _seed(sb, tmp_path, capsys, drift=5)
    drifted = sorted((d["address"], d["attribute"]) for d in summary["drifted"])
    assert len(drifted) == 5
    assert len({d["config_resource_type"] for d in summary["drifted"]}) == 5  # one per resource type first
    assert _ng(sb, summary) == drifted


def test_named_drift_attributes(sb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = _seed(
        sb, tmp_path, capsys, attributes='enabled,module.storage.aws_s3_bucket_versioning.this["data"]@versioning'
    )
    assert [(d["address"], d["attribute"]) for d in summary["drifted"]] == [
        ("aws_ebs_encryption_by_default.this", "enabled"),
        ('module.storage.aws_s3_bucket_versioning.this["data"]', "versioning"),
    ]
    assert _ng(sb, summary) == sorted(
        [
            ("aws_ebs_encryption_by_default.this", "enabled"),
            ('module.storage.aws_s3_bucket_versioning.this["data"]', "versioning"),
        ]
    )
    # the account-level setting is read off its rule, re-run by the seed after the change
    results = sb.client("config").get_compliance_details_by_config_rule(ConfigRuleName="ec2-ebs-encryption-by-default")
    assert results["EvaluationResults"][0]["ComplianceType"] == "NON_COMPLIANT"


def test_another_account_seeds_into_its_own_account(
    sb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = _seed(sb, tmp_path, capsys, env="stg", drift=1)
    assert len(_ng(sb, summary, env="stg")) == 1
    stg_config = sb.client("config", aws_access_key_id="234567890123")
    assert stg_config.describe_config_rules()["ConfigRules"]
    assert sb.client("config").describe_config_rules()["ConfigRules"] == []  # the default account is untouched


def test_command_line_prints_what_it_drifted(sb: Any, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "seed",
            "--env",
            "dev",
            "--endpoint",
            sb.url,
            "--out",
            str(out),
            "--drift",
            "2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}"},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == f"plan with the sandbox's ids: {out}"
    assert sum(line.startswith("drifted ") for line in lines) == 2
    sb.reset()
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "sandbox",
            "seed",
            "--env",
            "dev",
            "--endpoint",
            sb.url,
            "--out",
            str(out),
            "--drift-attributes",
            "nope",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}"},
    )
    assert bad.returncode != 0 and "cannot drift 'nope'" in bad.stderr
