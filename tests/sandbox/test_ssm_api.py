"""The SSM Automation execution API of the sandbox, operation by operation, through boto3."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError
from ssm_support import Runbooks, runbook, sleep_step, step_of, unique

pytestmark = pytest.mark.sandbox

NOT_FOUND_ID = "00000000-0000-4000-8000-000000000000"

PARAMS_DOC = runbook(
    sleep_step("Wait"),
    parameters={
        "Name": {"type": "String", "allowedPattern": "^[a-z]+$"},
        "Mode": {"type": "String", "default": "fix", "allowedValues": ["fix", "check"]},
        "Count": {"type": "Integer", "default": 2},
        "Enabled": {"type": "Boolean", "default": True},
        "Ids": {"type": "StringList", "default": []},
        "Role": {"type": "AWS::IAM::Role::Arn", "default": ""},
    },
)


@pytest.fixture(scope="module")
def rb(sandbox: Any) -> Runbooks:
    return Runbooks(sandbox)


@pytest.fixture(scope="module")
def params_doc(rb: Runbooks) -> str:
    return rb.create(PARAMS_DOC, "Params")


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def _message(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Message"])


# ------------------------------------------------------------------------------------ StartAutomationExecution


def test_start_returns_an_id_and_shows_parameters_with_defaults(rb: Runbooks, params_doc: str) -> None:
    execution_id = rb.start(params_doc, {"Name": "web", "Ids": ["i-1", "i-2"]})
    assert len(execution_id) == 36
    execution = rb.wait(execution_id)
    assert execution["AutomationExecutionStatus"] == "Success"
    assert execution["Parameters"] == {
        "Name": ["web"],
        "Mode": ["fix"],
        "Count": ["2"],
        "Enabled": ["true"],
        "Ids": ["i-1", "i-2"],
        "Role": [""],
    }
    assert execution["DocumentName"] == params_doc
    assert execution["DocumentVersion"] == "1"
    assert execution["ExecutedBy"] == "arn:aws:iam::123456789012:user/testing"
    assert execution["Mode"] == "Auto"
    assert isinstance(execution["ExecutionStartTime"], dt.datetime)
    assert execution["ExecutionEndTime"] >= execution["ExecutionStartTime"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Missing required parameter: Name in user inputs."),
        ({"Name": "Web"}, 'Parameter "Name" has value "Web" not matching "^[a-z]+$".'),
        ({"Name": "web", "Mode": "both"}, 'Parameter "Mode" has value "both" not found in [fix, check].'),
        ({"Name": "web", "Count": "two"}, 'Parameter "Count" has value "two" which is not a valid Integer.'),
        ({"Name": "web", "Enabled": "yes"}, 'Parameter "Enabled" has value "yes" which is not a valid Boolean.'),
        ({"Name": "web", "Extra": "x"}, 'Parameter "Extra" is not defined in the document.'),
    ],
)
def test_start_checks_parameters_before_anything_runs(
    rb: Runbooks, params_doc: str, params: dict[str, Any], message: str
) -> None:
    before = len(
        rb.ssm.describe_automation_executions(Filters=[{"Key": "DocumentNamePrefix", "Values": [params_doc]}])[
            "AutomationExecutionMetadataList"
        ]
    )
    with pytest.raises(ClientError) as err:
        rb.start(params_doc, params)
    assert _code(err) == "InvalidAutomationExecutionParametersException"
    assert _message(err) == message
    after = rb.ssm.describe_automation_executions(Filters=[{"Key": "DocumentNamePrefix", "Values": [params_doc]}])
    assert len(after["AutomationExecutionMetadataList"]) == before  # nothing started


def test_start_unknown_document_and_version(rb: Runbooks, params_doc: str) -> None:
    with pytest.raises(ClientError) as err:
        rb.start(unique("NoSuchDocument"))
    assert _code(err) == "AutomationDefinitionNotFoundException"
    with pytest.raises(ClientError) as err:
        rb.start(params_doc, {"Name": "web"}, DocumentVersion="7")
    assert _code(err) == "AutomationDefinitionVersionNotFoundException"


def test_start_rejects_non_automation_documents(rb: Runbooks) -> None:
    name = unique("Command")
    content = {
        "schemaVersion": "2.2",
        "description": "c",
        "mainSteps": [{"action": "aws:runShellScript", "name": "r", "inputs": {"runCommand": ["date"]}}],
    }
    rb.ssm.create_document(Content=yaml.safe_dump(content), Name=name, DocumentType="Command", DocumentFormat="YAML")
    with pytest.raises(ClientError) as err:
        rb.start(name)
    assert _code(err) == "AutomationDefinitionNotFoundException"


def test_start_runs_the_requested_document_version(rb: Runbooks) -> None:
    v1 = runbook(sleep_step("VersionOne"))
    name = rb.create(v1)
    v2 = yaml.safe_dump(runbook(sleep_step("VersionTwo")))
    rb.ssm.update_document(Content=v2, Name=name, DocumentVersion="$LATEST", DocumentFormat="YAML")
    default = rb.wait(rb.start(name))
    latest = rb.wait(rb.start(name, DocumentVersion="$LATEST"))
    explicit = rb.wait(rb.start(name, DocumentVersion="2"))
    assert [s["StepName"] for s in default["StepExecutions"]] == ["VersionOne"]
    assert default["DocumentVersion"] == "1"
    assert [s["StepName"] for s in latest["StepExecutions"]] == ["VersionTwo"]
    assert latest["DocumentVersion"] == explicit["DocumentVersion"] == "2"


def test_start_by_document_arn(rb: Runbooks) -> None:
    name = rb.create(runbook(sleep_step("One")))
    arn = f"arn:aws:ssm:ap-northeast-1:123456789012:document/{name}"
    assert rb.wait(rb.start(arn))["DocumentName"] == name


def test_client_token_idempotency(rb: Runbooks, params_doc: str) -> None:
    token = str(uuid.uuid4())
    first = rb.start(params_doc, {"Name": "web"}, ClientToken=token)
    again = rb.start(params_doc, {"Name": "web"}, ClientToken=token.upper())  # tokens are case-insensitive
    assert again == first
    with pytest.raises(ClientError) as err:
        rb.start(params_doc, {"Name": "other"}, ClientToken=token)
    assert _code(err) == "IdempotentParameterMismatch"
    other = rb.start(params_doc, {"Name": "web"}, ClientToken=str(uuid.uuid4()))
    assert other != first
    with pytest.raises(ClientError) as err:
        rb.start(params_doc, {"Name": "web"}, ClientToken="x" * 36)
    assert _code(err) == "ValidationException"


def test_start_refuses_what_the_sandbox_does_not_run(rb: Runbooks, params_doc: str) -> None:
    with pytest.raises(ClientError) as err:
        rb.start(params_doc, {"Name": "web"}, Mode="Interactive")
    assert _code(err) == "InvalidAutomationExecutionParametersException"
    with pytest.raises(ClientError) as err:
        rb.start(params_doc, {"Name": "web"}, TargetLocations=[{"Accounts": ["111111111111"]}])
    assert "TargetLocations is not supported" in _message(err)


# ------------------------------------------------------------------------------------ GetAutomationExecution


def test_get_shows_every_step_from_the_start(rb: Runbooks) -> None:
    execution = rb.run(runbook(sleep_step("A"), sleep_step("B", isEnd=True), sleep_step("C")))
    assert [s["StepName"] for s in execution["StepExecutions"]] == ["A", "B", "C"]
    a = step_of(execution, "A")
    assert set(a) >= {
        "StepName",
        "Action",
        "OnFailure",
        "MaxAttempts",
        "StepStatus",
        "Inputs",
        "StepExecutionId",
        "ExecutionStartTime",
        "ExecutionEndTime",
        "IsEnd",
        "IsCritical",
    }
    assert a["Inputs"] == {"Duration": '"PT0S"'}
    assert step_of(execution, "C")["StepStatus"] == "Pending"
    assert execution["StepExecutionsTruncated"] is False
    assert execution["ProgressCounters"] == {
        "TotalSteps": 3,
        "SuccessSteps": 2,
        "FailedSteps": 0,
        "CancelledSteps": 0,
        "TimedOutSteps": 0,
    }


def test_get_unknown_execution(rb: Runbooks, sandbox: Any) -> None:
    with pytest.raises(ClientError) as err:
        rb.ssm.get_automation_execution(AutomationExecutionId=NOT_FOUND_ID)
    assert _code(err) == "AutomationExecutionNotFoundException"
    execution_id = rb.wait(rb.start(rb.create(runbook(sleep_step("A")))))["AutomationExecutionId"]
    elsewhere = sandbox.client("ssm", region_name="eu-west-1")
    with pytest.raises(ClientError) as err:  # executions belong to their account and region
        elsewhere.get_automation_execution(AutomationExecutionId=execution_id)
    assert _code(err) == "AutomationExecutionNotFoundException"


def test_document_outputs(rb: Runbooks) -> None:
    doc = runbook(
        {
            "name": "Read",
            "action": "aws:executeAwsApi",
            "inputs": {"Service": "sts", "Api": "GetCallerIdentity"},
            "outputs": [{"Name": "Account", "Selector": "$.Account"}],
        },
        {**sleep_step("Never"), "inputs": {"Duration": "PT0S"}},
        outputs=["Read.Account", "Never.Nothing"],
    )
    doc["mainSteps"][0]["isEnd"] = True
    execution = rb.run(doc)
    assert execution["Outputs"] == {
        "Read.Account": ["123456789012"],
        "Never.Nothing": ["No output available yet because the step is not successfully executed"],
    }


# ------------------------------------------------------------------------------------ DescribeAutomationExecutions


def test_describe_executions_filters(rb: Runbooks) -> None:
    prefix = unique("Describe")
    ok_doc = rb.create(runbook(sleep_step("A")), prefix + "-ok")
    bad_doc = rb.create(
        runbook({"name": "Boom", "action": "aws:executeAwsApi", "inputs": {"Service": "s3", "Api": "Nope"}}),
        prefix + "-bad",
    )
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    ok_id = rb.start(ok_doc, Tags=[{"Key": "team", "Value": "sre"}])
    bad_id = rb.start(bad_doc)
    rb.wait(ok_id)
    rb.wait(bad_id)

    def ids(*filters: dict[str, Any]) -> set[str]:
        pages = rb.ssm.get_paginator("describe_automation_executions").paginate(Filters=list(filters))
        return {m["AutomationExecutionId"] for page in pages for m in page["AutomationExecutionMetadataList"]}

    prefix_filter = {"Key": "DocumentNamePrefix", "Values": [prefix]}
    assert ids(prefix_filter) == {ok_id, bad_id}
    assert ids(prefix_filter, {"Key": "ExecutionStatus", "Values": ["Failed"]}) == {bad_id}
    assert ids({"Key": "ExecutionId", "Values": [ok_id]}) == {ok_id}
    assert ids(prefix_filter, {"Key": "TagKey", "Values": ["team"]}) == {ok_id}
    assert ids(prefix_filter, {"Key": "StartTimeAfter", "Values": [before.strftime("%Y-%m-%dT%H:%M:%SZ")]}) == {
        ok_id,
        bad_id,
    }
    assert ids(prefix_filter, {"Key": "StartTimeBefore", "Values": [before.strftime("%Y-%m-%dT%H:%M:%SZ")]}) == set()
    assert ids(prefix_filter, {"Key": "AutomationType", "Values": ["Local"]}) == {ok_id, bad_id}
    assert ids(prefix_filter, {"Key": "ParentExecutionId", "Values": [ok_id]}) == set()
    (meta,) = rb.ssm.describe_automation_executions(Filters=[{"Key": "ExecutionId", "Values": [bad_id]}])[
        "AutomationExecutionMetadataList"
    ]
    assert meta["AutomationExecutionStatus"] == "Failed"
    assert meta["DocumentName"] == bad_doc
    assert meta["AutomationType"] == "Local"
    assert "Nope" in meta["FailureMessage"]


def test_describe_executions_current_action(rb: Runbooks, sandbox: Any) -> None:
    execution_id = rb.start(rb.create(runbook({"name": "Hold", "action": "aws:pause", "inputs": {}})))
    rb.wait(execution_id, ["Waiting"])
    found = rb.ssm.describe_automation_executions(Filters=[{"Key": "CurrentAction", "Values": ["aws:pause"]}])
    assert execution_id in {m["AutomationExecutionId"] for m in found["AutomationExecutionMetadataList"]}
    rb.ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    rb.wait(execution_id)


def test_describe_executions_paging_and_errors(rb: Runbooks) -> None:
    prefix = unique("Paging")
    name = rb.create(runbook(sleep_step("A")), prefix)
    started = {rb.start(name) for _ in range(3)}
    first = rb.ssm.describe_automation_executions(
        Filters=[{"Key": "DocumentNamePrefix", "Values": [prefix]}], MaxResults=2
    )
    assert len(first["AutomationExecutionMetadataList"]) == 2
    second = rb.ssm.describe_automation_executions(
        Filters=[{"Key": "DocumentNamePrefix", "Values": [prefix]}], MaxResults=2, NextToken=first["NextToken"]
    )
    assert "NextToken" not in second
    seen = {m["AutomationExecutionId"] for m in first["AutomationExecutionMetadataList"]}
    seen |= {m["AutomationExecutionId"] for m in second["AutomationExecutionMetadataList"]}
    assert seen == started
    with pytest.raises(ClientError) as err:
        rb.ssm.describe_automation_executions(NextToken="garbage")
    assert _code(err) == "InvalidNextToken"
    with pytest.raises(ClientError) as err:
        rb.ssm.describe_automation_executions(Filters=[{"Key": "ExecutionStatus", "Values": ["Sleeping"]}])
    assert _code(err) == "InvalidFilterValue"
    with pytest.raises(ClientError) as err:
        rb.ssm.describe_automation_executions(Filters=[{"Key": "StartTimeAfter", "Values": ["yesterday"]}])
    assert _code(err) == "InvalidFilterValue"
    for execution_id in started:
        rb.wait(execution_id)


# ------------------------------------------------------------------------------------ DescribeAutomationStepExecutions


def test_describe_step_executions(rb: Runbooks) -> None:
    doc = runbook(
        sleep_step("First"),
        {
            "name": "Boom",
            "action": "aws:executeAwsApi",
            "inputs": {"Service": "s3", "Api": "Nope"},
            "onFailure": "Continue",
        },
        sleep_step("Last"),
        sleep_step("Skipped"),
    )
    doc["mainSteps"][2]["isEnd"] = True
    execution_id = rb.wait(rb.start(rb.create(doc)))["AutomationExecutionId"]

    def names(**kwargs: Any) -> list[str]:
        response = rb.ssm.describe_automation_step_executions(AutomationExecutionId=execution_id, **kwargs)
        return [s["StepName"] for s in response["StepExecutions"]]

    assert names() == ["First", "Boom", "Last", "Skipped"]
    assert names(ReverseOrder=True) == ["Skipped", "Last", "Boom", "First"]
    assert names(Filters=[{"Key": "StepExecutionStatus", "Values": ["Failed"]}]) == ["Boom"]
    assert names(Filters=[{"Key": "StepName", "Values": ["First", "Last"]}]) == ["First", "Last"]
    assert names(Filters=[{"Key": "Action", "Values": ["aws:executeAwsApi"]}]) == ["Boom"]
    boom_id = rb.ssm.describe_automation_step_executions(
        AutomationExecutionId=execution_id, Filters=[{"Key": "StepName", "Values": ["Boom"]}]
    )["StepExecutions"][0]["StepExecutionId"]
    assert names(Filters=[{"Key": "StepExecutionId", "Values": [boom_id]}]) == ["Boom"]
    page = rb.ssm.describe_automation_step_executions(AutomationExecutionId=execution_id, MaxResults=3)
    assert len(page["StepExecutions"]) == 3
    rest = rb.ssm.describe_automation_step_executions(
        AutomationExecutionId=execution_id, MaxResults=3, NextToken=page["NextToken"]
    )
    assert [s["StepName"] for s in rest["StepExecutions"]] == ["Skipped"]
    with pytest.raises(ClientError) as err:
        rb.ssm.describe_automation_step_executions(AutomationExecutionId=NOT_FOUND_ID)
    assert _code(err) == "AutomationExecutionNotFoundException"


# ------------------------------------------------------------------------------------ SendAutomationSignal / Stop


def test_send_automation_signal_errors(rb: Runbooks) -> None:
    execution_id = rb.wait(rb.start(rb.create(runbook(sleep_step("A")))))["AutomationExecutionId"]
    with pytest.raises(ClientError) as err:
        rb.ssm.send_automation_signal(AutomationExecutionId=NOT_FOUND_ID, SignalType="Approve")
    assert _code(err) == "AutomationExecutionNotFoundException"
    with pytest.raises(ClientError) as err:
        rb.ssm.send_automation_signal(AutomationExecutionId=execution_id, SignalType="Approve")
    assert _code(err) == "InvalidAutomationSignalException"
    with pytest.raises(ClientError) as err:
        rb.ssm.send_automation_signal(
            AutomationExecutionId=execution_id, SignalType="StartStep", Payload={"StepName": ["A"]}
        )
    assert _code(err) == "InvalidAutomationSignalException"


def test_stop_automation_execution(rb: Runbooks) -> None:
    execution_id = rb.start(rb.create(runbook(sleep_step("Long", "PT1H"))))
    rb.wait_step(execution_id, "Long", ["InProgress"])
    assert (
        rb.ssm.stop_automation_execution(AutomationExecutionId=execution_id)["ResponseMetadata"]["HTTPStatusCode"]
        == 200
    )
    assert rb.wait(execution_id)["AutomationExecutionStatus"] == "Cancelled"
    with pytest.raises(ClientError) as err:
        rb.ssm.stop_automation_execution(AutomationExecutionId=execution_id)
    assert _code(err) == "InvalidAutomationStatusUpdateException"
    with pytest.raises(ClientError) as err:
        rb.ssm.stop_automation_execution(AutomationExecutionId=NOT_FOUND_ID)
    assert _code(err) == "AutomationExecutionNotFoundException"


# ------------------------------------------------------------------------------------ documents


@pytest.mark.parametrize(
    ("step", "problem"),
    [
        ({"name": "A", "action": "aws:doMagic", "inputs": {}}, "step A: unknown action aws:doMagic"),
        ({"name": "A", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}, "nextStep": "B"}, "goes to unknown step"),
        (
            {"name": "A", "action": "aws:branch", "inputs": {"Choices": [{"NextStep": "A", "Variable": "x"}]}},
            "needs exactly one operator",
        ),
    ],
)
def test_create_document_refuses_what_aws_refuses(rb: Runbooks, step: dict[str, Any], problem: str) -> None:
    with pytest.raises(ClientError) as err:
        rb.create(runbook(step))
    assert _code(err) == "InvalidDocumentContent"
    assert problem in _message(err)


def test_update_document_is_checked_too(rb: Runbooks) -> None:
    name = rb.create(runbook(sleep_step("A")))
    bad = yaml.safe_dump(runbook({"name": "A", "action": "aws:sleep", "inputs": {}, "onFailure": "step:Gone"}))
    with pytest.raises(ClientError) as err:
        rb.ssm.update_document(Content=bad, Name=name, DocumentVersion="$LATEST", DocumentFormat="YAML")
    assert _code(err) == "InvalidDocumentContent"
    assert "unknown step 'Gone' (onFailure)" in _message(err)
    good = runbook(sleep_step("A"), sleep_step("B"))
    rb.ssm.update_document(Content=yaml.safe_dump(good), Name=name, DocumentVersion="$LATEST", DocumentFormat="YAML")


# ------------------------------------------------------------------------------------ AWS-owned documents


def test_aws_owned_documents_are_listed_described_and_readable(rb: Runbooks) -> None:
    pages = rb.ssm.get_paginator("list_documents").paginate(Filters=[{"Key": "Owner", "Values": ["Amazon"]}])
    listed = {d["Name"]: d for page in pages for d in page["DocumentIdentifiers"]}
    for name in (
        "AWS-EnableS3BucketEncryption",
        "AWSConfigRemediation-EnableRDSInstanceBackup",
        "AWSConfigRemediation-ConfigureS3BucketPublicAccessBlock",
    ):
        assert listed[name]["Owner"] == "Amazon"
        assert listed[name]["DocumentType"] == "Automation"
        assert listed[name]["SchemaVersion"] == "0.3"
    described = rb.ssm.describe_document(Name="AWSConfigRemediation-EnableRDSInstanceBackup")["Document"]
    assert described["Owner"] == "Amazon"
    assert {p["Name"] for p in described["Parameters"]} >= {"DbiResourceId", "BackupRetentionPeriod"}
    content = rb.ssm.get_document(Name="AWS-EnableS3BucketEncryption", DocumentFormat="YAML")["Content"]
    assert yaml.safe_load(content)["schemaVersion"] == "0.3"
    own = rb.ssm.list_documents(Filters=[{"Key": "Owner", "Values": ["Self"]}])["DocumentIdentifiers"]
    assert not any(d["Owner"] == "Amazon" for d in own)


def test_aws_owned_documents_exist_in_every_region(sandbox: Any) -> None:
    ssm = sandbox.client("ssm", region_name="us-west-2")
    assert ssm.describe_document(Name="AWS-ConfigureS3BucketVersioning")["Document"]["Owner"] == "Amazon"
