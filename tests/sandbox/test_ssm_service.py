"""The engine as an in-process service (``app.services["ssm_automation"]``), the way Config's
StartRemediationExecution uses it: same errors as the API, the same AutomationExecution structure."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import yaml
from moto.backends import get_backend

from sandbox.server import AwsError, RequestContext, SandboxApp, build_app
from sandbox.ssm import AutomationEngine
from sandbox.ssm.engine import approver_matches, partition

ACCOUNT, REGION = "123456789012", "ap-northeast-1"
CTX = RequestContext(
    service="config", operation="StartRemediationExecution", region=REGION, account_id=ACCOUNT, access_key_id="config"
)
DOC = {
    "schemaVersion": "0.3",
    "parameters": {"Mode": {"type": "String", "allowedValues": ["a", "b"]}},
    "mainSteps": [
        {
            "name": "Choose",
            "action": "aws:branch",
            "inputs": {"Choices": [{"NextStep": "B", "Variable": "{{ Mode }}", "StringEquals": "b"}], "Default": "A"},
        },
        {"name": "A", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}, "isEnd": True},
        {"name": "B", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}},
    ],
}


@pytest.fixture(scope="module")
def app() -> SandboxApp:
    return build_app()


@pytest.fixture(scope="module")
def engine(app: SandboxApp) -> AutomationEngine:
    service = app.services["ssm_automation"]
    assert isinstance(service, AutomationEngine)
    return service


@pytest.fixture(scope="module")
def document() -> str:
    name = f"Service-{uuid.uuid4().hex[:10]}"
    get_backend("ssm")[ACCOUNT][REGION].create_document(
        content=yaml.safe_dump(DOC),
        requires=[],
        attachments=[],
        name=name,
        version_name=None,  # type: ignore[arg-type]
        document_type="Automation",
        document_format="YAML",
        target_type=None,  # type: ignore[arg-type]
        tags=[],
    )
    return name


def _wait(engine: AutomationEngine, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        execution = engine.get_execution(execution_id)
        if execution["AutomationExecutionStatus"] in ("Success", "Failed", "TimedOut", "Cancelled"):
            return execution
        time.sleep(0.02)
    raise AssertionError(f"execution {execution_id} did not finish")


def test_start_and_get_through_the_service(engine: AutomationEngine, document: str) -> None:
    execution_id = engine.start_execution(CTX, document, {"Mode": ["b"]})
    execution = _wait(engine, execution_id)
    assert execution["AutomationExecutionStatus"] == "Success"
    assert execution["ExecutedBy"] == "arn:aws:iam::123456789012:user/config"
    assert {s["StepName"]: s["StepStatus"] for s in execution["StepExecutions"]} == {
        "Choose": "Success",
        "A": "Pending",
        "B": "Success",
    }
    assert execution["Parameters"] == {"Mode": ["b"]}


def test_service_errors_are_the_apis(engine: AutomationEngine, document: str) -> None:
    with pytest.raises(AwsError) as err:
        engine.start_execution(CTX, document, {"Mode": ["c"]})
    assert err.value.code == "InvalidAutomationExecutionParametersException"
    with pytest.raises(AwsError) as err:
        engine.start_execution(CTX, "NoSuchDocument-" + uuid.uuid4().hex, {})
    assert err.value.code == "AutomationDefinitionNotFoundException"
    with pytest.raises(AwsError) as err:
        engine.get_execution(str(uuid.uuid4()))
    assert err.value.code == "AutomationExecutionNotFoundException"


def test_service_client_token(engine: AutomationEngine, document: str) -> None:
    token = str(uuid.uuid4())
    first = engine.start_execution(CTX, document, {"Mode": ["a"]}, client_token=token)
    assert engine.start_execution(CTX, document, {"Mode": ["a"]}, client_token=token) == first
    with pytest.raises(AwsError) as err:
        engine.start_execution(CTX, document, {"Mode": ["b"]}, client_token=token)
    assert err.value.code == "IdempotentParameterMismatch"
    _wait(engine, first)


def test_api_calls_need_the_servers_endpoint(engine: AutomationEngine) -> None:
    """Without a listening server (no app.self_url) a step's AWS call fails its step, it does not hang."""
    name = f"Service-{uuid.uuid4().hex[:10]}"
    content = {
        "schemaVersion": "0.3",
        "mainSteps": [
            {"name": "Call", "action": "aws:executeAwsApi", "inputs": {"Service": "s3", "Api": "ListBuckets"}}
        ],
    }
    get_backend("ssm")[ACCOUNT][REGION].create_document(
        content=yaml.safe_dump(content),
        requires=[],
        attachments=[],
        name=name,
        version_name=None,  # type: ignore[arg-type]
        document_type="Automation",
        document_format="YAML",
        target_type=None,  # type: ignore[arg-type]
        tags=[],
    )
    execution = _wait(engine, engine.start_execution(CTX, name, {}))
    assert execution["AutomationExecutionStatus"] == "Failed"
    assert "not listening" in execution["FailureMessage"]


def test_reset_forgets_executions(document: str) -> None:
    engine = AutomationEngine()
    execution_id = engine.start_execution(CTX, document, {"Mode": ["a"]})
    engine.reset()
    with pytest.raises(AwsError):
        engine.get_execution(execution_id)


@pytest.mark.parametrize(
    ("approver", "caller", "matches"),
    [
        ("alice", "arn:aws:iam::123456789012:user/alice", True),
        ("alice", "arn:aws:iam::123456789012:user/bob", False),
        ("arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:user/alice", True),
        ("arn:aws:iam::123456789012:user/ops/alice", "arn:aws:iam::123456789012:user/alice", True),
        ("arn:aws:iam::111111111111:user/alice", "arn:aws:iam::123456789012:user/alice", False),
        ("arn:aws:iam::123456789012:role/Approver", "arn:aws:sts::123456789012:assumed-role/Approver/s1", True),
        ("arn:aws:iam::123456789012:role/Approver", "arn:aws:sts::123456789012:assumed-role/Other/s1", False),
        (
            "arn:aws:sts::123456789012:assumed-role/Approver/s1",
            "arn:aws:sts::123456789012:assumed-role/Approver/s1",
            True,
        ),
    ],
)
def test_approvers_name_principals_as_aws_does(approver: str, caller: str, matches: bool) -> None:
    assert approver_matches(approver, caller, ACCOUNT) is matches


def test_partitions() -> None:
    assert partition("ap-northeast-1") == "aws"
    assert partition("cn-north-1") == "aws-cn"
    assert partition("us-gov-west-1") == "aws-us-gov"
