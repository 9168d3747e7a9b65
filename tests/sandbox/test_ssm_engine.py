"""The runbook engine through the real sandbox server: every action, every control-flow field, statuses.

Runbooks are created with boto3 (CreateDocument) and run with StartAutomationExecution; assertions are on
what GetAutomationExecution and the resources show, as a user of AWS would see them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ssm_support import (
    Runbooks,
    api_step,
    runbook,
    script_step,
    sleep_step,
    step_of,
    steps_status,
    unique,
)

pytestmark = pytest.mark.sandbox

TROUBLESHOOTING = "Please refer to Automation Service Troubleshooting Guide for more diagnosis details."


@pytest.fixture(scope="module")
def rb(sandbox: Any) -> Runbooks:
    return Runbooks(sandbox)


@pytest.fixture
def bucket(sandbox: Any) -> Iterator[str]:
    name = unique("bucket")
    sandbox.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    yield name


# ------------------------------------------------------------------------------------ aws:executeAwsApi


def test_execute_aws_api_outputs_each_type(rb: Runbooks, sandbox: Any, bucket: str) -> None:
    ssm = sandbox.client("ssm")
    param = "/" + unique("engine")
    ssm.put_parameter(Name=param, Value="hello", Type="String")
    doc = runbook(
        api_step(
            "Read",
            "ssm",
            "GetParameter",
            Name=param,
            outputs=[
                {"Name": "Value", "Selector": "$.Parameter.Value", "Type": "String"},
                {"Name": "Version", "Selector": "$.Parameter.Version", "Type": "Integer"},
                {"Name": "Status", "Selector": "$.ResponseMetadata.HTTPStatusCode", "Type": "String"},
                {"Name": "Names", "Selector": "$.Parameter.Name", "Type": "StringList"},
                {"Name": "Whole", "Selector": "$.Parameter", "Type": "StringMap"},
            ],
        ),
        api_step(
            "Buckets",
            "s3",
            "ListBuckets",
            outputs=[
                {"Name": "All", "Selector": "$.Buckets", "Type": "MapList"},
                {"Name": "Names", "Selector": "$.Buckets[*].Name", "Type": "StringList"},
            ],
        ),
        api_step(
            "Tag",
            "s3",
            "PutBucketTagging",
            Bucket=bucket,
            Tagging={"TagSet": [{"Key": "value", "Value": "{{ Read.Value }}-v{{ Read.Version }}"}]},
        ),
        outputs=["Read.Value", "Read.Version"],
    )
    execution = rb.run(doc)
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    read = step_of(execution, "Read")
    assert read["Outputs"]["Value"] == ["hello"]
    assert read["Outputs"]["Version"] == ["1"]
    assert read["Outputs"]["Status"] == ["200"]
    assert read["Outputs"]["Names"] == [param]
    assert json.loads(read["Outputs"]["Whole"][0])["Name"] == param
    assert read["Inputs"] == {"Service": '"ssm"', "Api": '"GetParameter"', "Name": json.dumps(param)}
    buckets = step_of(execution, "Buckets")["Outputs"]
    assert bucket in buckets["Names"]
    assert any(json.loads(b)["Name"] == bucket for b in buckets["All"])
    assert execution["Outputs"] == {"Read.Value": ["hello"], "Read.Version": ["1"]}
    tags = sandbox.client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert tags == [{"Key": "value", "Value": "hello-v1"}]


def test_execute_aws_api_brings_text_inputs_to_the_apis_types(rb: Runbooks, bucket: str) -> None:
    """Inputs written as text ("5", "true") reach the API as the integer and boolean it expects."""
    doc = runbook(
        api_step(
            "List",
            "s3",
            "ListObjectsV2",
            Bucket=bucket,
            MaxKeys="{{ Max }}",
            FetchOwner="true",
            outputs=[{"Name": "MaxKeys", "Selector": "$.MaxKeys", "Type": "Integer"}],
        ),
        parameters={"Max": {"type": "String", "allowedPattern": "^[0-9]+$"}},
    )
    execution = rb.run(doc, {"Max": "5"})
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    assert step_of(execution, "List")["Outputs"]["MaxKeys"] == ["5"]


def test_execute_aws_api_error_fails_the_step_with_awss_message(rb: Runbooks) -> None:
    missing = unique("missing-bucket")
    doc = runbook(
        api_step("Put", "s3", "PutBucketVersioning", Bucket=missing, VersioningConfiguration={"Status": "Enabled"})
    )
    execution = rb.run(doc)
    assert execution["AutomationExecutionStatus"] == "Failed"
    step = step_of(execution, "Put")
    assert step["StepStatus"] == "Failed"
    assert step["FailureMessage"] == (
        "Step fails when it is Execute/Cancelling action. An error occurred (NoSuchBucket) when calling the "
        f"PutBucketVersioning operation: The specified bucket does not exist. {TROUBLESHOOTING}"
    )
    assert execution["FailureMessage"] == step["FailureMessage"]
    assert step["FailureDetails"]["FailureStage"] == "Execution"


def test_execute_aws_api_unknown_api_or_service(rb: Runbooks) -> None:
    execution = rb.run(runbook(api_step("Bad", "s3", "PutBucketMagic", Bucket="x")))
    assert "Api PutBucketMagic is not an operation of service s3" in step_of(execution, "Bad")["FailureMessage"]
    execution = rb.run(runbook(api_step("Bad", "nosuchservice", "DoIt")))
    assert "nosuchservice is not a valid AWS service namespace" in execution["FailureMessage"]


# ------------------------------------------------------------------------------------ assert / waitFor


def test_assert_aws_resource_property(rb: Runbooks, sandbox: Any, bucket: str) -> None:
    assertion = {
        "name": "Check",
        "action": "aws:assertAwsResourceProperty",
        "inputs": {
            "Service": "s3",
            "Api": "GetBucketVersioning",
            "Bucket": bucket,
            "PropertySelector": "$.ResponseMetadata.HTTPStatusCode",
            "DesiredValues": ["200"],
        },
    }
    assert rb.run(runbook(assertion))["AutomationExecutionStatus"] == "Success"
    kms = sandbox.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    rotation = {
        "name": "Rotation",
        "action": "aws:assertAwsResourceProperty",
        "inputs": {
            "Service": "kms",
            "Api": "GetKeyRotationStatus",
            "KeyId": key,
            "PropertySelector": "$.KeyRotationEnabled",
            "DesiredValues": ["True"],
        },
    }
    execution = rb.run(runbook(rotation))
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert step_of(execution, "Rotation")["FailureMessage"] == (
        "Step fails when it is Execute/Cancelling action. Property value 'False' from the API output is not in "
        f"the desired values. Desired values: ['True'].. {TROUBLESHOOTING}"
    )


def test_wait_for_aws_resource_property_until_the_resource_changes(rb: Runbooks, sandbox: Any, bucket: str) -> None:
    wait = {
        "name": "WaitForVersioning",
        "action": "aws:waitForAwsResourceProperty",
        "timeoutSeconds": 600,
        "inputs": {
            "Service": "s3",
            "Api": "GetBucketVersioning",
            "Bucket": bucket,
            "PropertySelector": "$.Status",
            "DesiredValues": ["Enabled"],
        },
    }
    with rb.time_scale(0.02):  # polls every 0.1 s instead of 5 s
        execution_id = rb.start(rb.create(runbook(wait)))
        rb.wait_step(execution_id, "WaitForVersioning", ["InProgress"])
        assert rb.get(execution_id)["AutomationExecutionStatus"] == "InProgress"
        sandbox.client("s3").put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        execution = rb.wait(execution_id)
    assert execution["AutomationExecutionStatus"] == "Success"


def test_wait_for_aws_resource_property_times_out(rb: Runbooks, bucket: str) -> None:
    wait = {
        "name": "NeverEnabled",
        "action": "aws:waitForAwsResourceProperty",
        "timeoutSeconds": 30,
        "inputs": {
            "Service": "s3",
            "Api": "GetBucketVersioning",
            "Bucket": bucket,
            "PropertySelector": "$.ResponseMetadata.HTTPStatusCode",
            "DesiredValues": ["201"],
        },
    }
    with rb.time_scale(0.02):
        execution = rb.run(runbook(wait))
    assert execution["AutomationExecutionStatus"] == "TimedOut"
    step = step_of(execution, "NeverEnabled")
    assert step["StepStatus"] == "TimedOut"
    assert step["TimeoutSeconds"] == 30
    assert execution["FailureMessage"].startswith("Step timed out while step is Execute/Cancelling action.")
    assert (
        "Last check: Property value '200' from the API output is not in the desired values"
        in (execution["FailureMessage"])
    )


# ------------------------------------------------------------------------------------ aws:executeScript

SCRIPT = """
import sys
import boto3


def handler(events, context):
    s3 = boto3.client("s3")
    s3.put_bucket_tagging(Bucket=events["Bucket"], Tagging={"TagSet": [{"Key": "by", "Value": "script"}]})
    return {
        "Bucket": events["Bucket"],
        "Count": events["Count"],
        "ExecutionId": context["automation:EXECUTION_ID"],
        "ServerStateVisible": any(name.startswith(("moto", "sandbox")) for name in sys.modules),
    }
"""


def test_execute_script_runs_the_handler_in_isolation(rb: Runbooks, sandbox: Any, bucket: str) -> None:
    doc = runbook(
        script_step(
            "Tag",
            SCRIPT,
            payload={"Bucket": "{{ BucketName }}", "Count": "{{ Count }}"},
            outputs=[
                {"Name": "Payload", "Selector": "$.Payload", "Type": "StringMap"},
                {"Name": "Count", "Selector": "$.Payload.Count", "Type": "Integer"},
                {"Name": "Isolated", "Selector": "$.Payload.ServerStateVisible", "Type": "Boolean"},
            ],
        ),
        parameters={"BucketName": {"type": "String", "allowedPattern": "^[a-z0-9-]+$"}, "Count": {"type": "Integer"}},
    )
    execution = rb.run(doc, {"BucketName": bucket, "Count": 3})
    assert execution["AutomationExecutionStatus"] == "Success", execution.get("FailureMessage")
    outputs = step_of(execution, "Tag")["Outputs"]
    payload = json.loads(outputs["Payload"][0])
    assert payload["Count"] == 3  # an Integer parameter reaches the handler as a number
    assert payload["ExecutionId"] == execution["AutomationExecutionId"]
    assert outputs["Count"] == ["3"]
    assert outputs["Isolated"] == ["false"]
    assert json.loads(outputs["OutputPayload"][0]) == {"Payload": payload}
    tags = sandbox.client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert tags == [{"Key": "by", "Value": "script"}]


def test_execute_script_exception_reads_like_aws(rb: Runbooks) -> None:
    script = "def parse_event(events, context):\n    return events['expected_control_id']\n"
    execution = rb.run(runbook(script_step("Parse", script, handler="parse_event", payload={"other": 1})))
    assert execution["AutomationExecutionStatus"] == "Failed"
    message = step_of(execution, "Parse")["FailureMessage"]
    assert re.fullmatch(
        r"Step fails when it is Poll action status for completion\. Traceback \(most recent call last\):\n"
        r'  File "/[^"]+/customer_script\.py", line 2, in parse_event\n'
        r"    return events\['expected_control_id'\]\n"
        r"\nKeyError - 'expected_control_id'\. " + re.escape(TROUBLESHOOTING),
        message,
    ), message


def test_execute_script_unknown_handler_and_runtime(rb: Runbooks) -> None:
    execution = rb.run(runbook(script_step("Run", "def other(events, context):\n    return 1\n")))
    assert "Handler handler is not defined in the script" in execution["FailureMessage"]
    doc = runbook(script_step("Run", "def handler(e, c):\n    return 1\n"))
    doc["mainSteps"][0]["inputs"]["Runtime"] = "PowerShell 7.4"
    assert "Runtime 'PowerShell 7.4' is not supported" in rb.run(doc)["FailureMessage"]


# ------------------------------------------------------------------------------------ variables


def test_system_variables(rb: Runbooks) -> None:
    script = "def handler(events, context):\n    return events\n"
    payload = {
        name: "{{ " + name + " }}"
        for name in (
            "automation:EXECUTION_ID",
            "global:ACCOUNT_ID",
            "global:REGION",
            "global:AWS_PARTITION",
            "global:DATE",
            "global:DATE_TIME",
        )
    }
    payload["Text"] = "run {{ automation:EXECUTION_ID }} in {{ global:REGION }}"
    execution = rb.run(
        runbook(
            script_step(
                "Echo", script, payload=payload, outputs=[{"Name": "P", "Selector": "$.Payload", "Type": "StringMap"}]
            )
        )
    )
    echoed = json.loads(step_of(execution, "Echo")["Outputs"]["P"][0])
    execution_id = execution["AutomationExecutionId"]
    assert echoed["automation:EXECUTION_ID"] == execution_id
    assert echoed["global:ACCOUNT_ID"] == "123456789012"
    assert echoed["global:REGION"] == "ap-northeast-1"
    assert echoed["global:AWS_PARTITION"] == "aws"
    assert dt.datetime.strptime(echoed["global:DATE"], "%Y-%m-%d")
    assert dt.datetime.strptime(echoed["global:DATE_TIME"], "%Y-%m-%d_%H.%M.%S")
    assert echoed["Text"] == f"run {execution_id} in ap-northeast-1"


def test_ssm_parameter_reference(rb: Runbooks, sandbox: Any, bucket: str) -> None:
    name = "/" + unique("status")
    sandbox.client("ssm").put_parameter(Name=name, Value="Enabled", Type="String")
    doc = runbook(
        api_step(
            "Put",
            "s3",
            "PutBucketVersioning",
            Bucket=bucket,
            VersioningConfiguration={"Status": "{{ ssm:" + name + " }}"},
        )
    )
    assert rb.run(doc)["AutomationExecutionStatus"] == "Success"
    assert sandbox.client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_unresolvable_output_fails_the_step(rb: Runbooks) -> None:
    doc = runbook(
        {
            "name": "Skip",
            "action": "aws:branch",
            "inputs": {"Choices": [{"NextStep": "Use", "Variable": "yes", "StringEquals": "yes"}]},
        },
        api_step("Produce", "s3", "ListBuckets", outputs=[{"Name": "Owner", "Selector": "$.Owner.ID"}]),
        sleep_step("Use", "PT0S", description="{{ Produce.Owner }}"),
    )
    doc["mainSteps"][2]["inputs"]["Note"] = "{{ Produce.Owner }}"
    doc["mainSteps"][2].pop("description")
    execution = rb.run(doc)
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert "Unable to resolve input {{ Produce.Owner }}" in step_of(execution, "Use")["FailureMessage"]
    assert step_of(execution, "Produce")["StepStatus"] == "Pending"


# ------------------------------------------------------------------------------------ aws:branch, nextStep, isEnd


BRANCH_DOC = runbook(
    {
        "name": "Choose",
        "action": "aws:branch",
        "inputs": {
            "Choices": [
                {"NextStep": "Small", "Variable": "{{ Size }}", "NumericLesser": 10},
                {
                    "NextStep": "Named",
                    "And": [
                        {"Variable": "{{ Name }}", "StartsWith": "prod"},
                        {"Not": {"Variable": "{{ Name }}", "EndsWith": "-test"}},
                    ],
                },
                {"NextStep": "Flagged", "Or": [{"Variable": "{{ Flag }}", "BooleanEquals": True}]},
            ],
            "Default": "Fallback",
        },
    },
    sleep_step("Small", isEnd=True),
    sleep_step("Named", nextStep="Done"),
    sleep_step("Flagged", isEnd=True),
    sleep_step("Fallback", isEnd=True),
    sleep_step("Done"),
    parameters={
        "Size": {"type": "Integer"},
        "Name": {"type": "String", "allowedPattern": "^[a-z-]+$"},
        "Flag": {"type": "Boolean", "default": False},
    },
)


@pytest.mark.parametrize(
    ("params", "ran"),
    [
        ({"Size": 3, "Name": "prod-db"}, {"Choose", "Small"}),
        ({"Size": 30, "Name": "prod-db"}, {"Choose", "Named", "Done"}),
        ({"Size": 30, "Name": "prod-db-test"}, {"Choose", "Fallback"}),
        ({"Size": 30, "Name": "dev", "Flag": "true"}, {"Choose", "Flagged"}),
    ],
)
def test_branch_routes_and_skipped_steps_stay_pending(rb: Runbooks, params: dict[str, Any], ran: set[str]) -> None:
    execution = rb.run(BRANCH_DOC, params)
    assert execution["AutomationExecutionStatus"] == "Success"
    statuses = steps_status(execution)
    assert {name for name, status in statuses.items() if status == "Success"} == ran
    assert all(status == "Pending" for name, status in statuses.items() if name not in ran)
    assert all("ExecutionStartTime" not in s for s in execution["StepExecutions"] if s["StepStatus"] == "Pending")


def test_branch_without_a_true_choice_or_default_runs_the_next_step(rb: Runbooks) -> None:
    doc = runbook(
        {
            "name": "Choose",
            "action": "aws:branch",
            "inputs": {"Choices": [{"NextStep": "Other", "Variable": "a", "StringEquals": "b"}]},
        },
        sleep_step("Next", isEnd=True),
        sleep_step("Other"),
    )
    execution = rb.run(doc)
    assert steps_status(execution) == {"Choose": "Success", "Next": "Success", "Other": "Pending"}


# ------------------------------------------------------------------------------------ onFailure / isCritical


FAIL_STEP = {
    "name": "Fix",
    "action": "aws:executeAwsApi",
    "inputs": {"Service": "s3", "Api": "GetBucketPolicy", "Bucket": "no-such-bucket-for-sure"},
}


def test_on_failure_step_runs_the_rollback_and_the_execution_fails(rb: Runbooks) -> None:
    doc = runbook(
        sleep_step("Prepare"),
        {**FAIL_STEP, "onFailure": "step:Rollback", "nextStep": "Verify"},
        sleep_step("Verify", isEnd=True),
        sleep_step("Rollback", isEnd=True),
    )
    execution = rb.run(doc)
    assert steps_status(execution) == {
        "Prepare": "Success",
        "Fix": "Failed",
        "Verify": "Pending",
        "Rollback": "Success",
    }
    assert execution["AutomationExecutionStatus"] == "Failed"  # Fix is critical: rolled back, still failed
    assert execution["FailureMessage"] == step_of(execution, "Fix")["FailureMessage"]
    assert "NoSuchBucket" in execution["FailureMessage"]


def test_on_failure_step_with_is_critical_false_succeeds(rb: Runbooks) -> None:
    doc = runbook(
        {**FAIL_STEP, "onFailure": "step:Recover", "isCritical": False}, sleep_step("Skipped"), sleep_step("Recover")
    )
    execution = rb.run(doc)
    assert execution["AutomationExecutionStatus"] == "Success"
    assert steps_status(execution) == {"Fix": "Failed", "Skipped": "Pending", "Recover": "Success"}
    assert "FailureMessage" not in execution


def test_on_failure_continue(rb: Runbooks) -> None:
    doc = runbook({**FAIL_STEP, "onFailure": "Continue"}, sleep_step("After"))
    execution = rb.run(doc)
    assert execution["AutomationExecutionStatus"] == "Success"  # Continue makes the step non-critical
    assert steps_status(execution) == {"Fix": "Failed", "After": "Success"}
    critical = runbook({**FAIL_STEP, "onFailure": "Continue", "isCritical": True}, sleep_step("After"))
    execution = rb.run(critical)
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert steps_status(execution) == {"Fix": "Failed", "After": "Success"}


def test_on_failure_abort_is_the_default(rb: Runbooks) -> None:
    execution = rb.run(runbook(FAIL_STEP, sleep_step("After")))
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert steps_status(execution) == {"Fix": "Failed", "After": "Pending"}
    assert step_of(execution, "Fix")["OnFailure"] == "Abort"
    assert step_of(execution, "Fix")["IsCritical"] is True


def test_next_step_and_is_end(rb: Runbooks) -> None:
    doc = runbook(
        sleep_step("One", nextStep="Three"),
        sleep_step("Two"),
        sleep_step("Three", isEnd=True),
        sleep_step("Four"),
    )
    execution = rb.run(doc)
    assert steps_status(execution) == {"One": "Success", "Two": "Pending", "Three": "Success", "Four": "Pending"}
    assert step_of(execution, "One")["NextStep"] == "Three"
    assert step_of(execution, "Three")["IsEnd"] is True


# ------------------------------------------------------------------------------------ maxAttempts, timeouts


COUNTER_SCRIPT = """
import boto3


def handler(events, context):
    ssm = boto3.client("ssm")
    name = events["Counter"]
    try:
        count = int(ssm.get_parameter(Name=name)["Parameter"]["Value"]) + 1
    except ssm.exceptions.ParameterNotFound:
        count = 1
    ssm.put_parameter(Name=name, Value=str(count), Type="String", Overwrite=True)
    if count < events["SucceedOn"]:
        raise RuntimeError(f"attempt {count} fails")
    return {"Attempts": count}
"""


@pytest.mark.parametrize(("succeed_on", "status", "attempts"), [(2, "Success", 2), (9, "Failed", 3)])
def test_max_attempts_retries_a_failed_step(
    rb: Runbooks, sandbox: Any, succeed_on: int, status: str, attempts: int
) -> None:
    counter = "/" + unique("counter")
    doc = runbook(
        script_step("Flaky", COUNTER_SCRIPT, payload={"Counter": counter, "SucceedOn": succeed_on}, maxAttempts=3)
    )
    execution = rb.run(doc)
    assert execution["AutomationExecutionStatus"] == status
    assert step_of(execution, "Flaky")["MaxAttempts"] == 3
    value = sandbox.client("ssm").get_parameter(Name=counter)["Parameter"]["Value"]
    assert int(value) == attempts
    if status == "Failed":
        assert "RuntimeError - attempt 3 fails" in execution["FailureMessage"]


def test_step_timeout(rb: Runbooks) -> None:
    doc = runbook(sleep_step("Long", "PT1H", timeoutSeconds=1), sleep_step("After"))
    execution = rb.run(doc, timeout=30)
    assert execution["AutomationExecutionStatus"] == "TimedOut"
    assert steps_status(execution) == {"Long": "TimedOut", "After": "Pending"}
    long = step_of(execution, "Long")
    assert long["TimeoutSeconds"] == 1
    assert long["ExecutionEndTime"] > long["ExecutionStartTime"]


def test_timed_out_step_with_on_failure_goes_on(rb: Runbooks) -> None:
    doc = runbook(
        sleep_step("Long", "PT1H", timeoutSeconds=1, onFailure="step:Cleanup", isCritical=False),
        sleep_step("Skipped"),
        sleep_step("Cleanup"),
    )
    execution = rb.run(doc, timeout=30)
    assert execution["AutomationExecutionStatus"] == "Success"
    assert steps_status(execution) == {"Long": "TimedOut", "Skipped": "Pending", "Cleanup": "Success"}


def test_sleep_follows_the_clock_scale(rb: Runbooks) -> None:
    doc = runbook(
        sleep_step("TenMinutes", "PT10M"),
        {"name": "Past", "action": "aws:sleep", "inputs": {"Timestamp": "2020-01-01T00:00:00Z"}},
    )
    with rb.time_scale(0.001):  # ten minutes last 0.6 s
        execution = rb.run(doc, timeout=30)
    assert execution["AutomationExecutionStatus"] == "Success"
    bad = rb.run(runbook(sleep_step("TooLong", "P8D")))
    assert "exceeds the maximum of 604800 seconds" in bad["FailureMessage"]


# ------------------------------------------------------------------------------------ unsupported actions


def test_unsupported_action_fails_its_step(rb: Runbooks) -> None:
    """An action AWS has but the sandbox does not run fails its step; it never silently succeeds."""
    doc = runbook(
        {"name": "Other", "action": "aws:runCommand", "inputs": {"DocumentName": "AWS-RunShellScript"}},
        sleep_step("After"),
    )
    execution = rb.run(doc)
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert steps_status(execution) == {"Other": "Failed", "After": "Pending"}
    assert step_of(execution, "Other")["FailureMessage"] == (
        "Step fails when it is Execute/Cancelling action. Action aws:runCommand is not supported by the sandbox's "
        f"automation engine. {TROUBLESHOOTING}"
    )


# ------------------------------------------------------------------------------------ aws:approve


def approval_doc(approvers: list[str], minimum: int = 1, timeout: int = 600) -> dict[str, Any]:
    return runbook(
        {
            "name": "Approve",
            "action": "aws:approve",
            "timeoutSeconds": timeout,
            "onFailure": "Abort",
            "inputs": {"Approvers": "{{ Approvers }}", "MinRequiredApprovals": minimum, "Message": "repair?"},
        },
        sleep_step("Repair"),
        parameters={"Approvers": {"type": "StringList"}},
    )


def _signal(sandbox: Any, execution_id: str, signal: str, user: str, comment: str = "") -> None:
    ssm = sandbox.client("ssm", aws_access_key_id=user)
    payload = {"Comment": [comment]} if comment else {}
    kwargs: dict[str, Any] = {"AutomationExecutionId": execution_id, "SignalType": signal}
    if payload:
        kwargs["Payload"] = payload
    ssm.send_automation_signal(**kwargs)


def test_approve_waits_for_a_listed_approver(rb: Runbooks, sandbox: Any) -> None:
    approvers = ["alice", "arn:aws:iam::123456789012:user/bob"]
    execution_id = rb.start(rb.create(approval_doc(approvers)), {"Approvers": approvers})
    execution = rb.wait(execution_id, ["Waiting"])
    assert step_of(execution, "Approve")["StepStatus"] == "Waiting"
    assert execution["CurrentStepName"] == "Approve"
    assert execution["CurrentAction"] == "aws:approve"
    with pytest.raises(ClientError) as err:
        _signal(sandbox, execution_id, "Approve", "mallory")
    assert err.value.response["Error"]["Code"] == "InvalidAutomationSignalException"
    assert "arn:aws:iam::123456789012:user/mallory is not an approver" in str(err.value)
    _signal(sandbox, execution_id, "Approve", "bob", "looks right")
    execution = rb.wait(execution_id)
    assert execution["AutomationExecutionStatus"] == "Success"
    outputs = step_of(execution, "Approve")["Outputs"]
    assert outputs["ApprovalStatus"] == ["Approved"]
    (decision,) = [json.loads(d) for d in outputs["ApproverDecisions"]]
    assert decision["Approver"] == "arn:aws:iam::123456789012:user/bob"
    assert decision["Type"] == "Approve"
    assert decision["Comment"] == "looks right"


def test_min_required_approvals_needs_distinct_approvers(rb: Runbooks, sandbox: Any) -> None:
    approvers = ["alice", "bob", "carol"]
    execution_id = rb.start(rb.create(approval_doc(approvers, minimum=2)), {"Approvers": approvers})
    rb.wait(execution_id, ["Waiting"])
    _signal(sandbox, execution_id, "Approve", "alice")
    with pytest.raises(ClientError, match="has already answered"):
        _signal(sandbox, execution_id, "Approve", "alice")
    assert rb.get(execution_id)["AutomationExecutionStatus"] == "Waiting"  # one of two approvals
    _signal(sandbox, execution_id, "Approve", "carol")
    execution = rb.wait(execution_id)
    assert execution["AutomationExecutionStatus"] == "Success"
    assert len(step_of(execution, "Approve")["Outputs"]["ApproverDecisions"]) == 2


def test_reject_fails_the_execution(rb: Runbooks, sandbox: Any) -> None:
    execution_id = rb.start(rb.create(approval_doc(["alice"])), {"Approvers": ["alice"]})
    rb.wait(execution_id, ["Waiting"])
    _signal(sandbox, execution_id, "Reject", "alice", "not during business hours")
    execution = rb.wait(execution_id)
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert steps_status(execution) == {"Approve": "Failed", "Repair": "Pending"}
    approve = step_of(execution, "Approve")
    assert approve["Outputs"]["ApprovalStatus"] == ["Rejected"]
    assert (
        "rejected by arn:aws:iam::123456789012:user/alice with comment: not during business hours"
        in (execution["FailureMessage"])
    )


def test_approval_timeout(rb: Runbooks) -> None:
    execution_id = rb.start(rb.create(approval_doc(["alice"], timeout=1)), {"Approvers": ["alice"]})
    execution = rb.wait(execution_id, timeout=30)
    assert execution["AutomationExecutionStatus"] == "TimedOut"
    assert steps_status(execution) == {"Approve": "TimedOut", "Repair": "Pending"}


def test_approve_input_checks(rb: Runbooks) -> None:
    execution = rb.run(approval_doc(["alice"], minimum=2), {"Approvers": ["alice"]})
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert (
        "MinRequiredApprovals must be between 1 and the number of approvers (1), not 2" in (execution["FailureMessage"])
    )


def test_approve_publishes_to_the_notification_topic(rb: Runbooks, sandbox: Any) -> None:
    sns = sandbox.client("sns")
    topic = sns.create_topic(Name=unique("Automation-approvals"))["TopicArn"]
    sqs = sandbox.client("sqs")
    queue = sqs.create_queue(QueueName=unique("approvals"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    doc = approval_doc(["alice"])
    doc["mainSteps"][0]["inputs"]["NotificationArn"] = topic
    execution_id = rb.start(rb.create(doc), {"Approvers": ["alice"]})
    rb.wait(execution_id, ["Waiting"])
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, WaitTimeSeconds=1).get("Messages", [])
    assert messages and execution_id in messages[0]["Body"]
    sandbox.client("ssm").stop_automation_execution(AutomationExecutionId=execution_id)
    rb.wait(execution_id)


# ------------------------------------------------------------------------------------ aws:pause


def test_pause_waits_for_resume(rb: Runbooks, sandbox: Any) -> None:
    doc = runbook({"name": "Hold", "action": "aws:pause", "inputs": {}}, sleep_step("After"))
    execution_id = rb.start(rb.create(doc))
    execution = rb.wait(execution_id, ["Waiting"])
    assert step_of(execution, "Hold")["StepStatus"] == "Waiting"
    with pytest.raises(ClientError) as err:
        _signal(sandbox, execution_id, "Approve", "alice")
    assert err.value.response["Error"]["Code"] == "InvalidAutomationSignalException"
    sandbox.client("ssm").send_automation_signal(AutomationExecutionId=execution_id, SignalType="Resume")
    execution = rb.wait(execution_id)
    assert steps_status(execution) == {"Hold": "Success", "After": "Success"}


# ------------------------------------------------------------------------------------ cancel, onCancel


def test_cancel_stops_the_running_step(rb: Runbooks, sandbox: Any) -> None:
    doc = runbook(sleep_step("Long", "PT1H"), sleep_step("After"))
    execution_id = rb.start(rb.create(doc))
    rb.wait_step(execution_id, "Long", ["InProgress"])
    sandbox.client("ssm").stop_automation_execution(AutomationExecutionId=execution_id, Type="Cancel")
    execution = rb.wait(execution_id, ["Cancelling", "Cancelled"])
    assert execution["AutomationExecutionStatus"] in ("Cancelling", "Cancelled")
    execution = rb.wait(execution_id)
    assert execution["AutomationExecutionStatus"] == "Cancelled"
    assert steps_status(execution) == {"Long": "Cancelled", "After": "Pending"}
    assert "FailureMessage" not in execution
    assert "ExecutionEndTime" in execution


def test_on_cancel_runs_the_cleanup_step(rb: Runbooks, sandbox: Any, bucket: str) -> None:
    doc = runbook(
        {
            "name": "Approve",
            "action": "aws:approve",
            "timeoutSeconds": 600,
            "onFailure": "Abort",
            "onCancel": "step:Cleanup",
            "inputs": {"Approvers": ["alice"]},
        },
        sleep_step("Repair", isEnd=True),
        api_step(
            "Cleanup",
            "s3",
            "PutBucketTagging",
            Bucket=bucket,
            Tagging={"TagSet": [{"Key": "cancelled", "Value": "yes"}]},
        ),
    )
    execution_id = rb.start(rb.create(doc))
    rb.wait(execution_id, ["Waiting"])
    sandbox.client("ssm").stop_automation_execution(AutomationExecutionId=execution_id)
    execution = rb.wait(execution_id)
    assert execution["AutomationExecutionStatus"] == "Cancelled"
    assert steps_status(execution) == {"Approve": "Cancelled", "Repair": "Pending", "Cleanup": "Success"}
    assert sandbox.client("s3").get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "cancelled", "Value": "yes"}]
