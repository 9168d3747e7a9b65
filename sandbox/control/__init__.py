"""Quotas, faults and the call record: a WSGI middleware around every request the sandbox answers.

Every request (boto3's, the Airflow hooks', and the SSM Automation engine's own calls, which go through the
server's HTTP URL) is identified (:mod:`sandbox.control.operations`), then in order:

1. a matching fault adds latency and/or fails it with the given error (:mod:`~sandbox.control.faults`),
   before it is answered or, with ``after_effect``, after it took effect;
2. if quotas are on, an empty token bucket fails it with the protocol's throttling error
   (:mod:`~sandbox.control.throttle`);
3. it is answered (extension handler or moto);
4. a mutating call is recorded with its outcome (:mod:`~sandbox.control.record`), and, if it succeeded,
   the ``mutation_listeners`` in ``app.services`` are told (Config records the change before the caller
   sees the response, so a read right after a write sees it, as AWS's recorder does within seconds).

Admin routes (JSON; under ``/_sandbox``):
    POST   /reset                      forget every resource, record, fault and quota setting
    GET    /throttling                 {"enabled", "operations": {key: {"rate", "burst", "enabled"}}}
    POST   /throttling                 {"enabled": true} and/or {"operations": {"GetAutomationExecution":
                                       {"enabled": true, "rate": 3, "burst": 3}}}
    GET    /faults | POST /faults      list | add ({"operation", "error", "count", "status", "latency_ms",
                                       "resource", "after_effect"})
    DELETE /faults                     {"id": ...} removes one, {} removes all
    GET    /calls?operation=..&service=..&resource=..&caller=..&outcome=..&since=..&limit=..
    DELETE /calls                      clear the record and the counters
    GET    /calls/stats                {"operations": {"ssm:GetAutomationExecution": {"total", "success", ...}}}

Environment (read at start and on reset):
    SANDBOX_THROTTLING=1               quotas on (``0`` off, or a comma list of operations to limit)
    SANDBOX_CONTROL_FILE=path          JSON or YAML: {"throttling": {...as POST /throttling}, "faults": [...]}
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from sandbox.backends import reset_moto
from sandbox.control import errors
from sandbox.control.faults import Faults
from sandbox.control.operations import Call, identify, response_resources
from sandbox.control.record import CallRecord
from sandbox.control.throttle import Throttle
from sandbox.server import ADMIN_PREFIX, SandboxApp

log = logging.getLogger("sandbox.control")

CLOUDTRAIL_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"


class Control:
    """State shared by the middleware and the admin routes; ``app.services["control"]``."""

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.throttle = Throttle()
        self.faults = Faults()
        self.record = CallRecord()
        self.load_settings()

    # ------------------------------------------------------------------ settings

    def load_settings(self) -> None:
        """Quotas and faults from SANDBOX_THROTTLING and SANDBOX_CONTROL_FILE (start and reset)."""
        self.throttle.reset()
        self.faults.remove(None)
        path = os.environ.get("SANDBOX_CONTROL_FILE")
        if path:
            text = Path(path).read_text(encoding="utf-8")
            doc = (yaml.safe_load(text) or {}) if path.endswith((".yaml", ".yml")) else json.loads(text)
            if doc.get("throttling"):
                self.throttle.configure(doc["throttling"])
            for spec in doc.get("faults") or []:
                self.faults.add(spec)
        switch = os.environ.get("SANDBOX_THROTTLING", "").strip()
        if switch.lower() in ("1", "true", "on", "yes", "all"):
            self.throttle.configure({"enabled": True})
        elif switch and switch.lower() not in ("0", "false", "off", "no"):
            names = [n.strip() for n in switch.split(",") if n.strip()]
            self.throttle.configure({"operations": {n: {"enabled": True} for n in names}})

    def quotas_enabled(self, operation: str, service: str = "config") -> bool:
        """Whether AWS's quotas are enforced for an operation (used by handlers with quota semantics)."""
        return self.throttle.applies(service, operation)

    # ------------------------------------------------------------------ middleware

    def middleware(self, inner: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            if path.startswith((ADMIN_PREFIX + "/", "/moto-api")):
                return inner(environ, start_response)
            try:
                call = identify(environ)
            except Exception:  # identification must never break a request
                log.exception("sandbox: could not identify a request to %s", path)
                return inner(environ, start_response)
            # One account rule for the whole sandbox: the caller's account is the one its access key names
            # (sandbox.server.account_for_access_key). moto would put every key it did not issue itself in
            # its default account; its x-moto-account-id header makes it agree with the sandbox's handlers.
            environ.setdefault("HTTP_X_MOTO_ACCOUNT_ID", call.account_id)
            return self.handle(call, inner, environ, start_response)

        return app

    def _refuse(
        self, call: Call, code: str, message: str, status: int, start_response: Callable[..., Any], outcome: str
    ) -> list[bytes]:
        line, headers, body = errors.render(call, code, message, status)
        self.record.count(call, outcome)
        if call.mutating:
            self.record.add(call, status, code, message)
        start_response(line, headers)
        return [body]

    def handle(
        self,
        call: Call,
        inner: Callable[..., Iterable[bytes]],
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> Iterable[bytes]:
        fault = self.faults.take(call)
        if fault is not None:
            if fault.latency_ms:
                time.sleep(fault.latency_ms / 1000)
            if fault.error and fault.after_effect:
                return self._after_effect(call, fault, inner, environ, start_response)
            if fault.error:
                return self._refuse(call, fault.error, fault.error_message, fault.error_status, start_response, "fault")
        if not self.throttle.allow(call.account_id, call.region, call.service, call.operation):
            code, status, message = errors.THROTTLING.get(call.protocol, errors.THROTTLING["json"])
            return self._refuse(call, code, message, status, start_response, "throttled")
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = headers
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        if not call.mutating:
            result = inner(environ, capture)
            if "status" in captured:
                self.record.count(call, "success" if captured["status"] < 400 else "error")
            else:
                self.record.count(call, "success")
            return result
        result = inner(environ, capture)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status = int(captured.get("status", 200))
        if status >= 400:
            error_code, error_message = errors.parse_error(captured.get("headers", []), body)
            self.record.add(call, status, error_code, error_message)
            self.record.count(call, "error")
        else:
            self.record.add(call, status, None, None, response_resources(body))
            self.record.count(call, "success")
            self.notify(call)
        return [body]

    def _after_effect(
        self,
        call: Call,
        fault: Any,
        inner: Callable[..., Iterable[bytes]],
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> list[bytes]:
        """Carry the call out, then answer the fault's error instead of the response (which is lost)."""
        captured: dict[str, int] = {}

        def capture(status: str, _headers: list[tuple[str, str]], _exc_info: Any = None) -> Any:
            captured["status"] = int(status.split(" ", 1)[0])
            return lambda _data: None

        result = inner(environ, capture)
        try:
            b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if call.mutating and captured.get("status", 200) < 400:
            self.notify(call)  # the change happened: Config records it, whatever the caller was told
        return self._refuse(call, fault.error, fault.error_message, fault.error_status, start_response, "fault")

    def notify(self, call: Call) -> None:
        for listener in list(self.app.services.get("mutation_listeners", [])):
            try:
                listener(call.account_id, call.region)
            except Exception:  # a listener's failure must not turn a successful call into an error
                log.exception("sandbox: mutation listener failed after %s", call.operation)


def install(app: SandboxApp) -> None:
    control = Control(app)
    app.services["control"] = control
    app.services["call_record"] = control.record
    app.inner = control.middleware(app.inner)
    app.register(CLOUDTRAIL_TARGET, "cloudtrail", "LookupEvents", control.record.lookup_events)

    def reset(_body: dict[str, Any]) -> tuple[int, Any]:
        with app.lock:
            reset_moto()
            control.record.reset()
            control.load_settings()
            for hook in list(app.reset_hooks):
                hook()
        return 200, {"reset": True}

    def get_throttling(_body: dict[str, Any]) -> tuple[int, Any]:
        return 200, control.throttle.describe()

    def post_throttling(body: dict[str, Any]) -> tuple[int, Any]:
        control.throttle.configure(body)
        return 200, control.throttle.describe()

    def get_faults(_body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"faults": control.faults.describe()}

    def post_faults(body: dict[str, Any]) -> tuple[int, Any]:
        specs = body.get("faults") if "faults" in body else [body]
        added = [control.faults.add(spec).id for spec in specs or []]
        return 200, {"ids": added, "faults": control.faults.describe()}

    def delete_faults(body: dict[str, Any]) -> tuple[int, Any]:
        removed = control.faults.remove(body.get("id"))
        return 200, {"removed": removed}

    def get_calls(body: dict[str, Any]) -> tuple[int, Any]:
        return 200, {"calls": control.record.query(body)}

    def delete_calls(_body: dict[str, Any]) -> tuple[int, Any]:
        control.record.reset()
        return 200, {"cleared": True}

    def call_stats(_body: dict[str, Any]) -> tuple[int, Any]:
        return 200, control.record.stats()

    app.admin("POST", "/reset", reset)
    app.admin("GET", "/throttling", get_throttling)
    app.admin("POST", "/throttling", post_throttling)
    app.admin("GET", "/faults", get_faults)
    app.admin("POST", "/faults", post_faults)
    app.admin("DELETE", "/faults", delete_faults)
    app.admin("GET", "/calls", get_calls)
    app.admin("DELETE", "/calls", delete_calls)
    app.admin("GET", "/calls/stats", call_stats)
