from __future__ import annotations

import uuid
from typing import Any

import pytest

from drift_repair.core.mappings import load_mappings
from drift_repair.core.models import DiffRow, RemediationState, Verdict
from drift_repair.core.remediation import (
    EXIT_APPROVAL_TIMEOUT,
    EXIT_FAILED,
    EXIT_ROLLBACK_FAILED,
    EXIT_ROLLED_BACK,
    EXIT_VERIFIED,
    FAILURE_STATUSES,
    RUNNING_STATUSES,
    ParameterError,
    RemediationItem,
    client_token,
    execution_outcome,
    plan_remediations,
    resolve_parameters,
    validate_parameters,
)

MAPPINGS = load_mappings()
ROLE = "arn:aws:iam::123456789012:role/drift-repair-automation"


def row(
    address: str,
    rid: str,
    attribute: str,
    rule: str | None,
    verdict: Verdict = Verdict.NG,
    ctype: str = "AWS::S3::Bucket",
) -> DiffRow:
    return DiffRow(
        resource_address=address,
        resource_type=address.split(".")[-2],
        attribute=attribute,
        expected=True,
        actual=False,
        verdict=verdict,
        resource_id=rid,
        config_resource_type=ctype,
        config_rule=rule,
    )


def config(rule: str, runbook: str, resource_param: str, **static: str) -> dict[str, Any]:
    params: dict[str, Any] = {
        resource_param: {"ResourceValue": {"Value": "RESOURCE_ID"}},
        "AutomationAssumeRole": {"StaticValue": {"Values": [ROLE]}},
    }
    params.update({k: {"StaticValue": {"Values": [v]}} for k, v in static.items()})
    return {
        "ConfigRuleName": rule,
        "TargetType": "SSM_DOCUMENT",
        "TargetId": runbook,
        "TargetVersion": "1",
        "Parameters": params,
        "Automatic": False,
    }


CONFIGS = {
    "s3-bucket-level-public-access-prohibited": config(
        "s3-bucket-level-public-access-prohibited", "DriftRepair-S3-BlockPublicAccess", "BucketName"
    ),
    "db-instance-backup-enabled": config(
        "db-instance-backup-enabled",
        "DriftRepair-RDS-EnableBackupRetention",
        "DbiResourceId",
        BackupRetentionPeriod="7",
    ),
}
PAB = "aws_s3_bucket_public_access_block.b"


def plan(rows: list[DiffRow], **kwargs: Any) -> Any:
    return plan_remediations(
        rows,
        MAPPINGS,
        kwargs.pop("configs", CONFIGS),
        kwargs.pop("design", {}),
        dag_id="drift_repair__dev",
        run_id="manual__1",
        **kwargs,
    )


def test_attributes_of_one_rule_on_one_resource_are_one_item() -> None:
    rows = [
        row(PAB, "bucket-a", a, "s3-bucket-level-public-access-prohibited")
        for a in ("block_public_acls", "block_public_policy")
    ]
    result = plan(rows)
    assert len(result.items) == 1
    item = result.items[0]
    assert item.attributes == ("block_public_acls", "block_public_policy")
    assert item.parameters == {"BucketName": ["bucket-a"], "AutomationAssumeRole": [ROLE]}
    assert item.runbook == "DriftRepair-S3-BlockPublicAccess"
    assert result.manual == []


def test_designed_value_overrides_the_static_default() -> None:
    rows = [
        row(
            "aws_db_instance.main",
            "db-ABC",
            "backup_retention_period",
            "db-instance-backup-enabled",
            ctype="AWS::RDS::DBInstance",
        )
    ]
    item = plan(rows, design={("db-ABC", "backup_retention_period"): 14}).items[0]
    assert item.parameters["BackupRetentionPeriod"] == ["14"]
    assert item.parameters["DbiResourceId"] == ["db-ABC"]


def test_manual_list_says_why() -> None:
    rows = [
        row("aws_instance.web", "i-0123456789abcdef0", "instance_type", None, ctype="AWS::EC2::Instance"),
        row(
            "aws_kms_key.k",
            "11111111-2222-3333-4444-555555555555",
            "enable_key_rotation",
            "cmk-backing-key-rotation-enabled",
            ctype="AWS::KMS::Key",
        ),
    ]
    manual = {m.resource_address: m.reason for m in plan(rows).manual}
    assert manual["aws_instance.web"] == "no runbook repairs this attribute"
    assert "no remediation configuration for Config rule cmk-backing-key-rotation-enabled" in manual["aws_kms_key.k"]


def test_automatic_remediation_configurations_are_refused() -> None:
    configs = {k: {**v, "Automatic": True} for k, v in CONFIGS.items()}
    result = plan(
        [row(PAB, "bucket-a", "block_public_acls", "s3-bucket-level-public-access-prohibited")], configs=configs
    )
    assert result.items == []
    assert "requires automatic = false" in result.manual[0].reason


def test_unsafe_resource_ids_never_reach_aws() -> None:
    result = plan([row(PAB, "Bad Bucket; rm -rf", "block_public_acls", "s3-bucket-level-public-access-prohibited")])
    assert result.items == []
    assert "is not a valid AWS::S3::Bucket id" in result.manual[0].reason


def test_filter_limit_and_guard() -> None:
    rows = [
        row(f"{PAB}{i}", f"bucket-{i}", "block_public_acls", "s3-bucket-level-public-access-prohibited")
        for i in range(4)
    ]
    result = plan(
        rows,
        resource_filter="bucket-1,bucket-2,bucket-3",
        max_remediations=1,
        guard=lambda item: "loop guard: cooldown" if item.resource_id == "bucket-3" else None,
    )
    assert [i.resource_id for i in result.items] == ["bucket-1"]
    assert result.filtered_out == [f"{PAB}0"]
    reasons = {m.resource_id: m.reason for m in result.manual}
    assert reasons == {"bucket-2": "over max_remediations (1) for this run", "bucket-3": "loop guard: cooldown"}


def test_ok_and_unknown_rows_are_never_planned() -> None:
    rows = [
        row(PAB, "bucket-a", "block_public_acls", "s3-bucket-level-public-access-prohibited", Verdict.OK),
        row(PAB, "bucket-a", "ignore_public_acls", "s3-bucket-level-public-access-prohibited", Verdict.UNKNOWN),
    ]
    result = plan(rows)
    assert result.items == [] and result.manual == []


def test_client_token_is_a_stable_uuid_per_run_resource_runbook() -> None:
    a = client_token("d", "run1", "bucket-a", "R")
    assert a == client_token("d", "run1", "bucket-a", "R")
    assert a != client_token("d", "run2", "bucket-a", "R")
    assert uuid.UUID(a).version == 5


def test_item_round_trip_and_validation() -> None:
    item = plan([row(PAB, "bucket-a", "block_public_acls", "s3-bucket-level-public-access-prohibited")]).items[0]
    assert RemediationItem.from_dict({**item.to_dict(), "poll_seconds": 9}) == item
    bad = RemediationItem.from_dict({**item.to_dict(), "parameters": {"BucketName": ["a\x00b"]}})
    with pytest.raises(ParameterError, match="unsafe value"):
        validate_parameters(bad)


def test_resolve_parameters_refuses_unknown_shapes() -> None:
    with pytest.raises(ParameterError):
        resolve_parameters({"Parameters": {"X": {"ResourceValue": {"Value": "OTHER"}}}}, "r")


def step(name: str, action: str, status: str) -> dict[str, str]:
    return {"StepName": name, "Action": action, "StepStatus": status}


@pytest.mark.parametrize(
    ("status", "steps", "state", "code"),
    [
        (
            "Success",
            [
                step("Approve", "aws:approve", "Success"),
                step("Change", "aws:executeAwsApi", "Success"),
                step("Rollback", "aws:executeScript", "Pending"),
            ],
            RemediationState.EXECUTING,
            EXIT_VERIFIED,
        ),
        (
            "Failed",
            [step("Change", "aws:executeAwsApi", "Failed"), step("Rollback", "aws:executeScript", "Success")],
            RemediationState.ROLLED_BACK,
            EXIT_ROLLED_BACK,
        ),
        (
            "Failed",
            [step("Change", "aws:executeAwsApi", "Failed"), step("RollbackChange", "aws:executeScript", "Failed")],
            RemediationState.FAILED,
            EXIT_ROLLBACK_FAILED,
        ),
        ("TimedOut", [step("Approve", "aws:approve", "TimedOut")], RemediationState.FAILED, EXIT_APPROVAL_TIMEOUT),
        ("Failed", [step("Change", "aws:executeAwsApi", "Failed")], RemediationState.FAILED, EXIT_FAILED),
        ("Cancelled", [step("Approve", "aws:approve", "Cancelled")], RemediationState.FAILED, EXIT_FAILED),
    ],
)
def test_execution_outcomes(status: str, steps: list[dict[str, str]], state: RemediationState, code: int) -> None:
    outcome = execution_outcome(
        {"AutomationExecutionStatus": status, "StepExecutions": steps, "FailureMessage": "boom"}
    )
    assert (outcome.state, outcome.exit_code) == (state, code)


@pytest.mark.parametrize("status", RUNNING_STATUSES)
def test_running_executions_have_no_outcome(status: str) -> None:
    with pytest.raises(ValueError, match="not finished"):
        execution_outcome({"AutomationExecutionStatus": status})


@pytest.mark.parametrize("status", FAILURE_STATUSES)
def test_every_failure_status_is_a_failure(status: str) -> None:
    assert execution_outcome({"AutomationExecutionStatus": status}).exit_code != EXIT_VERIFIED
