"""The project's vocabulary: verdicts, diff rows, remediation rows and the values compare works on.

Pure Python: no Airflow, no boto3. Every object here is plain data that serialises to JSON with
:func:`to_dict` / ``from_dict`` so that it can cross XCom, files and S3 without custom encoders.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Verdict(enum.StrEnum):
    """Outcome of comparing one attribute: never ``OK`` without evidence on both sides."""

    OK = "OK"
    NG = "NG"
    UNKNOWN = "UNKNOWN"


class RemediationState(enum.StrEnum):
    """Life cycle of one remediation item."""

    DETECTED = "DETECTED"
    APPROVED = "APPROVED"
    EXECUTING = "EXECUTING"
    VERIFIED = "VERIFIED"
    FAILED = "FAILED"
    ROLLED_BACK = "ROLLED_BACK"

    @property
    def is_terminal(self) -> bool:
        return self in (RemediationState.VERIFIED, RemediationState.FAILED, RemediationState.ROLLED_BACK)


class _Unknown:
    """Sentinel for a value that exists but cannot be known (Terraform ``(known after apply)``)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"

    def __reduce__(self) -> str:
        return "UNKNOWN_VALUE"


class _Sensitive:
    """Sentinel for a value Terraform marks sensitive: never compared, never printed."""

    _instance: _Sensitive | None = None

    def __new__(cls) -> _Sensitive:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<sensitive>"

    def __reduce__(self) -> str:
        return "SENSITIVE_VALUE"


UNKNOWN_VALUE: Any = _Unknown()
SENSITIVE_VALUE: Any = _Sensitive()


def display_value(value: Any) -> str | None:
    """How a value appears in reports: sentinels by name, everything else as compact JSON-ish text."""
    if value is UNKNOWN_VALUE:
        return "(known after apply)"
    if value is SENSITIVE_VALUE:
        return "(sensitive)"
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple, frozenset, set, dict)):
        return json.dumps(_jsonable(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (frozenset, set)):
        return sorted((_jsonable(v) for v in value), key=repr)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class ResourceKey:
    """How AWS Config names a resource: ``(resourceType, resourceId)``."""

    resource_type: str
    resource_id: str

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.resource_id}"


@dataclass(frozen=True, slots=True)
class ExpectedValue:
    """One designed attribute value taken from Terraform."""

    resource_address: str
    terraform_type: str
    attribute: str
    value: Any
    source: str  # e.g. "plan:resource_changes.after", "state"
    resource_id: str | None = None


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One attribute of one resource: what Terraform says, what AWS Config says, and the verdict."""

    resource_address: str
    resource_type: str
    attribute: str
    expected: Any
    actual: Any
    verdict: Verdict
    reason: str = ""
    resource_id: str | None = None
    config_resource_type: str | None = None
    config_rule: str | None = None
    runbook: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource_address": self.resource_address,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "config_resource_type": self.config_resource_type,
            "attribute": self.attribute,
            "expected": display_value(self.expected),
            "actual": display_value(self.actual),
            "verdict": self.verdict.value,
            "reason": self.reason,
            "config_rule": self.config_rule,
            "runbook": self.runbook,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DiffRow:
        return cls(
            resource_address=data["resource_address"],
            resource_type=data["resource_type"],
            resource_id=data.get("resource_id"),
            config_resource_type=data.get("config_resource_type"),
            attribute=data["attribute"],
            expected=data.get("expected"),
            actual=data.get("actual"),
            verdict=Verdict(data["verdict"]),
            reason=data.get("reason", ""),
            config_rule=data.get("config_rule"),
            runbook=data.get("runbook"),
        )


@dataclass(frozen=True, slots=True)
class RemediationRow:
    """One remediation of one resource, from detection to its terminal state. Immutable: use ``evolve``."""

    resource_address: str
    resource_id: str
    config_rule_name: str | None
    runbook_name: str | None
    state: RemediationState = RemediationState.DETECTED
    pre_compliance: str | None = None
    post_compliance: str | None = None
    automation_execution_id: str | None = None
    approver: str | None = None
    error_message: str | None = None
    note: str | None = None
    resource_type: str | None = None
    attributes: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    detected_at: datetime | None = None
    approved_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None

    def evolve(self, **changes: Any) -> RemediationRow:
        return dataclasses.replace(self, **changes)

    @property
    def item_key(self) -> str:
        """Identity of the item inside one run: the AWS resource and the Config rule it broke (the same key
        the remediation plan uses, so plan, evidence, KPI history and the loop guard agree)."""
        return f"{self.resource_id}|{self.config_rule_name or '-'}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RemediationRow:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {k: v for k, v in data.items() if k in names}
        kwargs["state"] = RemediationState(kwargs.get("state", RemediationState.DETECTED))
        kwargs["attributes"] = tuple(kwargs.get("attributes") or ())
        kwargs["parameters"] = dict(kwargs.get("parameters") or {})
        for name in ("detected_at", "approved_at", "started_at", "finished_at"):
            if isinstance(kwargs.get(name), str):
                kwargs[name] = datetime.fromisoformat(kwargs[name])
        return cls(**kwargs)
