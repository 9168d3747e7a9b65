"""Config remediation: remediation configurations and the executions StartRemediationExecution starts.

A remediation configuration ties a Config rule to an SSM Automation document and says how to fill the
document's parameters: ``ResourceValue: RESOURCE_ID`` (the id of each resource remediated) or
``StaticValue`` (fixed values). StartRemediationExecution queues one execution per resource key
(``QUEUED``); a dispatcher starts the document through the sandbox's SSM Automation engine, looked up at
call time as ``app.services["ssm_automation"]`` (``IN_PROGRESS``); DescribeRemediationExecutionStatus then
mirrors the Automation execution (``SUCCEEDED`` / ``FAILED`` with its steps). When no engine is
registered, or the engine refuses the document, the execution is ``FAILED`` and its step says why.

The dispatcher can be paused (admin route) so that a test can see ``QUEUED`` without racing a thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from sandbox.server import AwsError, RequestContext

log = logging.getLogger("sandbox.config.remediation")

ACTIVE_STATES = frozenset({"QUEUED", "IN_PROGRESS"})

# AutomationExecutionStatus -> RemediationExecutionState
_EXECUTION_STATE = {
    "Pending": "IN_PROGRESS",
    "InProgress": "IN_PROGRESS",
    "Waiting": "IN_PROGRESS",
    "Cancelling": "IN_PROGRESS",
    "RunbookInProgress": "IN_PROGRESS",
    "PendingApproval": "IN_PROGRESS",
    "Approved": "IN_PROGRESS",
    "Scheduled": "IN_PROGRESS",
    "PendingChangeCalendarOverride": "IN_PROGRESS",
    "ChangeCalendarOverrideApproved": "IN_PROGRESS",
    "Success": "SUCCEEDED",
    "CompletedWithSuccess": "SUCCEEDED",
    "Failed": "FAILED",
    "TimedOut": "FAILED",
    "Cancelled": "FAILED",
    "Rejected": "FAILED",
    "CompletedWithFailure": "FAILED",
    "ChangeCalendarOverrideRejected": "FAILED",
    "Exited": "FAILED",
}
# StepStatus -> RemediationExecutionStepState
_STEP_STATE = {
    "Pending": "PENDING",
    "InProgress": "IN_PROGRESS",
    "Waiting": "IN_PROGRESS",
    "Success": "SUCCEEDED",
    "Failed": "FAILED",
    "TimedOut": "FAILED",
    "Cancelled": "FAILED",
    "Cancelling": "IN_PROGRESS",
    "Exited": "EXITED",
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Execution:
    """One resource's remediation under one rule."""

    rule_name: str
    resource_type: str
    resource_id: str
    document: str
    document_version: str | None
    parameters: dict[str, list[str]]
    ctx: RequestContext
    state: str = "QUEUED"
    automation_id: str | None = None
    failure: str | None = None  # why the document could not run (no engine, refused)
    steps: list[dict[str, Any]] = field(default_factory=list)
    invoked: dt.datetime = field(default_factory=_now)
    updated: dt.datetime = field(default_factory=_now)

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ResourceKey": {"resourceType": self.resource_type, "resourceId": self.resource_id},
            "State": self.state,
            "StepDetails": self.steps,
            "InvocationTime": self.invoked,
            "LastUpdatedTime": self.updated,
        }
        return out


def resolve_parameters(config: dict[str, Any], resource_id: str) -> dict[str, list[str]]:
    """The document parameters for one resource: RESOURCE_ID → [id], StaticValue → its values."""
    out: dict[str, list[str]] = {}
    for name, spec in (config.get("Parameters") or {}).items():
        if "ResourceValue" in spec:
            out[name] = [resource_id]
        elif "StaticValue" in spec:
            out[name] = [str(v) for v in spec["StaticValue"].get("Values", [])]
    return out


def validate_configuration(config: dict[str, Any]) -> str | None:
    """Why AWS would refuse this remediation configuration, or None."""
    if config.get("TargetType") != "SSM_DOCUMENT":
        return "TargetType must be SSM_DOCUMENT."
    if not config.get("TargetId"):
        return "TargetId (the SSM document name) is required."
    resource_params = 0
    for name, spec in (config.get("Parameters") or {}).items():
        kinds = [k for k in ("ResourceValue", "StaticValue") if k in spec]
        if len(kinds) != 1:
            return f"Parameter {name} must have exactly one of ResourceValue or StaticValue."
        if "ResourceValue" in spec:
            resource_params += 1
            if spec["ResourceValue"].get("Value") != "RESOURCE_ID":
                return f"Parameter {name}: ResourceValue must be RESOURCE_ID."
    if resource_params > 1:
        return "Only one parameter can take the RESOURCE_ID value."
    if config.get("Automatic") and not config.get("MaximumAutomaticAttempts"):
        return "MaximumAutomaticAttempts is required when Automatic is true."
    return None


class Remediations:
    """Executions of every account and region, and the dispatcher that starts them."""

    def __init__(self, services: dict[str, Any]) -> None:
        self.services = services
        self.lock = threading.RLock()
        self.queue: queue.Queue[Execution] = queue.Queue()
        self.running = threading.Event()
        self.running.set()
        self.worker: threading.Thread | None = None
        self.executions: dict[tuple[str, str, str, str, str], Execution] = {}

    # ------------------------------------------------------------------ control

    def pause(self, paused: bool) -> None:
        if paused:
            self.running.clear()
        else:
            self.running.set()

    def reset(self) -> None:
        with self.lock:
            self.executions.clear()
            while True:
                try:
                    self.queue.get_nowait()
                except queue.Empty:
                    break
        self.running.set()

    def _ensure_worker(self) -> None:
        with self.lock:
            if self.worker is None or not self.worker.is_alive():
                self.worker = threading.Thread(target=self._work, name="config-remediation", daemon=True)
                self.worker.start()

    def _work(self) -> None:
        while True:
            execution = self.queue.get()
            self.running.wait()
            try:
                self._start(execution)
            except Exception as exc:  # never let one execution kill the dispatcher
                log.exception("remediation dispatch failed")
                self._fail(execution, f"InternalError: {exc}")

    # ------------------------------------------------------------------ executions

    def active(self, account_id: str, region: str, rule: str, rtype: str, rid: str) -> bool:
        with self.lock:
            ex = self.executions.get((account_id, region, rule, rtype, rid))
            return ex is not None and ex.state in ACTIVE_STATES

    def start(self, ctx: RequestContext, config: dict[str, Any], keys: list[dict[str, str]]) -> list[dict[str, str]]:
        """Queue an execution per key; return the keys refused (a previous execution still runs)."""
        failed: list[dict[str, str]] = []
        started: list[Execution] = []
        with self.lock:
            for key in keys:
                rtype, rid = key.get("resourceType", ""), key.get("resourceId", "")
                index = (ctx.account_id, ctx.region, config["ConfigRuleName"], rtype, rid)
                current = self.executions.get(index)
                if current is not None and current.state in ACTIVE_STATES:
                    failed.append({"resourceType": rtype, "resourceId": rid})
                    continue
                execution = Execution(
                    rule_name=config["ConfigRuleName"],
                    resource_type=rtype,
                    resource_id=rid,
                    document=config["TargetId"],
                    document_version=config.get("TargetVersion"),
                    parameters=resolve_parameters(config, rid),
                    ctx=ctx,
                )
                self.executions[index] = execution
                started.append(execution)
        for execution in started:
            self.queue.put(execution)
        if started:
            self._ensure_worker()
        return failed

    def _engine(self) -> Any:
        return self.services.get("ssm_automation")

    def _start(self, execution: Execution) -> None:
        engine = self._engine()
        if engine is None:
            self._fail(
                execution, "The SSM Automation engine is not available in this sandbox; the document cannot run."
            )
            return
        ctx = RequestContext(
            service="ssm",
            operation="StartAutomationExecution",
            region=execution.ctx.region,
            account_id=execution.ctx.account_id,
            access_key_id=execution.ctx.access_key_id,
            headers={"x-sandbox-invoked-by": "config.amazonaws.com"},
        )
        try:
            automation_id = engine.start_execution(
                ctx, execution.document, execution.parameters, document_version=execution.document_version
            )
        except AwsError as exc:
            self._fail(execution, f"{exc.code}: {exc.message}")
            return
        record = self.services.get("call_record")
        if record is not None:
            record.add_internal(
                ctx,
                operation="StartAutomationExecution",
                service="ssm",
                resources=[("AWS::SSM::AutomationExecution", automation_id)],
                parameters={"DocumentName": execution.document, "Parameters": execution.parameters},
                invoked_by="config.amazonaws.com",
            )
        with self.lock:
            execution.automation_id = automation_id
            execution.state = "IN_PROGRESS"
            execution.updated = _now()

    def _fail(self, execution: Execution, reason: str) -> None:
        now = _now()
        with self.lock:
            execution.state = "FAILED"
            execution.failure = reason
            execution.steps = [
                {
                    "Name": "StartAutomationExecution",
                    "State": "FAILED",
                    "ErrorMessage": reason,
                    "StartTime": now,
                    "StopTime": now,
                }
            ]
            execution.updated = now

    def refresh(self, execution: Execution) -> None:
        """Bring an IN_PROGRESS execution up to date with its Automation execution."""
        if execution.state != "IN_PROGRESS" or execution.automation_id is None:
            return
        engine = self._engine()
        if engine is None:
            self._fail(execution, "The SSM Automation engine went away while the remediation ran.")
            return
        try:
            automation = engine.get_execution(execution.automation_id)
        except AwsError as exc:
            self._fail(execution, f"{exc.code}: {exc.message}")
            return
        state = _EXECUTION_STATE.get(str(automation.get("AutomationExecutionStatus")), "IN_PROGRESS")
        steps = []
        for step in automation.get("StepExecutions") or []:
            detail: dict[str, Any] = {
                "Name": step.get("StepName"),
                "State": _STEP_STATE.get(str(step.get("StepStatus")), "UNKNOWN"),
            }
            if step.get("FailureMessage"):
                detail["ErrorMessage"] = step["FailureMessage"]
            if step.get("ExecutionStartTime") is not None:
                detail["StartTime"] = step["ExecutionStartTime"]
            if step.get("ExecutionEndTime") is not None:
                detail["StopTime"] = step["ExecutionEndTime"]
            steps.append(detail)
        with self.lock:
            if state != execution.state or steps != execution.steps:
                execution.updated = _now()
            execution.state = state
            execution.steps = steps

    def statuses(self, account_id: str, region: str, rule: str, keys: list[dict[str, str]] | None) -> list[Execution]:
        with self.lock:
            found = [
                ex
                for (acct, reg, rname, rtype, rid), ex in self.executions.items()
                if acct == account_id
                and reg == region
                and rname == rule
                and (keys is None or {"resourceType": rtype, "resourceId": rid} in keys)
            ]
        for execution in found:
            self.refresh(execution)
        found.sort(key=lambda e: (e.invoked, e.resource_type, e.resource_id))
        return found

    def any_active(self, account_id: str, region: str, rule: str) -> bool:
        with self.lock:
            candidates = [
                ex
                for (acct, reg, rname, _t, _i), ex in self.executions.items()
                if (acct, reg, rname) == (account_id, region, rule)
            ]
        for execution in candidates:
            self.refresh(execution)
        return any(ex.state in ACTIVE_STATES for ex in candidates)

    def forget_rule(self, account_id: str, region: str, rule: str) -> None:
        with self.lock:
            for index in [k for k in self.executions if k[:3] == (account_id, region, rule)]:
                del self.executions[index]


def configuration_arn(region: str, account_id: str, rule: str) -> str:
    return f"arn:aws:config:{region}:{account_id}:remediation-configuration/{rule}/{uuid.uuid4()}"
