"""The Automation actions the engine runs, one function per action, and the context a step runs in.

An action gets a ``StepContext`` (the resolved inputs, the execution, a way to call AWS through the sandbox,
interruptible waits that honour the step's timeout and a cancellation) and returns an ``ActionResult``, or
raises ``StepFailed`` / ``StepTimedOut`` / ``StepCancelled``. Control flow (onFailure, nextStep, retries,
outputs) is the engine's business, not the actions'.

Failure messages follow AWS's form, e.g. ``Step fails when it is Execute/Cancelling action. An error
occurred (NoSuchBucket) when calling the PutBucketEncryption operation: ... Please refer to Automation
Service Troubleshooting Guide for more diagnosis details.``
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drift_repair.core.runbook import AWS_ACTIONS, Step, text_form
from drift_repair.core.runbook_eval import (
    MAX_SLEEP_SECONDS,
    BranchError,
    choose_branch,
    parse_duration,
    parse_timestamp,
    property_matches,
)
from sandbox.ssm.awsapi import ENGINE_SECRET_KEY, ApiCallError, AwsApiCaller
from sandbox.ssm.clock import Clock
from sandbox.ssm.model import WAITING, Approval, Execution, StepRecord

EXECUTE_STAGE = "Execute/Cancelling action"
SCRIPT_STAGE = "Poll action status for completion"
TROUBLESHOOTING = "Please refer to Automation Service Troubleshooting Guide for more diagnosis details."

# How often aws:waitForAwsResourceProperty asks again (runbook seconds; scaled by the clock).
WAIT_POLL_SECONDS = 5.0
SCRIPT_MAX_SECONDS = 600  # aws:executeScript: "a maximum duration of 600 seconds"
SCRIPT_PAYLOAD_LIMIT = 100 * 1024  # "Up to 100KB is returned"
SCRIPT_HOST = Path(__file__).resolve().parent / "script_host.py"
_PYTHON_RUNTIME_RE = re.compile(r"^python3\.\d+$")
_API_META_INPUTS = ("Service", "Api", "PropertySelector", "DesiredValues")


class StepFailed(Exception):
    """The step failed; ``message`` is the cause, ``full_message`` what AWS shows as FailureMessage."""

    def __init__(
        self,
        message: str,
        stage: str = EXECUTE_STAGE,
        failure_type: str = "Unknown",
        outputs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.stage = stage
        self.failure_type = failure_type
        self.outputs = outputs or {}

    @property
    def full_message(self) -> str:
        return f"Step fails when it is {self.stage}. {self.message}. {TROUBLESHOOTING}"


class StepTimedOut(Exception):
    """The step ran past its timeout; ``detail`` says what it was still waiting for, if known."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


class StepCancelled(Exception):
    """StopAutomationExecution (or a sandbox reset) interrupted the step."""


@dataclass
class ActionResult:
    """What an action produced: ``result`` for output selectors, ready-made ``outputs``, a branch decision."""

    result: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)
    next_step: str | None = None


class StepContext:
    """Everything one attempt of one step may use."""

    def __init__(
        self,
        execution: Execution,
        step: Step,
        record: StepRecord,
        inputs: Mapping[str, Any],
        clock: Clock,
        api: AwsApiCaller,
        resolve: Callable[[Any], Any],
        deadline: float | None,
    ) -> None:
        self.execution = execution
        self.step = step
        self.record = record
        self.inputs = inputs
        self.clock = clock
        self.api = api
        self.resolve = resolve
        self.deadline = deadline

    # -------------------------------------------------------------------------------- interruption

    def _interruption(self) -> Exception | None:
        """Why the step must stop now, if it must (caller holds the execution's lock)."""
        ex = self.execution
        now = self.clock.monotonic()
        if ex.abandoned or (ex.stop_requested and not ex.in_cancel_flow):
            return StepCancelled()
        if ex.in_cancel_flow and ex.cancel_flow_deadline is not None and now >= ex.cancel_flow_deadline:
            return StepCancelled()
        if self.deadline is not None and now >= self.deadline:
            return StepTimedOut()
        return None

    def _limit(self, until: float | None) -> float | None:
        limits = [t for t in (until, self.deadline, self.execution.cancel_flow_deadline) if t is not None]
        return min(limits) if limits else None

    def check(self) -> None:
        with self.execution.cond:
            reason = self._interruption()
        if reason is not None:
            raise reason

    def check_deadline(self) -> None:
        """Only the timeout: work that completed before a stop arrived still counts as done."""
        if self.deadline is not None and self.clock.monotonic() >= self.deadline:
            raise StepTimedOut()

    def wait(self, seconds: float, real: bool = False) -> None:
        """Wait ``seconds`` of runbook time (``real``: wall-clock seconds); a stop or the timeout cuts it short."""
        until = self.clock.monotonic() + (seconds if real else self.clock.real_seconds(seconds))
        self.wait_until(lambda: self.clock.monotonic() >= until, until)

    def wait_until(self, predicate: Callable[[], bool], until: float | None = None) -> None:
        """Wait, woken by signals, until ``predicate()`` holds (checked under the execution's lock)."""
        cond = self.execution.cond
        with cond:
            while True:
                if predicate():
                    return
                reason = self._interruption()
                if reason is not None:
                    raise reason
                limit = self._limit(until)
                timeout = 1.0 if limit is None else max(0.0, min(1.0, limit - self.clock.monotonic()))
                cond.wait(timeout)

    # -------------------------------------------------------------------------------- AWS

    def call_api(self, service: Any, api: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(service, str) or not service or not isinstance(api, str) or not api:
            raise StepFailed("Inputs Service and Api are required and must be strings")
        self.check()
        try:
            return self.api.call(service, api, params, self.execution.account_id, self.execution.region)
        except ApiCallError as exc:
            raise StepFailed(exc.message) from None


# ------------------------------------------------------------------------------------ AWS API actions


def _api_params(inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in inputs.items() if k not in _API_META_INPUTS}


def execute_aws_api(ctx: StepContext) -> ActionResult:
    """aws:executeAwsApi: one call; the whole response is what the output selectors read."""
    response = ctx.call_api(ctx.inputs.get("Service"), ctx.inputs.get("Api"), _api_params(ctx.inputs))
    return ActionResult(result=response)


def _property_inputs(ctx: StepContext) -> tuple[str, Any]:
    selector = ctx.inputs.get("PropertySelector")
    desired = ctx.inputs.get("DesiredValues")
    if not isinstance(selector, str) or not selector:
        raise StepFailed("Input PropertySelector is required")
    if desired is None or (isinstance(desired, list) and not desired):
        raise StepFailed("Input DesiredValues is required")
    return selector, desired


def assert_aws_resource_property(ctx: StepContext) -> ActionResult:
    """aws:assertAwsResourceProperty: one call; the selected property must be one of DesiredValues."""
    selector, desired = _property_inputs(ctx)
    response = ctx.call_api(ctx.inputs.get("Service"), ctx.inputs.get("Api"), _api_params(ctx.inputs))
    ok, message = _matches(selector, response, desired)
    if not ok:
        raise StepFailed(message, failure_type="Verification")
    return ActionResult()


def wait_for_aws_resource_property(ctx: StepContext) -> ActionResult:
    """aws:waitForAwsResourceProperty: call until the property is one of DesiredValues or the step times out."""
    selector, desired = _property_inputs(ctx)
    params = _api_params(ctx.inputs)
    while True:
        response = ctx.call_api(ctx.inputs.get("Service"), ctx.inputs.get("Api"), params)
        ok, message = _matches(selector, response, desired)
        if ok:
            return ActionResult()
        try:
            ctx.wait(WAIT_POLL_SECONDS)
        except StepTimedOut:
            raise StepTimedOut(f"Last check: {message}") from None


def _matches(selector: str, response: Any, desired: Any) -> tuple[bool, str]:
    try:
        return property_matches(selector, response, desired)
    except ValueError as exc:  # SelectorError
        raise StepFailed(f"Invalid PropertySelector: {exc}") from None


# ------------------------------------------------------------------------------------ aws:executeScript


def execute_script(ctx: StepContext) -> ActionResult:
    """aws:executeScript: the Python handler runs in a child process, isolated from the server's state.

    The child gets only the script, ``events`` (InputPayload) and a context dict, with boto3 pointed at the
    sandbox (the execution's account and region), so a handler's AWS calls go through the same endpoint,
    throttling and fault injection as everything else. The handler's return value is the output ``Payload``.
    """
    runtime = ctx.inputs.get("Runtime")
    if not isinstance(runtime, str) or not _PYTHON_RUNTIME_RE.match(runtime):
        raise StepFailed(f"Runtime {runtime!r} is not supported by the sandbox: it runs Python 3 handlers")
    if ctx.inputs.get("Attachment"):
        raise StepFailed("Script attachments are not supported by the sandbox: embed the script in Script")
    script, handler = ctx.inputs.get("Script"), ctx.inputs.get("Handler")
    if not isinstance(script, str) or not script.strip():
        raise StepFailed("Input Script is required")
    if not isinstance(handler, str) or not handler:
        raise StepFailed("Input Handler is required")
    events = ctx.inputs.get("InputPayload", {})
    ex = ctx.execution
    job = {
        "script": script,
        "handler": handler,
        "events": events if events is not None else {},
        "context": {
            "automation:EXECUTION_ID": ex.execution_id,
            "global:ACCOUNT_ID": ex.account_id,
            "global:REGION": ex.region,
        },
    }
    outcome = _run_script_host(ctx, job)
    if not outcome.get("ok"):
        raise StepFailed(str(outcome.get("error") or "the script failed"), stage=SCRIPT_STAGE)
    payload = outcome.get("payload")
    encoded = json.dumps(payload, default=str)
    if len(encoded.encode()) > SCRIPT_PAYLOAD_LIMIT:
        raise StepFailed("The script's output payload exceeds 100 KB", stage=SCRIPT_STAGE)
    result = {"Payload": payload if payload is not None else {}}
    return ActionResult(result=result, outputs={"OutputPayload": json.dumps(result, default=str)})


def _run_script_host(ctx: StepContext, job: dict[str, Any]) -> dict[str, Any]:
    ex = ctx.execution
    endpoint = ctx.api.endpoint_url
    if not endpoint:
        raise StepFailed("the sandbox server is not listening yet: no endpoint for the script's AWS calls")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tempfile.gettempdir(),
        "LANG": "C.UTF-8",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": ex.account_id,
        "AWS_SECRET_ACCESS_KEY": ENGINE_SECRET_KEY,
        "AWS_DEFAULT_REGION": ex.region,
        "AWS_REGION": ex.region,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    with tempfile.TemporaryDirectory(prefix=f"{ex.execution_id}-") as workdir:
        result_path = Path(workdir) / "result.json"
        proc = subprocess.Popen(
            [sys.executable, "-I", str(SCRIPT_HOST), workdir, str(result_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=workdir,
            env=env,
        )
        try:
            if proc.stdin is None:
                raise StepFailed("the script process has no input stream")
            proc.stdin.write(json.dumps(job, default=str).encode())
            proc.stdin.close()
            while proc.poll() is None:
                ctx.wait(0.05, real=True)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        try:
            outcome = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {"ok": False, "error": f"The script process ended with exit code {proc.returncode}"}
    return outcome if isinstance(outcome, dict) else {"ok": False, "error": "the script host wrote no result"}


# ------------------------------------------------------------------------------------ flow actions


def branch(ctx: StepContext) -> ActionResult:
    """aws:branch: the first true choice's NextStep, else Default, else the next step (engine decides)."""
    try:
        target = choose_branch(ctx.step.inputs, ctx.resolve)
    except BranchError as exc:
        raise StepFailed(f"Invalid branch choice: {exc}") from None
    return ActionResult(next_step=target)


def sleep(ctx: StepContext) -> ActionResult:
    """aws:sleep: Duration (ISO 8601) or until Timestamp; at most seven days."""
    duration, timestamp = ctx.inputs.get("Duration"), ctx.inputs.get("Timestamp")
    try:
        if isinstance(duration, str) and duration:
            seconds = parse_duration(duration)
        elif isinstance(timestamp, str) and timestamp:
            seconds = max(0.0, (parse_timestamp(timestamp) - dt.datetime.now(dt.UTC)).total_seconds())
        else:
            raise StepFailed("Input Duration or Timestamp is required")
    except ValueError as exc:
        raise StepFailed(str(exc)) from None
    if seconds > MAX_SLEEP_SECONDS:
        raise StepFailed(f"The delay of {seconds:.0f} seconds exceeds the maximum of {MAX_SLEEP_SECONDS} seconds")
    ctx.wait(seconds)
    return ActionResult()


def pause(ctx: StepContext) -> ActionResult:
    """aws:pause: the execution waits (status Waiting) until SendAutomationSignal Resume."""
    ex = ctx.execution
    with ex.cond:
        ex.paused_step, ex.resume_requested = ctx.step.name, False
        _set_waiting(ctx, True)
    try:
        ctx.wait_until(lambda: ex.resume_requested)
    finally:
        with ex.cond:
            ex.paused_step, ex.resume_requested = None, False
            _set_waiting(ctx, False)
    return ActionResult()


def approve(ctx: StepContext) -> ActionResult:
    """aws:approve: Waiting until MinRequiredApprovals approvers approve, one rejects, or the step times out."""
    approvers = ctx.inputs.get("Approvers")
    if isinstance(approvers, str):
        approvers = [approvers]
    if not isinstance(approvers, list) or not approvers or not all(isinstance(a, str) and a for a in approvers):
        raise StepFailed("Input Approvers must list at least one principal")
    if len(approvers) > 10:
        raise StepFailed("Input Approvers can list at most 10 principals")
    raw_min = ctx.inputs.get("MinRequiredApprovals", 1)
    try:
        min_required = int(raw_min)
    except (TypeError, ValueError):
        raise StepFailed(f"MinRequiredApprovals must be a positive integer, not {raw_min!r}") from None
    if min_required < 1 or min_required > len(approvers):
        raise StepFailed(
            f"MinRequiredApprovals must be between 1 and the number of approvers ({len(approvers)}), not {min_required}"
        )
    _notify_approvers(ctx)
    ex = ctx.execution
    approval = Approval(ctx.step.name, list(approvers), min_required)
    with ex.cond:
        ex.approval = approval
        _set_waiting(ctx, True)
    try:
        ctx.wait_until(lambda: approval.approved or approval.rejection is not None)
    finally:
        with ex.cond:
            ex.approval = None
            _set_waiting(ctx, False)
    decisions = [dict(d) for d in approval.decisions]
    rejection = approval.rejection
    if rejection is not None:
        comment = f" with comment: {rejection['Comment']}" if rejection.get("Comment") else ""
        raise StepFailed(
            f"The automation was rejected by {rejection['Approver']}{comment}",
            failure_type="Verification",
            outputs={"ApprovalStatus": "Rejected", "ApproverDecisions": decisions},
        )
    return ActionResult(outputs={"ApprovalStatus": "Approved", "ApproverDecisions": decisions})


def _notify_approvers(ctx: StepContext) -> None:
    topic = ctx.inputs.get("NotificationArn")
    if not topic:
        return
    ex = ctx.execution
    message = {
        "AutomationExecutionId": ex.execution_id,
        "DocumentName": ex.document_name,
        "StepName": ctx.step.name,
        "Message": text_form(ctx.inputs.get("Message", "")),
        "Approvers": ctx.inputs.get("Approvers"),
    }
    ctx.call_api(
        "sns",
        "Publish",
        {"TopicArn": topic, "Subject": "Automation approval request", "Message": json.dumps(message)},
    )


def _set_waiting(ctx: StepContext, waiting: bool) -> None:
    """Step and execution show Waiting while a human is expected (caller holds the execution's lock)."""
    ex = ctx.execution
    if waiting:
        ctx.record.status = WAITING
        if ex.status == "InProgress":
            ex.status = WAITING
    else:
        ctx.record.status = "InProgress"
        if ex.status == WAITING:
            ex.status = "InProgress"


def unsupported(ctx: StepContext) -> ActionResult:
    action = ctx.step.action
    if action in AWS_ACTIONS:
        raise StepFailed(f"Action {action} is not supported by the sandbox's automation engine")
    raise StepFailed(f"Action {action} is not a valid Automation action")


ACTIONS: dict[str, Callable[[StepContext], ActionResult]] = {
    "aws:executeAwsApi": execute_aws_api,
    "aws:assertAwsResourceProperty": assert_aws_resource_property,
    "aws:waitForAwsResourceProperty": wait_for_aws_resource_property,
    "aws:executeScript": execute_script,
    "aws:branch": branch,
    "aws:sleep": sleep,
    "aws:pause": pause,
    "aws:approve": approve,
}

# Timeouts AWS applies when a step sets none (seconds of runbook time); executeScript's is also its maximum.
DEFAULT_TIMEOUTS: dict[str, int] = {
    "aws:approve": 604800,
    "aws:waitForAwsResourceProperty": 3600,
    "aws:executeScript": SCRIPT_MAX_SECONDS,
}
