"""Remediation planning and outcomes: pure functions over DiffRows, mappings and AWS-shaped data.

* :func:`plan_remediations` turns NG rows into items for the mapped start task: one item per resource and
  Config rule (the four public-access-block attributes are one repair), parameters resolved from the
  Terraform-managed remediation configuration (DescribeRemediationConfigurations shape) and overridden by
  the designed value where the mapping says ``{expected: attribute}``. NG rows without a runbook, without a
  deployed remediation configuration, or refused by the loop guard go to the manual list with the reason.
* :func:`client_token` makes StartAutomationExecution idempotent across task retries: the same run, resource
  and runbook always give the same token, so a retried task never repairs twice.
* :func:`execution_outcome` maps a terminal GetAutomationExecution to RemediationState and the exit codes
  0 verified, 1 failed, 2 rolled back, 3 rollback failed, 124 approval timed out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from fnmatch import fnmatchcase
from typing import Any

from drift_repair.core.mappings import MappingSet
from drift_repair.core.models import DiffRow, RemediationState, Verdict

TOKEN_NAMESPACE = uuid.UUID("6f1c1b7e-3d2a-5b8e-9a51-d2f0c0ffee00")

EXIT_VERIFIED, EXIT_FAILED, EXIT_ROLLED_BACK, EXIT_ROLLBACK_FAILED, EXIT_APPROVAL_TIMEOUT = 0, 1, 2, 3, 124

# GetAutomationExecution statuses, as AWS documents them.
RUNNING_STATUSES = (
    "Pending",
    "InProgress",
    "Waiting",
    "Cancelling",
    "RunbookInProgress",
    "Scheduled",
    "PendingApproval",
    "Approved",
    "PendingChangeCalendarOverride",
    "ChangeCalendarOverrideApproved",
)
SUCCESS_STATUSES = ("Success",)
FAILURE_STATUSES = (
    "Failed",
    "TimedOut",
    "Cancelled",
    "CompletedWithFailure",
    "Rejected",
    "ChangeCalendarOverrideRejected",
    "Exited",
)
TERMINAL_STATUSES = SUCCESS_STATUSES + FAILURE_STATUSES + ("CompletedWithSuccess",)

# Steps whose name contains this (any case) undo a change; runbooks in include/runbooks follow it.
ROLLBACK_STEP_MARKER = "rollback"

# Resource ids as AWS writes them, checked before any AWS call is made with them.
RESOURCE_ID_PATTERNS: dict[str, str] = {
    "AWS::S3::Bucket": r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$",
    "AWS::RDS::DBInstance": r"^db-[A-Z0-9]{1,40}$",
    "AWS::EC2::Instance": r"^i-[0-9a-f]{8,17}$",
    "AWS::EC2::SecurityGroup": r"^sg-[0-9a-f]{8,17}$",
    "AWS::KMS::Key": r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|^mrk-[0-9a-f]{32}$",
    "AWS::CloudTrail::Trail": r"^[A-Za-z0-9][A-Za-z0-9._\-]{2,127}$|^arn:aws[a-z-]*:cloudtrail:.+$",
    "AWS::::Account": r"^\d{12}$",
    "AWS::EC2::FlowLog": r"^fl-[0-9a-f]{8,17}$",
}
MAX_PARAMETER_VALUE_LENGTH = 4096


class ParameterError(ValueError):
    """A remediation's parameters are not safe to send to AWS."""


@dataclass(frozen=True)
class RemediationItem:
    """One repair: a resource, the Config rule it breaks and the runbook that fixes it."""

    item_key: str
    resource_address: str
    resource_id: str
    config_resource_type: str
    config_rule: str
    runbook: str
    document_version: str | None
    parameters: Mapping[str, list[str]]
    attributes: tuple[str, ...]
    client_token: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["attributes"] = list(self.attributes)
        out["parameters"] = {k: list(v) for k, v in self.parameters.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RemediationItem:
        """From ``to_dict`` output; keys the pipeline adds (e.g. ``poll_seconds``) are ignored."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["attributes"] = tuple(data.get("attributes", ()))
        values["parameters"] = {k: list(v) for k, v in data["parameters"].items()}
        return cls(**values)


@dataclass(frozen=True)
class ManualItem:
    """NG attributes a human must handle, and why the loop does not."""

    resource_address: str
    resource_id: str | None
    attributes: tuple[str, ...]
    config_rule: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "attributes": list(self.attributes)}


@dataclass
class RemediationPlan:
    items: list[RemediationItem] = field(default_factory=list)
    manual: list[ManualItem] = field(default_factory=list)
    filtered_out: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [i.to_dict() for i in self.items],
            "manual": [m.to_dict() for m in self.manual],
            "filtered_out": self.filtered_out,
        }


def client_token(dag_id: str, run_id: str, resource_id: str, runbook: str) -> str:
    """A UUID (the format StartAutomationExecution requires) that only this run/resource/runbook produces."""
    return str(uuid.uuid5(TOKEN_NAMESPACE, f"{dag_id}|{run_id}|{resource_id}|{runbook}"))


def resolve_parameters(
    remediation_configuration: Mapping[str, Any],
    resource_id: str,
    overrides: Mapping[str, list[str]] | None = None,
) -> dict[str, list[str]]:
    """Parameters of a RemediationConfiguration (RESOURCE_ID / StaticValue) for one resource."""
    out: dict[str, list[str]] = {}
    for name, spec in (remediation_configuration.get("Parameters") or {}).items():
        if "ResourceValue" in spec:
            if spec["ResourceValue"].get("Value") != "RESOURCE_ID":
                raise ParameterError(f"parameter {name}: unsupported ResourceValue {spec['ResourceValue']}")
            out[name] = [resource_id]
        elif "StaticValue" in spec:
            out[name] = [str(v) for v in spec["StaticValue"].get("Values", [])]
        else:
            raise ParameterError(f"parameter {name}: neither ResourceValue nor StaticValue")
    for name, values in (overrides or {}).items():
        out[name] = list(values)
    return out


def validate_parameters(item: RemediationItem) -> None:
    """Refuse anything unsafe before it reaches AWS: malformed ids, non-string or oversized values."""
    pattern = RESOURCE_ID_PATTERNS.get(item.config_resource_type)
    if pattern and not re.match(pattern, item.resource_id):
        raise ParameterError(
            f"{item.resource_address}: resource id {item.resource_id!r} is not a valid {item.config_resource_type} id"
        )
    if not re.match(r"^[A-Za-z0-9_.\-]{3,128}$", item.runbook):
        raise ParameterError(f"{item.resource_address}: invalid document name {item.runbook!r}")
    for name, values in item.parameters.items():
        if not re.match(r"^[A-Za-z0-9]{1,50}$", name):
            raise ParameterError(f"{item.resource_address}: invalid parameter name {name!r}")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ParameterError(f"{item.resource_address}: parameter {name} must be a list of strings")
        for v in values:
            if len(v) > MAX_PARAMETER_VALUE_LENGTH or any(ord(c) < 32 and c not in "\t\n" for c in v):
                raise ParameterError(f"{item.resource_address}: parameter {name} has an unsafe value")
    try:
        uuid.UUID(item.client_token)
    except ValueError:
        raise ParameterError(f"{item.resource_address}: client token is not a UUID") from None


def _as_parameter(value: Any) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def select_rows(rows: Iterable[DiffRow], resource_filter: str | None) -> tuple[list[DiffRow], list[str]]:
    """NG rows whose address or id matches the filter (glob patterns, comma-separated); the rest listed."""
    ng = [r for r in rows if r.verdict is Verdict.NG]
    if not resource_filter:
        return ng, []
    patterns = [p.strip() for p in resource_filter.split(",") if p.strip()]
    kept, dropped = [], []
    for r in ng:
        if any(fnmatchcase(r.resource_address, p) or fnmatchcase(r.resource_id or "", p) for p in patterns):
            kept.append(r)
        else:
            dropped.append(r.resource_address)
    return kept, sorted(set(dropped))


def _plan_group(
    group: list[DiffRow],
    rule_name: str | None,
    mappings: MappingSet,
    remediation_configurations: Mapping[str, Mapping[str, Any]],
    design: Mapping[tuple[str, str], Any],
    dag_id: str,
    run_id: str,
) -> RemediationItem | str:
    """The item repairing one resource for one rule, or the reason a human must do it."""
    first = group[0]
    rule = mappings.rules.get(rule_name) if rule_name else None
    if first.resource_id is None:
        return "resource id unknown"
    if rule is None or rule.remediation is None:
        return "no runbook repairs this attribute"
    config = remediation_configurations.get(rule.name)
    if config is None:
        return f"no remediation configuration for Config rule {rule.name} in the account (deploy include/terraform)"
    if config.get("Automatic"):
        return f"remediation configuration of {rule.name} is automatic; drift-repair requires automatic = false"
    if config.get("TargetId") != rule.remediation.runbook:
        return (
            f"remediation configuration of {rule.name} runs {config.get('TargetId')}, "
            f"the mapping expects {rule.remediation.runbook}"
        )
    overrides = {}
    for name, spec in rule.remediation.parameters.items():
        value = design.get((first.resource_id, spec["expected"])) if "expected" in spec else None
        if value is not None and value != "":
            overrides[name] = _as_parameter(value)
    try:
        item = RemediationItem(
            item_key=f"{first.resource_id}|{rule.name}",
            resource_address=first.resource_address,
            resource_id=first.resource_id,
            config_resource_type=first.config_resource_type or "",
            config_rule=rule.name,
            runbook=rule.remediation.runbook,
            document_version=config.get("TargetVersion"),
            parameters=resolve_parameters(config, first.resource_id, overrides),
            attributes=tuple(r.attribute for r in group),
            client_token=client_token(dag_id, run_id, first.resource_id, rule.remediation.runbook),
        )
        validate_parameters(item)
    except ParameterError as exc:
        return f"parameters refused: {exc}"
    return item


def plan_remediations(
    rows: Sequence[DiffRow],
    mappings: MappingSet,
    remediation_configurations: Mapping[str, Mapping[str, Any]],
    design: Mapping[tuple[str, str], Any],  # (resource id, attribute) -> designed value
    *,
    dag_id: str,
    run_id: str,
    resource_filter: str | None = None,
    max_remediations: int | None = None,
    guard: Callable[[RemediationItem], str | None] | None = None,
) -> RemediationPlan:
    """Items to repair and the manual list. ``guard(item) -> reason | None`` refuses repeated repairs."""
    plan = RemediationPlan()
    selected, plan.filtered_out = select_rows(rows, resource_filter)
    groups: dict[tuple[str, str | None], list[DiffRow]] = {}
    for row in selected:
        groups.setdefault((row.resource_id or row.resource_address, row.config_rule), []).append(row)
    for (_rid, rule_name), group in groups.items():
        result = _plan_group(group, rule_name, mappings, remediation_configurations, design, dag_id, run_id)
        if isinstance(result, RemediationItem):
            refusal = guard(result) if guard else None
            if refusal is None and max_remediations is not None and len(plan.items) >= max_remediations:
                refusal = f"over max_remediations ({max_remediations}) for this run"
            if refusal is None:
                plan.items.append(result)
                continue
            result = refusal
        plan.manual.append(
            ManualItem(
                group[0].resource_address, group[0].resource_id, tuple(r.attribute for r in group), rule_name, result
            )
        )
    return plan


@dataclass(frozen=True)
class Outcome:
    state: RemediationState
    exit_code: int
    message: str


def _step_status(steps: Sequence[Mapping[str, Any]], predicate: Any) -> list[Mapping[str, Any]]:
    return [s for s in steps if predicate(s)]


def execution_outcome(execution: Mapping[str, Any]) -> Outcome:
    """Terminal GetAutomationExecution → state and exit code (before the re-compare verifies it)."""
    status = execution.get("AutomationExecutionStatus", "")
    steps: Sequence[Mapping[str, Any]] = execution.get("StepExecutions") or ()
    if status in SUCCESS_STATUSES or status == "CompletedWithSuccess":
        rolled = _step_status(
            steps, lambda s: ROLLBACK_STEP_MARKER in s.get("StepName", "").lower() and s.get("StepStatus") == "Success"
        )
        if rolled:  # a runbook that rolled back but ended without failing still did not repair
            return Outcome(RemediationState.ROLLED_BACK, EXIT_ROLLED_BACK, "the change was rolled back")
        return Outcome(RemediationState.EXECUTING, EXIT_VERIFIED, "runbook succeeded; awaiting verification")
    if status not in TERMINAL_STATUSES:
        raise ValueError(f"execution is not finished (status {status!r})")
    failure = execution.get("FailureMessage") or status
    approvals_timed_out = _step_status(
        steps, lambda s: s.get("Action") == "aws:approve" and s.get("StepStatus") == "TimedOut"
    )
    if approvals_timed_out:
        return Outcome(
            RemediationState.FAILED,
            EXIT_APPROVAL_TIMEOUT,
            f"approval step {approvals_timed_out[0].get('StepName')} timed out",
        )
    rollbacks = _step_status(
        steps,
        lambda s: (
            ROLLBACK_STEP_MARKER in s.get("StepName", "").lower() and s.get("StepStatus") not in (None, "Pending")
        ),
    )
    if rollbacks:
        if all(s.get("StepStatus") == "Success" for s in rollbacks):
            return Outcome(RemediationState.ROLLED_BACK, EXIT_ROLLED_BACK, f"rolled back after: {failure}")
        return Outcome(RemediationState.FAILED, EXIT_ROLLBACK_FAILED, f"rollback failed after: {failure}")
    return Outcome(RemediationState.FAILED, EXIT_FAILED, str(failure))
