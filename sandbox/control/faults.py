"""Fault injection: make the next N calls of an operation fail with a given error, or slow them down.

A fault is ``{"operation": "StartAutomationExecution", "error": "InternalServerError", "count": 2}``;
optional ``service`` (``ssm``), ``status`` (the HTTP status; AWS's usual one for the code otherwise),
``message``, ``latency_ms`` (delay before answering; with no ``error`` the call then proceeds normally)
``resource`` (only calls that name this resource id) and ``after_effect`` (true: the call is carried out first
and the error answered afterwards, as when a service applied a change but the caller saw a 5xx or lost the
response; the case runbooks' retries and rollbacks exist for). ``count`` null means every call until removed.
``operation`` may be ``*``. Faults come from ``POST /_sandbox/faults`` or the control file
(``SANDBOX_CONTROL_FILE``); the first matching fault with calls left applies.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from sandbox.control.errors import default_status
from sandbox.control.operations import Call


@dataclass
class Fault:
    id: str
    operation: str
    service: str | None = None
    error: str | None = None
    status: int | None = None
    message: str | None = None
    count: int | None = 1
    latency_ms: int = 0
    resource: str | None = None
    after_effect: bool = False
    applied: int = 0

    def matches(self, call: Call) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        if self.operation not in ("*", call.operation, f"{call.service}:{call.operation}"):
            return False
        if self.service and self.service != call.service:
            return False
        return not (self.resource and not any(self.resource == rid for _t, rid in call.resources))

    @property
    def error_status(self) -> int:
        return self.status or default_status(self.error or "")

    @property
    def error_message(self) -> str:
        return self.message or f"Injected fault: {self.error}"


def parse(spec: dict[str, Any]) -> Fault:
    if not isinstance(spec, dict) or not spec.get("operation"):
        raise ValueError("a fault needs an operation (or '*')")
    if not spec.get("error") and not spec.get("latency_ms"):
        raise ValueError("a fault needs an error code, a latency_ms, or both")
    if spec.get("after_effect") and not spec.get("error"):
        raise ValueError("after_effect needs an error code (the error answered after the call took effect)")
    count = spec.get("count", 1)
    return Fault(
        id=str(spec.get("id") or uuid.uuid4()),
        operation=str(spec["operation"]),
        service=spec.get("service"),
        error=spec.get("error"),
        status=int(spec["status"]) if spec.get("status") is not None else None,
        message=spec.get("message"),
        count=None if count is None else int(count),
        latency_ms=int(spec.get("latency_ms", 0) or 0),
        resource=spec.get("resource"),
        after_effect=bool(spec.get("after_effect", False)),
    )


class Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: list[Fault] = []

    def add(self, spec: dict[str, Any]) -> Fault:
        fault = parse(spec)
        with self.lock:
            self.faults.append(fault)
        return fault

    def remove(self, fault_id: str | None) -> int:
        with self.lock:
            before = len(self.faults)
            self.faults = [f for f in self.faults if fault_id is not None and f.id != fault_id]
            return before - len(self.faults)

    def take(self, call: Call) -> Fault | None:
        """The fault to apply to this call (its count decremented), or None."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(call):
                    if fault.count is not None:
                        fault.count -= 1
                    fault.applied += 1
                    return Fault(**asdict(fault))
        return None

    def describe(self) -> list[dict[str, Any]]:
        with self.lock:
            return [asdict(f) for f in self.faults]
