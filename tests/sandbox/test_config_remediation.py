"""Config remediation: configurations, executions and their status, with an SSM engine the test controls.

These run against the sandbox application served from the test process (``local_sandbox``), so that the
fake engine sits where sandbox/ssm's engine does: ``app.services["ssm_automation"]``.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from config_support import Clients, FakeAutomationEngine, LocalSandbox

pytestmark = pytest.mark.sandbox

RULE = "s3-bucket-versioning-enabled"
RUNBOOK = "DriftRepair-S3-EnableVersioning"


def configure(aws: Clients, document: str = RUNBOOK) -> None:
    aws.config.put_config_rule(
        ConfigRule={
            "ConfigRuleName": RULE,
            "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_VERSIONING_ENABLED"},
        }
    )
    failed = aws.config.put_remediation_configurations(
        RemediationConfigurations=[
            {
                "ConfigRuleName": RULE,
                "TargetType": "SSM_DOCUMENT",
                "TargetId": document,
                "Parameters": {
                    "BucketName": {"ResourceValue": {"Value": "RESOURCE_ID"}},
                    "AutomationAssumeRole": {"StaticValue": {"Values": ["arn:aws:iam::123456789012:role/automation"]}},
                },
                "Automatic": False,
            }
        ]
    )["FailedBatches"]
    assert failed == []


def key(bucket: str) -> dict[str, str]:
    return {"resourceType": "AWS::S3::Bucket", "resourceId": bucket}


def statuses(aws: Clients, *buckets: str) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {"ConfigRuleName": RULE}
    if buckets:
        kwargs["ResourceKeys"] = [key(b) for b in buckets]
    return aws.config.describe_remediation_execution_status(**kwargs)["RemediationExecutionStatuses"]  # type: ignore[no-any-return]


def wait_for_state(aws: Clients, bucket: str, state: str) -> dict[str, Any]:
    """The dispatcher is a thread: poll (briefly) until the execution reaches the state."""
    import time

    deadline = time.monotonic() + 10
    while True:
        found = statuses(aws, bucket)
        if found and found[0]["State"] == state:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"{bucket} never reached {state}: {found}")
        time.sleep(0.02)


def test_configurations_put_describe_delete(local_aws: Clients) -> None:
    configure(local_aws)
    described = local_aws.config.describe_remediation_configurations(ConfigRuleNames=[RULE, "other"])[
        "RemediationConfigurations"
    ]
    assert len(described) == 1
    config = described[0]
    assert config["TargetId"] == RUNBOOK and config["TargetType"] == "SSM_DOCUMENT" and config["Automatic"] is False
    assert config["Arn"].startswith("arn:aws:config:ap-northeast-1:123456789012:remediation-configuration/")
    local_aws.config.delete_remediation_configuration(ConfigRuleName=RULE)
    assert (
        local_aws.config.describe_remediation_configurations(ConfigRuleNames=[RULE])["RemediationConfigurations"] == []
    )
    with pytest.raises(ClientError) as exc:
        local_aws.config.delete_remediation_configuration(ConfigRuleName=RULE)
    assert exc.value.response["Error"]["Code"] == "NoSuchRemediationConfigurationException"


def test_bad_configurations_come_back_in_failed_batches(local_aws: Clients) -> None:
    configure(local_aws)
    failed = local_aws.config.put_remediation_configurations(
        RemediationConfigurations=[
            {"ConfigRuleName": "no-such-rule", "TargetType": "SSM_DOCUMENT", "TargetId": RUNBOOK},
            {
                "ConfigRuleName": RULE,
                "TargetType": "SSM_DOCUMENT",
                "TargetId": RUNBOOK,
                "Parameters": {
                    "A": {"ResourceValue": {"Value": "RESOURCE_ID"}},
                    "B": {"ResourceValue": {"Value": "RESOURCE_ID"}},
                },
            },
        ]
    )["FailedBatches"]
    assert [f["FailedItems"][0]["ConfigRuleName"] for f in failed] == ["no-such-rule", RULE]
    assert all(f["FailureMessage"] for f in failed)


def test_rule_with_a_remediation_configuration_cannot_be_deleted(local_aws: Clients) -> None:
    configure(local_aws)
    with pytest.raises(ClientError) as exc:
        local_aws.config.delete_config_rule(ConfigRuleName=RULE)
    assert exc.value.response["Error"]["Code"] == "ResourceInUseException"


def test_execution_goes_queued_in_progress_succeeded_with_steps(
    local_aws: Clients, local_sandbox: LocalSandbox, engine: FakeAutomationEngine
) -> None:
    bucket = local_aws.bucket()
    configure(local_aws)
    local_sandbox.admin("POST", "/config/remediation", {"paused": True})
    started = local_aws.config.start_remediation_execution(ConfigRuleName=RULE, ResourceKeys=[key(bucket)])
    assert started["FailedItems"] == []
    queued = statuses(local_aws, bucket)[0]
    assert queued["State"] == "QUEUED" and queued["ResourceKey"] == key(bucket)
    assert engine.executions == {}  # nothing started while queued

    local_sandbox.admin("POST", "/config/remediation", {"paused": False})
    wait_for_state(local_aws, bucket, "IN_PROGRESS")
    (execution,) = engine.executions.values()
    assert execution.document == RUNBOOK
    assert execution.parameters == {
        "BucketName": [bucket],
        "AutomationAssumeRole": ["arn:aws:iam::123456789012:role/automation"],
    }

    engine.finish(
        "Success",
        [
            {"StepName": "CheckVersioning", "StepStatus": "Success"},
            {"StepName": "EnableVersioning", "StepStatus": "Success"},
        ],
    )
    done = wait_for_state(local_aws, bucket, "SUCCEEDED")
    assert [(s["Name"], s["State"]) for s in done["StepDetails"]] == [
        ("CheckVersioning", "SUCCEEDED"),
        ("EnableVersioning", "SUCCEEDED"),
    ]
    assert done["LastUpdatedTime"] >= done["InvocationTime"]


def test_failed_automation_is_a_failed_remediation_with_the_step_error(
    local_aws: Clients, engine: FakeAutomationEngine
) -> None:
    bucket = local_aws.bucket()
    configure(local_aws)
    local_aws.config.start_remediation_execution(ConfigRuleName=RULE, ResourceKeys=[key(bucket)])
    wait_for_state(local_aws, bucket, "IN_PROGRESS")
    engine.finish(
        "Failed", [{"StepName": "EnableVersioning", "StepStatus": "Failed", "FailureMessage": "AccessDenied"}]
    )
    failed = wait_for_state(local_aws, bucket, "FAILED")
    assert failed["StepDetails"] == [{"Name": "EnableVersioning", "State": "FAILED", "ErrorMessage": "AccessDenied"}]


def test_a_running_remediation_refuses_the_same_key_and_its_configuration_stays(
    local_aws: Clients, engine: FakeAutomationEngine
) -> None:
    busy, free = local_aws.bucket(), local_aws.bucket()
    configure(local_aws)
    local_aws.config.start_remediation_execution(ConfigRuleName=RULE, ResourceKeys=[key(busy)])
    wait_for_state(local_aws, busy, "IN_PROGRESS")
    again = local_aws.config.start_remediation_execution(ConfigRuleName=RULE, ResourceKeys=[key(busy), key(free)])
    assert again["FailedItems"] == [key(busy)] and again["FailureMessage"]
    with pytest.raises(ClientError) as exc:
        local_aws.config.delete_remediation_configuration(ConfigRuleName=RULE)
    assert exc.value.response["Error"]["Code"] == "RemediationInProgressException"
    engine.finish("Success", [])
    wait_for_state(local_aws, busy, "SUCCEEDED")
    assert (
        local_aws.config.start_remediation_execution(ConfigRuleName=RULE, ResourceKeys=[key(busy)])["FailedItems"] == []
    )


def test_document_the_engine_cannot_run_fails_with_the_reason(local_aws: Clients) -> None:
    bucket = local_aws.bucket()
    configure(local_aws, document="No-Such-Runbook")
    local_aws.config.start_remediation_execution(ConfigRuleName=RULE, ResourceKeys=[key(bucket)])
    failed = wait_for_state(local_aws, bucket, "FAILED")
    assert "InvalidDocument" in failed["StepDetails"][0]["ErrorMessage"]


def test_without_an_engine_remediation_fails_with_the_reason(local_aws: Clients, local_sandbox: LocalSandbox) -> None:
    local_sandbox.app.services.pop("ssm_automation", None)
    bucket = local_aws.bucket()
    configure(local_aws)
    local_aws.config.start_remediation_execution(ConfigRuleName=RULE, ResourceKeys=[key(bucket)])
    failed = wait_for_state(local_aws, bucket, "FAILED")
    assert "Automation engine is not available" in failed["StepDetails"][0]["ErrorMessage"]


def test_start_validates_configuration_and_key_count(local_aws: Clients) -> None:
    with pytest.raises(ClientError) as exc:
        local_aws.config.start_remediation_execution(ConfigRuleName=RULE, ResourceKeys=[key("x")])
    assert exc.value.response["Error"]["Code"] == "NoSuchRemediationConfigurationException"
    configure(local_aws)
    with pytest.raises(ClientError) as exc:
        local_aws.config.start_remediation_execution(
            ConfigRuleName=RULE, ResourceKeys=[key(f"b{i}") for i in range(101)]
        )
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_config_starting_the_runbook_is_in_the_call_record(local_aws: Clients, local_sandbox: LocalSandbox) -> None:
    bucket = local_aws.bucket()
    configure(local_aws)
    local_aws.config.start_remediation_execution(ConfigRuleName=RULE, ResourceKeys=[key(bucket)])
    wait_for_state(local_aws, bucket, "IN_PROGRESS")
    calls = local_sandbox.admin("GET", "/calls?operation=StartAutomationExecution")["calls"]
    assert len(calls) == 1
    assert calls[0]["invokedBy"] == "config.amazonaws.com" and calls[0]["origin"] == "internal"
    assert calls[0]["parameters"]["DocumentName"] == RUNBOOK
    started = local_sandbox.admin("GET", "/calls?operation=StartRemediationExecution")["calls"]
    assert started[0]["resources"] == [
        {"type": "AWS::Config::ConfigRule", "id": RULE},
        {"type": "AWS::S3::Bucket", "id": bucket},
    ]
