"""The Airflow layer against the sandbox: hook, operator (approval relay), sensor, trigger run()."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from drift_repair.core.approvals import answer_from_hitl, decide
from drift_repair.core.remediation import client_token
from drift_repair.hooks.ssm import SsmAutomationHook
from drift_repair.operators.ssm import SsmStartAutomationExecutionOperator
from drift_repair.sensors.ssm import SsmAutomationExecutionSensor
from drift_repair.triggers.ssm import SsmAutomationExecutionTrigger

pytestmark = pytest.mark.sandbox
CONN = "aws_plugin_tests"

RUNBOOK = {
    "schemaVersion": "0.3",
    "description": "approve, then fail or succeed on request",
    "parameters": {
        "Approvers": {"type": "StringList"},
        "Outcome": {"type": "String", "allowedValues": ["pass", "fail"], "default": "pass"},
    },
    "mainSteps": [
        {
            "name": "Approve",
            "action": "aws:approve",
            "timeoutSeconds": 60,
            "onFailure": "Abort",
            "inputs": {"Approvers": "{{ Approvers }}", "MinRequiredApprovals": 1, "Message": "repair?"},
        },
        {
            "name": "Decide",
            "action": "aws:branch",
            "inputs": {
                "Choices": [{"NextStep": "Change", "Variable": "{{ Outcome }}", "StringEquals": "fail"}],
                "Default": "Done",
            },
        },
        {
            "name": "Change",
            "action": "aws:executeAwsApi",
            "maxAttempts": 1,
            "onFailure": "step:Rollback",
            "inputs": {"Service": "s3", "Api": "GetBucketVersioning", "Bucket": "no-such-bucket-anywhere"},
        },
        {"name": "Rollback", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}, "nextStep": "Fail"},
        {
            "name": "Fail",
            "action": "aws:executeAwsApi",
            "isEnd": True,
            "inputs": {"Service": "s3", "Api": "GetBucketVersioning", "Bucket": "no-such-bucket-anywhere"},
        },
        {"name": "Done", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}, "isEnd": True},
    ],
}


@pytest.fixture(scope="module")
def connection(sandbox) -> str:  # type: ignore[no-untyped-def]
    os.environ[f"AIRFLOW_CONN_{CONN.upper()}"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": sandbox.url, "region_name": "ap-northeast-1"},
        }
    )
    return CONN


@pytest.fixture(scope="module")
def document(sandbox) -> str:  # type: ignore[no-untyped-def]
    name = f"DriftRepairTest-{uuid.uuid4().hex[:8]}"
    sandbox.client("ssm").create_document(
        Content=yaml.safe_dump(RUNBOOK), Name=name, DocumentType="Automation", DocumentFormat="YAML"
    )
    return name


class FakeTI:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def context() -> dict[str, Any]:
    return {"ti": FakeTI(), "dag": SimpleNamespace(dag_id="drift_repair__dev"), "run_id": "manual__test"}


def approval(choice: str = "Approve") -> dict[str, Any]:
    hitl = {
        "chosen_options": [choice],
        "responded_by_user": {"id": "alice", "name": "Alice"},
        "responded_at": "2026-11-30T03:00:00+00:00",
        "params_input": {},
    }
    return decide([answer_from_hitl(hitl)], 1).to_dict()


def item(document: str, outcome: str = "pass", resource: str = "bucket-a") -> dict[str, Any]:
    return {
        "item_key": f"{resource}|rule",
        "resource_address": "aws_s3_bucket.a",
        "resource_id": resource,
        "config_resource_type": "AWS::S3::Bucket",
        "config_rule": "rule",
        "runbook": document,
        "document_version": None,
        "attributes": ["versioning"],
        "parameters": {"Approvers": ["testing"], "Outcome": [outcome]},
        "client_token": client_token("drift_repair__dev", str(uuid.uuid4()), resource, document),
        "poll_seconds": 1,
    }


def start(connection: str, payload: dict[str, Any], approval_record: dict[str, Any]) -> tuple[dict, dict]:
    op = SsmStartAutomationExecutionOperator(
        task_id="start",
        item=payload,
        approval=approval_record,
        aws_conn_id=connection,
        deferrable=False,
        waiter_delay=1,
    )
    ctx = context()
    return op.execute(ctx), ctx


def wait(connection: str, started: dict[str, Any]) -> dict[str, Any]:
    sensor = SsmAutomationExecutionSensor(
        task_id="wait",
        execution_id=started,
        aws_conn_id=connection,
        deferrable=False,
        poke_interval=0.2,
        timeout=60,
        fail_on_failed_runbook=False,
    )
    ctx = context()
    sensor.execute(ctx)
    return ctx["ti"].xcom["outcome"]


def test_start_relays_the_approval_and_the_sensor_reports_success(connection: str, document: str) -> None:
    payload = item(document)
    started, ctx = start(connection, payload, approval())
    assert started["approval_relayed"] is True
    assert ctx["ti"].xcom["_ssm_automation_execution"]["execution_id"] == started["execution_id"]
    assert ctx["ti"].xcom["_config_rule"]["rule_name"] == "rule"  # the Config rule's console link
    outcome = wait(connection, started)
    assert (outcome["status"], outcome["state"], outcome["exit_code"]) == ("Success", "EXECUTING", 0)
    approve = next(s for s in outcome["steps"] if s["StepName"] == "Approve")
    assert approve["StepStatus"] == "Success"
    # the approval comment names the approver and the run
    execution = SsmAutomationHook(aws_conn_id=connection).get_automation_execution(started["execution_id"])
    decisions = json.dumps(execution["StepExecutions"][0].get("Outputs", {}))
    assert "approved by Alice in drift_repair__dev/manual__test" in decisions
    # a retried task (same ClientToken) gets the same execution, never a second repair
    again, _ = start(connection, payload, approval())
    assert again["execution_id"] == started["execution_id"]


def test_rollback_is_reported_with_exit_code_2(connection: str, document: str) -> None:
    started, _ = start(connection, item(document, "fail", "bucket-b"), approval())
    outcome = wait(connection, started)
    assert (outcome["state"], outcome["exit_code"]) == ("ROLLED_BACK", 2)


def test_no_approval_record_no_aws_call(connection: str, document: str, sandbox) -> None:  # type: ignore[no-untyped-def]
    from airflow.sdk.exceptions import AirflowFailException

    before = sandbox.client("ssm").describe_automation_executions(
        Filters=[{"Key": "DocumentNamePrefix", "Values": [document]}]
    )["AutomationExecutionMetadataList"]
    for record in (None, approval("Reject")):
        with pytest.raises(AirflowFailException, match="refusing to repair without an approval record"):
            start(connection, item(document, resource="bucket-c"), record)  # type: ignore[arg-type]
    after = sandbox.client("ssm").describe_automation_executions(
        Filters=[{"Key": "DocumentNamePrefix", "Values": [document]}]
    )["AutomationExecutionMetadataList"]
    assert len(after) == len(before)


def test_trigger_run_waits_in_the_triggerer(connection: str, document: str, sandbox) -> None:  # type: ignore[no-untyped-def]
    ssm = sandbox.client("ssm")
    execution_id = ssm.start_automation_execution(DocumentName=document, Parameters={"Approvers": ["testing"]})[
        "AutomationExecutionId"
    ]
    trigger = SsmAutomationExecutionTrigger(
        execution_id=execution_id,
        waiter_name="automation_execution_waiting",
        waiter_delay=1,
        waiter_max_attempts=30,
        aws_conn_id=connection,
    )

    async def first_event() -> Any:
        async for event in trigger.run():
            return event
        return None

    event = asyncio.run(first_event())
    assert event.payload == {"status": "success", "execution_id": execution_id}
    status = ssm.get_automation_execution(AutomationExecutionId=execution_id)["AutomationExecution"]
    assert status["AutomationExecutionStatus"] == "Waiting"
    ssm.stop_automation_execution(AutomationExecutionId=execution_id)
