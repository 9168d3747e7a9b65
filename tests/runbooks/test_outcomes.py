"""The runbooks' step names against the DAG's outcome mapping (core/remediation.py: execution_outcome).

Each scenario is the step record a run of a real runbook leaves (GetAutomationExecution's StepExecutions):
the names and actions come from the YAML, so renaming a step in a way the DAG would misread fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from drift_repair.core.remediation import (
    EXIT_APPROVAL_TIMEOUT,
    EXIT_FAILED,
    EXIT_ROLLBACK_FAILED,
    EXIT_ROLLED_BACK,
    EXIT_VERIFIED,
    execution_outcome,
)
from tests.runbooks.support import RunbookFile, runbook_files

RUNBOOKS = runbook_files()


def _execution(rb: RunbookFile, status: str, steps: dict[str, str]) -> dict[str, Any]:
    actions = {s["name"]: s["action"] for s in rb.steps}
    return {
        "AutomationExecutionStatus": status,
        "FailureMessage": "" if status == "Success" else "Step fails when it is Executing.",
        "StepExecutions": [{"StepName": n, "Action": actions[n], "StepStatus": st} for n, st in steps.items()],
    }


def _apply(rb: RunbookFile) -> str:
    return next(s["name"] for s in rb.steps if s["name"].startswith("Apply"))


def _verify(rb: RunbookFile) -> str:
    return [s["name"] for s in rb.steps if s["name"].startswith("Verify")][-1]


def _before_change(rb: RunbookFile) -> dict[str, str]:
    first = rb.steps[0]["name"]
    return {first: "Success", "LoopGuard": "Success", "ApproveChange": "Success", "SavePreState": "Success"}


@pytest.mark.parametrize("rb", RUNBOOKS, ids=[r.name for r in RUNBOOKS])
def test_step_records_map_to_the_documented_exit_codes(rb: RunbookFile) -> None:
    apply, verify = _apply(rb), _verify(rb)
    verified = _execution(rb, "Success", {**_before_change(rb), apply: "Success", verify: "Success"})
    assert execution_outcome(verified).exit_code == EXIT_VERIFIED

    compliant = _execution(rb, "Success", {rb.steps[0]["name"]: "Success"})
    assert execution_outcome(compliant).exit_code == EXIT_VERIFIED

    change_failed = {**_before_change(rb), apply: "Failed", "Rollback": "Success", "FailAfterRestore": "Failed"}
    assert execution_outcome(_execution(rb, "Failed", change_failed)).exit_code == EXIT_ROLLED_BACK

    rollback_failed = {**_before_change(rb), apply: "Success", verify: "Failed", "Rollback": "Failed"}
    assert execution_outcome(_execution(rb, "Failed", rollback_failed)).exit_code == EXIT_ROLLBACK_FAILED

    timed_out = {rb.steps[0]["name"]: "Success", "LoopGuard": "Success", "ApproveChange": "TimedOut"}
    assert execution_outcome(_execution(rb, "TimedOut", timed_out)).exit_code == EXIT_APPROVAL_TIMEOUT

    rejected = {rb.steps[0]["name"]: "Success", "LoopGuard": "Success", "ApproveChange": "Failed"}
    assert execution_outcome(_execution(rb, "Failed", rejected)).exit_code == EXIT_FAILED

    refused = {rb.steps[0]["name"]: "Success", "LoopGuard": "Failed"}
    assert execution_outcome(_execution(rb, "Failed", refused)).exit_code == EXIT_FAILED
