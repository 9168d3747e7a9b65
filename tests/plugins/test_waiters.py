"""The SSM Automation waiters (waiters/ssm.json), over every status AWS documents.

The waiter logic is botocore's own; what is ours is the acceptor table. A botocore Stubber answers
GetAutomationExecution with each status (no HTTP), so every acceptor is exercised.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import WaiterError
from botocore.stub import Stubber

from drift_repair.core.remediation import FAILURE_STATUSES, SUCCESS_STATUSES
from drift_repair.hooks.ssm import SsmAutomationHook

EXECUTION = "11111111-2222-3333-4444-555555555555"
FINISHED = (*SUCCESS_STATUSES, *FAILURE_STATUSES)
ON_THE_WAY = ("Pending", "InProgress", "Waiting", "Cancelling")


def client_answering(*statuses: str):  # type: ignore[no-untyped-def]
    client = boto3.client("ssm", region_name="ap-northeast-1", endpoint_url="http://127.0.0.1:9")
    stub = Stubber(client)
    for status in statuses:
        stub.add_response(
            "get_automation_execution",
            {"AutomationExecution": {"AutomationExecutionId": EXECUTION, "AutomationExecutionStatus": status}},
            {"AutomationExecutionId": EXECUTION},
        )
    stub.activate()
    return client, stub


def wait(name: str, client, attempts: int = 3) -> None:  # type: ignore[no-untyped-def]
    waiter = SsmAutomationHook(aws_conn_id=None, region_name="ap-northeast-1").get_waiter(name, client=client)
    waiter.wait(AutomationExecutionId=EXECUTION, WaiterConfig={"Delay": 0, "MaxAttempts": attempts})


def test_the_hook_finds_its_own_waiters() -> None:
    hook = SsmAutomationHook(aws_conn_id=None, region_name="ap-northeast-1")
    assert {"automation_execution_complete", "automation_execution_waiting"} <= set(hook._list_custom_waiters())


@pytest.mark.parametrize("status", FINISHED)
def test_complete_waiter_returns_on_every_terminal_status(status: str) -> None:
    client, stub = client_answering("InProgress", status)
    wait("automation_execution_complete", client)
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("status", ON_THE_WAY)
def test_complete_waiter_keeps_polling_while_running(status: str) -> None:
    client, _ = client_answering(status, status)
    with pytest.raises(WaiterError, match="Max attempts exceeded"):
        wait("automation_execution_complete", client, attempts=2)


@pytest.mark.parametrize("status", ("Waiting", "Success", "Failed", "TimedOut", "Cancelled"))
def test_waiting_waiter_returns_when_an_approval_waits_or_the_run_ended(status: str) -> None:
    client, stub = client_answering("Pending", "InProgress", status)
    wait("automation_execution_waiting", client, attempts=4)
    stub.assert_no_pending_responses()


def test_waiting_waiter_keeps_polling_while_in_progress() -> None:
    client, _ = client_answering("InProgress", "InProgress")
    with pytest.raises(WaiterError):
        wait("automation_execution_waiting", client, attempts=2)
