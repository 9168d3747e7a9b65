"""The runbook engine: runs schemaVersion '0.3' runbooks step by step, each execution in its own thread.

Semantics follow "Properties shared by all actions" in AWS's Automation actions reference:

* a step runs up to ``maxAttempts`` times; an attempt longer than ``timeoutSeconds`` (or the action's default:
  aws:approve 7 days, aws:waitForAwsResourceProperty 1 hour, aws:executeScript 600 s) ends TimedOut;
* after a failure ``onFailure`` decides: Abort (default) ends the execution, Continue goes on, ``step:X``
  goes to X (the rollback path); a failed step that ``isCritical`` (default true unless onFailure is
  Continue) makes the execution end Failed — or TimedOut when it timed out — even if later steps succeed;
* after a success ``nextStep`` decides, else ``isEnd`` ends the execution, else the next step runs; aws:branch
  decides by its choices;
* StopAutomationExecution makes the execution Cancelling, interrupts the running step (Cancelled) and, when
  that step has ``onCancel: step:X``, runs X and what follows for at most two minutes before Cancelled;
* steps that never run stay Pending; an execution that never started when stopped ends Cancelled.

The engine is independent of HTTP: ``start_execution`` / ``get_execution`` / ``signal`` / ``stop`` raise
``AwsError`` exactly as the API answers, so Config's StartRemediationExecution can run runbooks through
``app.services["ssm_automation"]`` and see what StartAutomationExecution would.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from drift_repair.core.errors import InputError
from drift_repair.core.runbook import (
    ON_FAILURE_ABORT,
    ON_FAILURE_CONTINUE,
    Step,
    UnresolvedReferenceError,
    parse_runbook,
    reference_kind,
    resolve,
)
from drift_repair.core.runbook_eval import (
    OutputTypeError,
    ParameterError,
    SelectorError,
    bind_parameters,
    convert_output,
    display_values,
    select_one,
)
from sandbox.server import AwsError, RequestContext
from sandbox.ssm import documents
from sandbox.ssm.actions import (
    ACTIONS,
    DEFAULT_TIMEOUTS,
    EXECUTE_STAGE,
    ActionResult,
    StepCancelled,
    StepContext,
    StepFailed,
    StepTimedOut,
    unsupported,
)
from sandbox.ssm.awsapi import ApiCallError, AwsApiCaller
from sandbox.ssm.clock import Clock
from sandbox.ssm.model import (
    CANCELLED,
    CANCELLING,
    FAILED,
    IN_PROGRESS,
    PENDING,
    SUCCESS,
    TIMED_OUT,
    WAITING,
    Execution,
    StepRecord,
    encode_inputs,
)

log = logging.getLogger("sandbox.ssm")

CANCEL_FLOW_SECONDS = 120  # "Automation runs the cancellation workflow for a maximum of two minutes"
MAX_CONCURRENT_EXECUTIONS = 100  # per account and region; more wait in Pending
MAX_QUEUED_EXECUTIONS = 1000  # beyond that StartAutomationExecution answers AutomationExecutionLimitExceeded
_PARTITIONS = (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-iso-", "aws-iso"), ("us-isob-", "aws-iso-b"))
_USER_ARN_RE = re.compile(r"^arn:(?P<p>aws[\w-]*):iam::(?P<acct>\d{12}):user/(?:.*/)?(?P<name>[^/]+)$")
_ROLE_ARN_RE = re.compile(r"^arn:(?P<p>aws[\w-]*):iam::(?P<acct>\d{12}):role/(?:.*/)?(?P<name>[^/]+)$")
_ASSUMED_RE = re.compile(r"^arn:(?P<p>aws[\w-]*):sts::(?P<acct>\d{12}):assumed-role/(?P<name>[^/]+)/.+$")


@dataclass(frozen=True)
class _Outcome:
    status: str  # Success, Failed, TimedOut, Cancelled
    message: str | None = None
    next_step: str | None = None
    decided: bool = False  # aws:branch picked a choice or its Default


class AutomationEngine:
    """All automation executions of one sandbox server; thread-safe."""

    def __init__(self, endpoint: str | Callable[[], str | None] | None = None, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.api = AwsApiCaller(endpoint)
        self._lock = threading.RLock()
        self._executions: dict[str, Execution] = {}
        self._tokens: dict[tuple[str, str, str], tuple[str, str]] = {}  # (account, region, token) -> (hash, id)
        self._slots: dict[tuple[str, str], threading.BoundedSemaphore] = {}

    # ================================================================================ service interface

    def start_execution(
        self,
        ctx: RequestContext,
        document_name: str,
        parameters: Mapping[str, list[str]] | None = None,
        document_version: str | None = None,
        client_token: str | None = None,
        tags: list[dict[str, str]] | None = None,
        mode: str = "Auto",
    ) -> str:
        """Start a runbook; returns the execution id. Raises AwsError as StartAutomationExecution answers."""
        params = {k: list(v) for k, v in (parameters or {}).items()}
        token_key = None
        fingerprint = ""
        if client_token:
            token_key = (ctx.account_id, ctx.region, client_token.lower())
            request = [document_name, document_version or "$DEFAULT", params, mode, tags or []]
            fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
            with self._lock:
                seen = self._tokens.get(token_key)
            if seen is not None:
                if seen[0] != fingerprint:
                    raise AwsError(
                        "IdempotentParameterMismatch",
                        "The client token was used before with different parameters.",
                    )
                return seen[1]
        document = documents.resolve_document(ctx.account_id, ctx.region, document_name, document_version)
        try:
            runbook = parse_runbook(document.content, source=document.name)
        except InputError as exc:
            raise AwsError("InvalidDocumentContent", exc.problem) from None
        try:
            bound = bind_parameters(runbook.parameters, params)
        except ParameterError as exc:
            raise AwsError("InvalidAutomationExecutionParametersException", str(exc)) from None
        execution = Execution(
            execution_id=str(uuid.uuid4()),
            document_name=document.name,
            document_version=document.version,
            runbook=runbook,
            account_id=ctx.account_id,
            region=ctx.region,
            executed_by=ctx.caller_arn,
            parameter_values=bound.values,
            parameter_display=bound.display,
            start=self.clock.now(),
            mode=mode,
            tags=list(tags or []),
        )
        with self._lock:
            if token_key is not None:
                seen = self._tokens.get(token_key)
                if seen is not None:  # a concurrent retry with the same token won the race
                    if seen[0] != fingerprint:
                        raise AwsError(
                            "IdempotentParameterMismatch",
                            "The client token was used before with different parameters.",
                        )
                    return seen[1]
            pending = sum(
                1
                for e in self._executions.values()
                if e.status == PENDING and (e.account_id, e.region) == (ctx.account_id, ctx.region)
            )
            if pending >= MAX_QUEUED_EXECUTIONS:
                raise AwsError(
                    "AutomationExecutionLimitExceededException",
                    "The number of simultaneously running Automation executions exceeded the allowable limit.",
                )
            self._executions[execution.execution_id] = execution
            if token_key is not None:
                self._tokens[token_key] = (fingerprint, execution.execution_id)
            slot = self._slots.setdefault(
                (ctx.account_id, ctx.region), threading.BoundedSemaphore(MAX_CONCURRENT_EXECUTIONS)
            )
        thread = threading.Thread(
            target=self._run, args=(execution, slot), name=f"automation-{execution.execution_id[:8]}", daemon=True
        )
        thread.start()
        return execution.execution_id

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        """The AutomationExecution structure GetAutomationExecution answers."""
        execution = self.find(execution_id)
        with execution.cond:
            return execution.to_api()

    # ================================================================================ lookups for the API

    def find(self, execution_id: str, ctx: RequestContext | None = None) -> Execution:
        with self._lock:
            execution = self._executions.get(execution_id)
        if execution is None or (
            ctx is not None and (execution.account_id, execution.region) != (ctx.account_id, ctx.region)
        ):
            raise AwsError("AutomationExecutionNotFoundException", f"Execution {execution_id} does not exist.")
        return execution

    def executions(self, account_id: str, region: str) -> list[Execution]:
        with self._lock:
            found = [e for e in self._executions.values() if (e.account_id, e.region) == (account_id, region)]
        return sorted(found, key=lambda e: e.start, reverse=True)

    # ================================================================================ signals

    def signal(self, ctx: RequestContext, execution_id: str, signal_type: str, payload: Mapping[str, Any]) -> None:
        """SendAutomationSignal: Approve / Reject an aws:approve step, Resume an aws:pause step."""
        execution = self.find(execution_id, ctx)
        comment = _comment(payload)
        with execution.cond:
            if signal_type in ("Approve", "Reject"):
                self._decide(ctx, execution, signal_type, comment)
            elif signal_type == "Resume":
                if execution.paused_step is None or not execution.active:
                    raise AwsError(
                        "InvalidAutomationSignalException",
                        f"Automation execution {execution_id} is not paused: there is nothing to resume.",
                    )
                execution.resume_requested = True
            else:
                raise AwsError(
                    "InvalidAutomationSignalException",
                    f"Signal type {signal_type} is not supported by the sandbox (Approve, Reject and Resume are).",
                )
            execution.cond.notify_all()

    def _decide(self, ctx: RequestContext, execution: Execution, signal_type: str, comment: str) -> None:
        approval = execution.approval
        if approval is None or not execution.active:
            raise AwsError(
                "InvalidAutomationSignalException",
                f"Automation execution {execution.execution_id} is not waiting for an approval.",
            )
        caller = ctx.caller_arn
        if not any(approver_matches(a, caller, execution.account_id) for a in approval.approvers):
            raise AwsError(
                "InvalidAutomationSignalException",
                f"{caller} is not an approver of step {approval.step_name} of automation execution "
                f"{execution.execution_id}.",
            )
        if any(d["Approver"] == caller for d in approval.decisions):
            raise AwsError(
                "InvalidAutomationSignalException",
                f"{caller} has already answered step {approval.step_name} of automation execution "
                f"{execution.execution_id}.",
            )
        approval.decisions.append(
            {
                "Approver": caller,
                "Type": signal_type,
                "Comment": comment,
                "DecisionTime": self.clock.now().isoformat(),
            }
        )

    def stop(self, ctx: RequestContext, execution_id: str, stop_type: str = "Cancel") -> None:
        """StopAutomationExecution (Type Cancel): Cancelling now, Cancelled once the runner has stopped."""
        if stop_type != "Cancel":
            raise AwsError(
                "ValidationException",
                f"Stop type {stop_type} is not supported by the sandbox; use Cancel.",
            )
        execution = self.find(execution_id, ctx)
        with execution.cond:
            if execution.status not in (PENDING, IN_PROGRESS, WAITING):
                raise AwsError(
                    "InvalidAutomationStatusUpdateException",
                    f"Automation execution {execution_id} is {execution.status}: only a Pending, InProgress or "
                    "Waiting execution can be stopped.",
                )
            execution.stop_requested = True
            execution.stopped_during = execution.current_step.name if execution.current_step else None
            if execution.status != PENDING:
                execution.status = CANCELLING
            execution.cond.notify_all()

    def reset(self) -> None:
        """Forget every execution (POST /_sandbox/reset); running ones stop without recording anything."""
        with self._lock:
            executions = list(self._executions.values())
            self._executions.clear()
            self._tokens.clear()
        for execution in executions:
            with execution.cond:
                execution.abandoned = True
                execution.cond.notify_all()

    # ================================================================================ the runner

    def _run(self, execution: Execution, slot: threading.BoundedSemaphore) -> None:
        while not slot.acquire(timeout=0.2):
            with execution.cond:
                if execution.stop_requested or execution.abandoned:
                    self._finish(execution, CANCELLED, None)
                    return
        try:
            with execution.cond:
                if execution.stop_requested or execution.abandoned:
                    self._finish(execution, CANCELLED, None)
                    return
                execution.status = IN_PROGRESS
            self._run_steps(execution)
        except Exception as exc:  # a bug must not leave an execution InProgress forever
            log.exception("sandbox: automation %s failed inside the engine", execution.execution_id)
            with execution.cond:
                self._finish(execution, FAILED, f"Internal error of the sandbox's automation engine: {exc}")
        finally:
            slot.release()

    def _run_steps(self, execution: Execution) -> None:
        runbook = execution.runbook
        current: str | None = runbook.steps[0].name
        failure: tuple[str, str | None] | None = None  # (status, message) of the critical failure
        while current is not None:
            step = runbook.step(current)
            if step is None:  # the lint catches this; AWS refuses such a document at creation
                failure = (FAILED, f"Step {current} does not exist in the document.")
                break
            gate = self._gate(execution, step)
            if gate == "abandon":
                return
            if gate == "cancel":
                current = self._enter_cancel_flow(execution)
                continue
            if gate == "stop":
                break
            outcome = self._run_step(execution, step)
            current, step_failure = self._after(execution, step, outcome)
            failure = step_failure or failure
        with execution.cond:
            if execution.abandoned:
                return
            if execution.stop_requested:
                self._finish(execution, CANCELLED, None)
            elif failure is not None:
                self._finish(execution, failure[0], failure[1])
            else:
                self._finish(execution, SUCCESS, None)

    def _gate(self, execution: Execution, step: Step) -> str:
        """Before a step: 'run' it, 'cancel' (a stop arrived), 'stop' (cancellation window over), 'abandon'."""
        with execution.cond:
            if execution.abandoned:
                return "abandon"
            if execution.stop_requested and not execution.in_cancel_flow:
                return "cancel"
            if execution.in_cancel_flow and self._cancel_window_over(execution):
                return "stop"
            execution.current_step = step
            return "run"

    def _after(
        self, execution: Execution, step: Step, outcome: _Outcome
    ) -> tuple[str | None, tuple[str, str | None] | None]:
        """The step to run next and, for a failure that decides the final status, (status, message)."""
        if outcome.status == SUCCESS:
            return outcome.next_step, None
        if outcome.status == CANCELLED:
            with execution.cond:
                if execution.abandoned or execution.in_cancel_flow:
                    return None, None
                execution.stopped_during = step.name
            return self._enter_cancel_flow(execution), None
        failure = (outcome.status, outcome.message) if step.is_critical or step.on_failure == ON_FAILURE_ABORT else None
        return self._next_after_failure(execution, step), failure

    def _enter_cancel_flow(self, execution: Execution) -> str | None:
        """After a stop: the stopped step's onCancel target, if any, runs within the cancellation window."""
        with execution.cond:
            stopped = execution.runbook.step(execution.stopped_during) if execution.stopped_during else None
            target = stopped.on_cancel_step if stopped is not None else None
            execution.in_cancel_flow = True
            if target:
                execution.cancel_flow_deadline = self.clock.deadline(CANCEL_FLOW_SECONDS)
            return target

    def _cancel_window_over(self, execution: Execution) -> bool:
        deadline = execution.cancel_flow_deadline
        return deadline is not None and self.clock.monotonic() >= deadline

    @staticmethod
    def _next_after_failure(execution: Execution, step: Step) -> str | None:
        """onFailure: step:X goes to X; Continue goes where success would (isEnd ends); Abort ends."""
        if step.on_failure_step:
            return step.on_failure_step
        if step.on_failure == ON_FAILURE_CONTINUE:
            return execution.runbook.next_on_success(step)
        return None

    # -------------------------------------------------------------------------------- one step

    def _run_step(self, execution: Execution, step: Step) -> _Outcome:
        with execution.cond:
            record = execution.record_for(step)
            record.status = IN_PROGRESS
            record.start = self.clock.now()
        outcome = self._attempts(execution, step, record)
        with execution.cond:
            record.end = self.clock.now()
            record.status = outcome.status
            if outcome.status in (FAILED, TIMED_OUT):
                record.failure_message = outcome.message
        if outcome.status == SUCCESS and not outcome.decided:
            return _Outcome(SUCCESS, next_step=execution.runbook.next_on_success(step))
        return outcome

    def _attempts(self, execution: Execution, step: Step, record: StepRecord) -> _Outcome:
        timeout = step.timeout_seconds if step.timeout_seconds is not None else DEFAULT_TIMEOUTS.get(step.action)
        if step.action == "aws:executeScript" and timeout is not None:
            timeout = min(timeout, DEFAULT_TIMEOUTS["aws:executeScript"])
        outcome = _Outcome(FAILED, "the step did not run")
        for attempt in range(1, step.max_attempts + 1):
            with execution.cond:
                record.attempts = attempt
                record.status = IN_PROGRESS
                record.failure_message = None
                record.failure_details = None
            outcome = self._attempt(execution, step, record, self.clock.deadline(timeout), timeout)
            if outcome.status in (SUCCESS, CANCELLED):
                return outcome
            with execution.cond:
                if execution.abandoned or (execution.stop_requested and not execution.in_cancel_flow):
                    return _Outcome(CANCELLED)
        return outcome

    def _attempt(
        self, execution: Execution, step: Step, record: StepRecord, deadline: float | None, timeout: int | None
    ) -> _Outcome:
        def lookup(name: str) -> Any:
            return self._lookup(execution, name)

        action = ACTIONS.get(step.action, unsupported)
        try:
            # aws:branch resolves each choice's Variable only when it evaluates that choice.
            inputs = step.inputs if step.action == "aws:branch" else resolve(dict(step.inputs), lookup)
            with execution.cond:
                record.inputs = encode_inputs(inputs)
            ctx = StepContext(
                execution, step, record, inputs, self.clock, self.api, lambda v: resolve(v, lookup), deadline
            )
            ctx.check()
            result = action(ctx)
            ctx.check_deadline()  # an action that returned after its deadline still timed out
            outputs = self._outputs(step, result)
        except UnresolvedReferenceError as exc:
            return self._failed(execution, record, StepFailed(f"Unable to resolve input {exc}"))
        except StepFailed as exc:
            return self._failed(execution, record, exc)
        except StepTimedOut as exc:
            message = (
                f"Step timed out while step is {EXECUTE_STAGE}. The step did not complete within its timeout of "
                f"{timeout} seconds."
            )
            if exc.detail:
                message += f" {exc.detail}"
            with execution.cond:
                record.failure_details = {"FailureStage": "Execution", "FailureType": "Timeout"}
            return _Outcome(TIMED_OUT, message)
        except StepCancelled:
            return _Outcome(CANCELLED)
        except Exception as exc:
            log.exception("sandbox: step %s of automation %s", step.name, execution.execution_id)
            return self._failed(execution, record, StepFailed(f"Internal error of the sandbox's engine: {exc}"))
        with execution.cond:
            for name, value in outputs.items():
                execution.output_values[(step.name, name)] = value
            record.outputs = {name: display_values(value) for name, value in outputs.items()}
        decided = step.action == "aws:branch" and bool(result.next_step)
        return _Outcome(SUCCESS, next_step=result.next_step, decided=decided)

    def _failed(self, execution: Execution, record: StepRecord, exc: StepFailed) -> _Outcome:
        with execution.cond:
            record.failure_details = {"FailureStage": "Execution", "FailureType": exc.failure_type}
            if exc.outputs:
                record.outputs = {name: display_values(value) for name, value in exc.outputs.items()}
                for name, value in exc.outputs.items():
                    execution.output_values[(record.step.name, name)] = value
        return _Outcome(FAILED, exc.full_message)

    @staticmethod
    def _outputs(step: Step, result: ActionResult) -> dict[str, Any]:
        """Predefined outputs plus the step's declared ones, selected from the action's result and typed."""
        outputs = dict(result.outputs)
        for spec in step.outputs:
            try:
                found, value = select_one(result.result, spec.selector)
            except SelectorError as exc:
                raise StepFailed(f"Invalid selector for output {spec.name}: {exc}") from None
            if not found:
                continue
            try:
                outputs[spec.name] = convert_output(value, spec.type)
            except OutputTypeError as exc:
                raise StepFailed(f"Output {spec.name} of type {spec.type}: {exc}") from None
        return outputs

    # -------------------------------------------------------------------------------- variables

    def _lookup(self, execution: Execution, name: str) -> Any:
        kind = reference_kind(name)
        if kind == "parameter":
            if name in execution.parameter_values:
                return execution.parameter_values[name]
            raise UnresolvedReferenceError(name, "no such parameter")
        if kind == "variable":
            return self._variable(execution, name)
        if kind == "output":
            step_name, _, output = name.partition(".")
            with execution.cond:
                if (step_name, output) in execution.output_values:
                    return execution.output_values[(step_name, output)]
            raise UnresolvedReferenceError(name, f"step {step_name} has produced no output {output}")
        if kind == "ssm":
            try:
                response = self.api.call(
                    "ssm",
                    "GetParameter",
                    {"Name": name[len("ssm:") :], "WithDecryption": True},
                    execution.account_id,
                    execution.region,
                )
            except ApiCallError as exc:
                raise UnresolvedReferenceError(name, exc.message) from None
            return response.get("Parameter", {}).get("Value")
        raise UnresolvedReferenceError(name, "unknown variable")

    def _variable(self, execution: Execution, name: str) -> str:
        now = self.clock.now()
        values = {
            "automation:EXECUTION_ID": execution.execution_id,
            "global:ACCOUNT_ID": execution.account_id,
            "global:REGION": execution.region,
            "global:AWS_PARTITION": partition(execution.region),
            "global:DATE": now.strftime("%Y-%m-%d"),
            "global:DATE_TIME": now.strftime("%Y-%m-%d_%H.%M.%S"),
        }
        return values[name]

    # -------------------------------------------------------------------------------- the end

    def _finish(self, execution: Execution, status: str, message: str | None) -> None:
        """Final status (caller holds the execution's lock)."""
        execution.status = status
        execution.end = self.clock.now()
        execution.failure_message = message if status in (FAILED, TIMED_OUT) else None
        execution.current_step = None
        execution.cond.notify_all()


def partition(region: str) -> str:
    for prefix, name in _PARTITIONS:
        if region.startswith(prefix):
            return name
    return "aws"


def approver_matches(approver: str, caller_arn: str, account_id: str) -> bool:
    """Whether ``caller_arn`` is the principal an Approvers entry names.

    AWS accepts an IAM user name, a user ARN, a role ARN (matching any session of that role) or an
    assumed-role ARN. The sandbox names callers ``arn:aws:iam::<account>:user/<access key id>``.
    """
    approver = approver.strip()
    if approver == caller_arn:
        return True
    caller_user = _USER_ARN_RE.match(caller_arn)
    caller_assumed = _ASSUMED_RE.match(caller_arn)
    if not approver.startswith("arn:"):
        return caller_user is not None and caller_user["acct"] == account_id and caller_user["name"] == approver
    user = _USER_ARN_RE.match(approver)
    if user is not None and caller_user is not None:
        return (user["acct"], user["name"]) == (caller_user["acct"], caller_user["name"])
    role = _ROLE_ARN_RE.match(approver)
    if role is not None and caller_assumed is not None:
        return (role["acct"], role["name"]) == (caller_assumed["acct"], caller_assumed["name"])
    return False


def _comment(payload: Mapping[str, Any]) -> str:
    value = payload.get("Comment") if isinstance(payload, Mapping) else None
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value) if value is not None else ""
