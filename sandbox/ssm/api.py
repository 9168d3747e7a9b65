"""The SSM Automation execution API over HTTP: request checks, filters, paging and AWS's response shapes.

Each handler takes the JSON request and the caller's RequestContext and answers the structure AWS answers
(see botocore's ``ssm/2014-11-06/service-2.json``); errors are AwsError with AWS's codes. The work itself is
the engine's (engine.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from sandbox.server import AwsError, RequestContext, SandboxApp
from sandbox.ssm.engine import AutomationEngine
from sandbox.ssm.model import Execution, StepRecord

_UUID_RE = re.compile(r"^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$")
_DOCUMENT_NAME_RE = re.compile(r"^[a-zA-Z0-9_\-.:/]{3,128}$")
_DOCUMENT_VERSION_RE = re.compile(r"([$]LATEST|[$]DEFAULT|^[1-9][0-9]*$)")
EXECUTION_STATUSES = (
    "Pending",
    "InProgress",
    "Waiting",
    "Success",
    "TimedOut",
    "Cancelling",
    "Cancelled",
    "Failed",
    "PendingApproval",
    "Approved",
    "Rejected",
    "Scheduled",
    "RunbookInProgress",
    "PendingChangeCalendarOverride",
    "ChangeCalendarOverrideApproved",
    "ChangeCalendarOverrideRejected",
    "CompletedWithSuccess",
    "CompletedWithFailure",
    "Exited",
)
EXECUTION_FILTER_KEYS = (
    "DocumentNamePrefix",
    "ExecutionStatus",
    "ExecutionId",
    "ParentExecutionId",
    "CurrentAction",
    "StartTimeBefore",
    "StartTimeAfter",
    "AutomationType",
    "TagKey",
    "TargetResourceGroup",
    "AutomationSubtype",
    "OpsItemId",
)
STEP_FILTER_KEYS = (
    "StartTimeBefore",
    "StartTimeAfter",
    "StepExecutionStatus",
    "StepExecutionId",
    "StepName",
    "Action",
    "ParentStepExecutionId",
    "ParentStepIteration",
    "ParentStepIteratorValue",
)
# Features of StartAutomationExecution the sandbox does not run (rate control, multi-account, alarms).
_UNSUPPORTED_START_FIELDS = (
    "TargetParameterName",
    "Targets",
    "TargetMaps",
    "MaxConcurrency",
    "MaxErrors",
    "TargetLocations",
    "TargetLocationsURL",
    "AlarmConfiguration",
)
MAX_PAGE = 50


def _validation(value: Any, member: str, constraint: str) -> AwsError:
    shown = "null" if value is None else f"'{value}'"
    return AwsError(
        "ValidationException",
        f"1 validation error detected: Value {shown} at '{member}' failed to satisfy constraint: {constraint}",
    )


def _execution_id(params: dict[str, Any]) -> str:
    value = params.get("AutomationExecutionId")
    if not isinstance(value, str):
        raise _validation(value, "automationExecutionId", "Member must not be null")
    if len(value) != 36:
        raise _validation(value, "automationExecutionId", "Member must have length equal to 36")
    return value


class AutomationApi:
    """Handlers for the six Automation execution operations."""

    def __init__(self, engine: AutomationEngine) -> None:
        self.engine = engine

    def handlers(self) -> dict[str, Callable[[dict[str, Any], RequestContext], dict[str, Any]]]:
        return {
            "StartAutomationExecution": self.start,
            "GetAutomationExecution": self.get,
            "DescribeAutomationExecutions": self.describe_executions,
            "DescribeAutomationStepExecutions": self.describe_steps,
            "SendAutomationSignal": self.signal,
            "StopAutomationExecution": self.stop,
        }

    # -------------------------------------------------------------------------------- start / get

    def start(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        name = params.get("DocumentName")
        if not isinstance(name, str):
            raise _validation(name, "documentName", "Member must not be null")
        if not _DOCUMENT_NAME_RE.match(name):
            raise _validation(
                name, "documentName", "Member must satisfy regular expression pattern: " + _DOCUMENT_NAME_RE.pattern
            )
        version = params.get("DocumentVersion")
        if version is not None and (not isinstance(version, str) or not _DOCUMENT_VERSION_RE.search(version)):
            raise _validation(
                version,
                "documentVersion",
                "Member must satisfy regular expression pattern: " + _DOCUMENT_VERSION_RE.pattern,
            )
        token = params.get("ClientToken")
        if token is not None and (not isinstance(token, str) or not _UUID_RE.match(token)):
            raise _validation(
                token, "clientToken", "Member must satisfy regular expression pattern: " + _UUID_RE.pattern.strip("^$")
            )
        parameters = params.get("Parameters") or {}
        if not isinstance(parameters, dict) or not all(
            isinstance(v, list) and all(isinstance(i, str) for i in v) for v in parameters.values()
        ):
            raise AwsError(
                "InvalidAutomationExecutionParametersException", "Parameters must map names to lists of strings."
            )
        mode = params.get("Mode") or "Auto"
        if mode != "Auto":
            raise AwsError(
                "InvalidAutomationExecutionParametersException",
                f"Mode {mode} is not supported by the sandbox; executions run in Auto mode.",
            )
        for field in _UNSUPPORTED_START_FIELDS:
            if params.get(field):
                raise AwsError(
                    "InvalidAutomationExecutionParametersException",
                    f"{field} is not supported by the sandbox: it runs Local executions without rate control.",
                )
        tags = params.get("Tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, dict) and isinstance(t.get("Key"), str) for t in tags):
            raise _validation(tags, "tags", "Member must be a list of tags with a Key")
        execution_id = self.engine.start_execution(
            ctx,
            name,
            parameters,
            document_version=version,
            client_token=token,
            tags=[{"Key": t["Key"], "Value": str(t.get("Value", ""))} for t in tags],
            mode=mode,
        )
        return {"AutomationExecutionId": execution_id}

    def get(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        execution = self.engine.find(_execution_id(params), ctx)
        with execution.cond:
            return {"AutomationExecution": execution.to_api()}

    # -------------------------------------------------------------------------------- describe

    def describe_executions(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        checks = [_execution_filter(f) for f in _filters(params, EXECUTION_FILTER_KEYS)]
        selected = []
        for execution in self.engine.executions(ctx.account_id, ctx.region):
            with execution.cond:
                if all(check(execution) for check in checks):
                    selected.append(execution.metadata())
        page, token = _page(selected, params)
        out: dict[str, Any] = {"AutomationExecutionMetadataList": page}
        if token:
            out["NextToken"] = token
        return out

    def describe_steps(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        execution = self.engine.find(_execution_id(params), ctx)
        checks = [_step_filter(f) for f in _filters(params, STEP_FILTER_KEYS)]
        with execution.cond:
            records = sorted(
                enumerate(execution.steps),
                key=lambda item: (item[1].start is None, item[1].start or execution.start, item[0]),
            )
            selected = [r.to_api() for _, r in records if all(check(r) for check in checks)]
        if params.get("ReverseOrder"):
            selected.reverse()
        page, token = _page(selected, params)
        out: dict[str, Any] = {"StepExecutions": page}
        if token:
            out["NextToken"] = token
        return out

    # -------------------------------------------------------------------------------- signal / stop

    def signal(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        execution_id = _execution_id(params)
        signal_type = params.get("SignalType")
        if signal_type not in ("Approve", "Reject", "StartStep", "StopStep", "Resume", "Revoke"):
            raise _validation(
                signal_type,
                "signalType",
                "Member must satisfy enum value set: [Approve, Reject, StartStep, StopStep, Resume, Revoke]",
            )
        payload = params.get("Payload") or {}
        if not isinstance(payload, dict):
            raise AwsError("InvalidAutomationSignalException", "Payload must map names to lists of strings.")
        self.engine.signal(ctx, execution_id, signal_type, payload)
        return {}

    def stop(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        stop_type = params.get("Type") or "Cancel"
        if stop_type not in ("Complete", "Cancel"):
            raise _validation(stop_type, "type", "Member must satisfy enum value set: [Complete, Cancel]")
        self.engine.stop(ctx, _execution_id(params), stop_type)
        return {}


# ------------------------------------------------------------------------------------ filters and paging


def _filters(params: dict[str, Any], keys: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    raw = params.get("Filters") or []
    if not isinstance(raw, list):
        raise AwsError("InvalidFilterKey", "Filters must be a list.")
    out = []
    for item in raw:
        key = item.get("Key") if isinstance(item, dict) else None
        if key not in keys:
            raise AwsError("InvalidFilterKey", f"The filter key {key} is not valid. Valid keys: {', '.join(keys)}.")
        values = item.get("Values")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise AwsError("InvalidFilterValue", f"The filter {key} needs one to ten string values.")
        out.append((key, values))
    return out


def _timestamp(key: str, value: str) -> dt.datetime:
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise AwsError(
            "InvalidFilterValue", f"The value {value} of filter {key} is not a timestamp (2024-01-31T12:00:00Z)."
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _time_check(key: str, values: list[str]) -> Callable[[dt.datetime | None], bool]:
    limits = [_timestamp(key, v) for v in values]
    if key == "StartTimeBefore":
        return lambda start: start is not None and any(start < t for t in limits)
    return lambda start: start is not None and any(start > t for t in limits)


def _execution_filter(item: tuple[str, list[str]]) -> Callable[[Execution], bool]:
    key, values = item
    if key == "DocumentNamePrefix":
        return lambda e: any(e.document_name.startswith(v) for v in values)
    if key == "ExecutionStatus":
        bad = [v for v in values if v not in EXECUTION_STATUSES]
        if bad:
            raise AwsError("InvalidFilterValue", f"The value {bad[0]} of filter ExecutionStatus is not a status.")
        return lambda e: e.status in values
    if key == "ExecutionId":
        return lambda e: e.execution_id in values
    if key == "CurrentAction":
        return lambda e: e.current_step is not None and e.active and e.current_step.action in values
    if key in ("StartTimeBefore", "StartTimeAfter"):
        check = _time_check(key, values)
        return lambda e: check(e.start)
    if key == "AutomationType":
        bad = [v for v in values if v not in ("CrossAccount", "Local")]
        if bad:
            raise AwsError("InvalidFilterValue", f"The value {bad[0]} of filter AutomationType is not valid.")
        return lambda e: "Local" in values
    if key == "TagKey":
        return lambda e: any(t["Key"] in values for t in e.tags)
    # ParentExecutionId, TargetResourceGroup, AutomationSubtype, OpsItemId: no sandbox execution has one.
    return lambda e: False


def _step_filter(item: tuple[str, list[str]]) -> Callable[[StepRecord], bool]:
    key, values = item
    if key in ("StartTimeBefore", "StartTimeAfter"):
        check = _time_check(key, values)
        return lambda r: check(r.start)
    if key == "StepExecutionStatus":
        bad = [v for v in values if v not in EXECUTION_STATUSES]
        if bad:
            raise AwsError("InvalidFilterValue", f"The value {bad[0]} of filter StepExecutionStatus is not a status.")
        return lambda r: r.status in values
    if key == "StepExecutionId":
        return lambda r: r.step_execution_id in values
    if key == "StepName":
        return lambda r: r.step.name in values
    if key == "Action":
        return lambda r: r.step.action in values
    return lambda r: False  # parent steps (aws:loop) do not exist in the sandbox


def _page(items: list[dict[str, Any]], params: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    size = params.get("MaxResults") or MAX_PAGE
    if not isinstance(size, int) or not 1 <= size <= MAX_PAGE:
        raise _validation(size, "maxResults", f"Member must have value less than or equal to {MAX_PAGE}")
    token = params.get("NextToken")
    start = 0
    if token:
        if not isinstance(token, str) or not token.isdigit() or int(token) > len(items):
            raise AwsError("InvalidNextToken", "The specified token is not valid.")
        start = int(token)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


def register(app: SandboxApp, engine: AutomationEngine) -> None:
    for operation, handler in AutomationApi(engine).handlers().items():
        app.register("AmazonSSM", "ssm", operation, handler)
