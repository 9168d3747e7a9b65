"""The sandbox HTTP server: moto's server with the operations moto lacks added in front of it.

A request whose JSON-protocol target (``X-Amz-Target: <prefix>.<Operation>``) names an operation an
extension registered is answered by that extension; everything else passes through to moto unchanged.
Extensions read and change moto's in-memory backends directly (same process), so their answers are
always current. Errors use the AWS JSON protocol shape (``__type`` and ``message``) that botocore turns into
``ClientError`` with the right code.

Layout (each part registers its operations in ``build_app``):
    sandbox/server.py       this dispatcher, request context, errors, serve()
    sandbox/__main__.py     python -m sandbox serve | seed
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import re
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

log = logging.getLogger("sandbox")

DEFAULT_REGION = "ap-northeast-1"
ADMIN_PREFIX = "/_sandbox"

_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


class AwsError(Exception):
    """An error answered in AWS's own shape. ``code`` is the exception name botocore exposes."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class RequestContext:
    """Who called what, where: parsed from the SigV4 Authorization header."""

    service: str
    operation: str
    region: str
    account_id: str
    access_key_id: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def caller_arn(self) -> str:
        """The calling principal. The sandbox names principals by access key: ``user/<access key id>``."""
        return f"arn:aws:iam::{self.account_id}:user/{self.access_key_id}"


Handler = Callable[[dict[str, Any], RequestContext], dict[str, Any]]


class SandboxApp:
    """WSGI application: registered JSON operations first, then admin endpoints, then moto."""

    def __init__(self) -> None:
        self.moto = DomainDispatcherApplication(create_backend_app)
        # (X-Amz-Target prefix, operation) -> handler, e.g. ("AmazonSSM", "StartAutomationExecution")
        self.operations: dict[tuple[str, str], Handler] = {}
        self.target_services: dict[str, str] = {}  # target prefix -> signing service name
        # admin routes: (method, path) -> callable(body) -> (status, json)
        self.admin_routes: dict[tuple[str, str], Callable[[dict[str, Any]], tuple[int, Any]]] = {}
        # WSGI middlewares that want to see every request (quotas, faults, call record) wrap `self.inner`.
        self.inner: Callable[..., Iterable[bytes]] = self._dispatch
        self.lock = threading.RLock()
        # In-process services one part offers another, e.g. services["ssm_automation"] (the runbook engine)
        # used by Config's StartRemediationExecution. Looked up at call time: install order does not matter.
        self.services: dict[str, Any] = {}
        # The server's own base URL once listening (the runbook engine calls AWS APIs through it).
        self.self_url: str | None = None
        # Callbacks run by POST /_sandbox/reset after moto's own reset (each part clears its state).
        self.reset_hooks: list[Callable[[], None]] = []
        self.admin("GET", "/health", lambda _body: (200, {"status": "ok"}))

    # ------------------------------------------------------------------ registration

    def register(self, target_prefix: str, service: str, operation: str, handler: Handler) -> None:
        self.operations[(target_prefix, operation)] = handler
        self.target_services[target_prefix] = service

    def admin(self, method: str, path: str, fn: Callable[[dict[str, Any]], tuple[int, Any]]) -> None:
        self.admin_routes[(method.upper(), path)] = fn

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.inner(environ, start_response)

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(ADMIN_PREFIX + "/"):
            return self._admin(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if "." in target:
            prefix, operation = target.rsplit(".", 1)
            handler = self.operations.get((prefix, operation))
            if handler is not None:
                return self._json(environ, start_response, handler, prefix, operation)
        return self.moto(environ, start_response)

    @staticmethod
    def read_body(environ: dict[str, Any]) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        data: bytes = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(data)  # let later readers (moto) read it again
        return data

    def context(self, environ: dict[str, Any], operation: str, service: str = "") -> RequestContext:
        auth = environ.get("HTTP_AUTHORIZATION", "")
        match = _CREDENTIAL_RE.search(auth)
        access_key, region, signed_service = match.groups() if match else ("anonymous", DEFAULT_REGION, service)
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        return RequestContext(
            service=signed_service or service,
            operation=operation,
            region=region,
            account_id=account_for_access_key(access_key),
            access_key_id=access_key,
            headers=headers,
        )

    def _json(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        handler: Handler,
        prefix: str,
        operation: str,
    ) -> Iterable[bytes]:
        raw = self.read_body(environ)
        try:
            params = json.loads(raw or b"{}")
            if not isinstance(params, dict):
                raise AwsError("SerializationException", "request body is not a JSON object")
            ctx = self.context(environ, operation, self.target_services.get(prefix, ""))
            result = handler(params, ctx)
            status, body = 200, result
        except AwsError as exc:
            status, body = exc.status, {"__type": exc.code, "message": exc.message}
        except json.JSONDecodeError:
            status, body = 400, {"__type": "SerializationException", "message": "request body is not JSON"}
        except Exception as exc:  # an internal error must still answer in AWS's shape
            log.exception("sandbox: %s.%s failed", prefix, operation)
            status, body = 500, {"__type": "InternalServerError", "message": f"sandbox error: {exc}"}
        payload = json.dumps(body, default=_json_default).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(payload)))]
        if status >= 400:
            headers.append(("x-amzn-ErrorType", str(body.get("__type", ""))))
        start_response(f"{status} {'OK' if status < 400 else 'Error'}", headers)
        return [payload]

    def _admin(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ["PATH_INFO"][len(ADMIN_PREFIX) :]
        fn = self.admin_routes.get((method, path))
        if fn is None:
            status, body = 404, {"error": f"no admin route {method} {path}"}
        else:
            raw = self.read_body(environ)
            try:
                params = json.loads(raw) if raw else {}
                query = environ.get("QUERY_STRING", "")
                if query:
                    params = {**dict(parse_qsl(query)), **params}
                status, body = fn(params)
            except (ValueError, KeyError, TypeError) as exc:
                status, body = 400, {"error": str(exc)}
        payload = json.dumps(body, default=_json_default).encode()
        start_response(f"{status} X", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.timestamp() if hasattr(value, "timestamp") else value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def account_for_access_key(access_key_id: str) -> str:
    """moto's rule: an access key of 12 digits names its own account, any other key the default account."""
    if len(access_key_id) == 12 and access_key_id.isdigit():
        return access_key_id
    return DEFAULT_ACCOUNT_ID


# Each extension module exposes install(app: SandboxApp) -> None; build_app installs those present.
EXTENSIONS: tuple[str, ...] = (
    "sandbox.config",
    "sandbox.ssm",
    "sandbox.control",
)


def build_app(extensions: Iterable[str] = EXTENSIONS) -> SandboxApp:
    app = SandboxApp()
    for name in extensions:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # that part of the sandbox is not built yet
            raise
        module.install(app)
    return app


def serve(host: str = "127.0.0.1", port: int = 4566, ready: Callable[[int], None] | None = None) -> None:
    """Run until SIGTERM / SIGINT; stops cleanly (in-flight requests finish, then the process exits)."""
    app = build_app()
    server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        log.info("sandbox: signal %s, shutting down", signum)
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    actual_port = server.server_address[1]
    app.self_url = f"http://{host}:{actual_port}"
    log.info("sandbox: listening on http://%s:%s", host, actual_port)
    if ready:
        ready(actual_port)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
