"""State of an automation execution and its steps, and how the API shows it.

One ``Execution`` per StartAutomationExecution. Its ``cond`` (a Condition over the execution's own lock)
guards every field: the runner thread changes them under it, API handlers read consistent snapshots under
it, and signals (approve, reject, resume, stop) change them under it and wake the runner.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from drift_repair.core.runbook import Runbook, Step
from drift_repair.core.runbook_eval import display_values

# AutomationExecutionStatus values the engine uses (AWS's enum has more, for change requests and rate control).
PENDING = "Pending"
IN_PROGRESS = "InProgress"
WAITING = "Waiting"
SUCCESS = "Success"
TIMED_OUT = "TimedOut"
CANCELLING = "Cancelling"
CANCELLED = "Cancelled"
FAILED = "Failed"
ACTIVE_STATUSES = frozenset({PENDING, IN_PROGRESS, WAITING, CANCELLING})
TERMINAL_STATUSES = frozenset({SUCCESS, TIMED_OUT, CANCELLED, FAILED})
NO_OUTPUT = "No output available yet because the step is not successfully executed"


@dataclass
class StepRecord:
    """One StepExecution. Every step of the runbook has one from the start (Pending until it runs)."""

    step: Step
    step_execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = PENDING
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, list[str]] = field(default_factory=dict)
    failure_message: str | None = None
    failure_details: dict[str, Any] | None = None
    attempts: int = 0

    def to_api(self) -> dict[str, Any]:
        step = self.step
        out: dict[str, Any] = {
            "StepName": step.name,
            "Action": step.action,
            "OnFailure": step.on_failure,
            "MaxAttempts": step.max_attempts,
            "StepStatus": self.status,
            "Inputs": dict(self.inputs),
            "StepExecutionId": self.step_execution_id,
            "IsEnd": step.is_end,
            "IsCritical": step.is_critical,
        }
        if step.timeout_seconds is not None:
            out["TimeoutSeconds"] = step.timeout_seconds
        if step.next_step:
            out["NextStep"] = step.next_step
        if self.start is not None:
            out["ExecutionStartTime"] = self.start
        if self.end is not None:
            out["ExecutionEndTime"] = self.end
        if self.outputs:
            out["Outputs"] = {k: list(v) for k, v in self.outputs.items()}
        if self.failure_message:
            out["FailureMessage"] = self.failure_message
        if self.failure_details:
            out["FailureDetails"] = json.loads(json.dumps(self.failure_details))
        return out


@dataclass
class Approval:
    """The aws:approve step an execution is waiting on, and the decisions received so far."""

    step_name: str
    approvers: list[str]
    min_required: int
    decisions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def approved(self) -> bool:
        return sum(1 for d in self.decisions if d["Type"] == "Approve") >= self.min_required

    @property
    def rejection(self) -> dict[str, Any] | None:
        return next((d for d in self.decisions if d["Type"] == "Reject"), None)


@dataclass
class Execution:
    """One automation execution."""

    execution_id: str
    document_name: str
    document_version: str
    runbook: Runbook
    account_id: str
    region: str
    executed_by: str
    parameter_values: dict[str, Any]
    parameter_display: dict[str, list[str]]
    start: dt.datetime
    mode: str = "Auto"
    tags: list[dict[str, str]] = field(default_factory=list)
    status: str = PENDING
    end: dt.datetime | None = None
    failure_message: str | None = None
    current_step: Step | None = None
    steps: list[StepRecord] = field(default_factory=list)
    # values of step outputs, typed: (step name, output name) -> value
    output_values: dict[tuple[str, str], Any] = field(default_factory=dict)
    approval: Approval | None = None
    paused_step: str | None = None
    resume_requested: bool = False
    stop_requested: bool = False
    stopped_during: str | None = None  # the step running when StopAutomationExecution arrived
    in_cancel_flow: bool = False
    cancel_flow_deadline: float | None = None
    abandoned: bool = False  # the sandbox was reset: stop at once, record nothing more
    cond: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        if not self.steps:
            self.steps = [StepRecord(step, inputs=encode_inputs(step.inputs)) for step in self.runbook.steps]

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def record_for(self, step: Step) -> StepRecord:
        """The StepExecution for a step about to run: its Pending one, or a new one if it ran before."""
        for record in self.steps:
            if record.step.name == step.name and record.status == PENDING and record.start is None:
                return record
        record = StepRecord(step, inputs=encode_inputs(step.inputs))
        self.steps.append(record)
        return record

    def document_outputs(self) -> dict[str, list[str]]:
        outputs: dict[str, list[str]] = {}
        for ref in self.runbook.outputs:
            step_name, _, output_name = ref.partition(".")
            if (step_name, output_name) in self.output_values:
                outputs[ref] = display_values(self.output_values[(step_name, output_name)])
            else:
                outputs[ref] = [NO_OUTPUT]
        return outputs

    def _common(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "AutomationExecutionId": self.execution_id,
            "DocumentName": self.document_name,
            "DocumentVersion": self.document_version,
            "ExecutionStartTime": self.start,
            "AutomationExecutionStatus": self.status,
            "ExecutedBy": self.executed_by,
            "Mode": self.mode,
            "Targets": [],
            "ResolvedTargets": {"ParameterValues": [], "Truncated": False},
        }
        if self.end is not None:
            out["ExecutionEndTime"] = self.end
        outputs = self.document_outputs()
        if outputs:
            out["Outputs"] = outputs
        if self.failure_message:
            out["FailureMessage"] = self.failure_message
        if self.current_step is not None and self.active:
            out["CurrentStepName"] = self.current_step.name
            out["CurrentAction"] = self.current_step.action
        return out

    def to_api(self) -> dict[str, Any]:
        """The AutomationExecution structure of GetAutomationExecution."""
        out = self._common()
        out["StepExecutions"] = [r.to_api() for r in self.steps]
        out["StepExecutionsTruncated"] = False
        if self.parameter_display:
            out["Parameters"] = {k: list(v) for k, v in self.parameter_display.items()}
        out["ProgressCounters"] = {
            "TotalSteps": len(self.steps),
            "SuccessSteps": sum(1 for r in self.steps if r.status == SUCCESS),
            "FailedSteps": sum(1 for r in self.steps if r.status == FAILED),
            "CancelledSteps": sum(1 for r in self.steps if r.status == CANCELLED),
            "TimedOutSteps": sum(1 for r in self.steps if r.status == TIMED_OUT),
        }
        return out

    def metadata(self) -> dict[str, Any]:
        """The AutomationExecutionMetadata structure of DescribeAutomationExecutions."""
        out = self._common()
        out["LogFile"] = ""
        out["AutomationType"] = "Local"
        return out


def encode_inputs(inputs: Any) -> dict[str, str]:
    """StepExecution.Inputs: each input as JSON text, as AWS shows them (``"Service": "\\"s3\\""``)."""
    if not isinstance(inputs, dict):
        return {}
    return {str(k): json.dumps(v, default=str) for k, v in inputs.items()}
