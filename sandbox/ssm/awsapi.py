"""AWS API calls made by runbook steps, through the sandbox's own HTTP endpoint.

aws:executeAwsApi, aws:assertAwsResourceProperty and aws:waitForAwsResourceProperty name a service as boto3
does (``s3``, ``rds``, ``ec2``) and an operation as the API reference does (``PutBucketEncryption``). The
call goes over HTTP to the server itself (``app.self_url``), never to moto's backends directly, so the
sandbox's throttling, fault injection and record of mutating calls apply to the engine exactly as to any
other client, and the resources changed are the live ones every client sees.

The calls are signed with the execution's account id as access key (the sandbox maps a 12-digit key to that
account), and botocore's own retries are off: a runbook retries with ``maxAttempts``, as on AWS.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
from collections.abc import Callable, Mapping
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError, UnknownServiceError
from botocore.model import OperationModel, Shape

ENGINE_SECRET_KEY = "sandbox-ssm-automation"


class ApiCallError(Exception):
    """An API call a step made failed; the message reads like boto3's (``An error occurred (Code) ...``)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class AwsApiCaller:
    """boto3 clients pointed at the sandbox, one per (service, account, region), shared by all executions."""

    def __init__(self, endpoint: str | Callable[[], str | None] | None) -> None:
        # A callable: the server knows its own URL only once it listens, after the engine was built.
        self._endpoint = endpoint
        self._clients: dict[tuple[str, str, str], BaseClient] = {}
        self._lock = threading.Lock()
        self._session = boto3.session.Session()
        self._config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
            s3={"addressing_style": "path"},
        )

    @property
    def endpoint_url(self) -> str | None:
        return self._endpoint() if callable(self._endpoint) else self._endpoint

    def client(self, service: str, account_id: str, region: str) -> BaseClient:
        if not self.endpoint_url:
            raise ApiCallError("the sandbox server is not listening yet: no endpoint for the runbook's API calls")
        key = (service, account_id, region)
        with self._lock:  # creating clients from one session is not thread-safe; using them is
            client = self._clients.get(key)
            if client is None:
                try:
                    client = self._session.client(
                        service,  # type: ignore[call-overload]
                        endpoint_url=self.endpoint_url,
                        region_name=region,
                        aws_access_key_id=account_id,
                        aws_secret_access_key=ENGINE_SECRET_KEY,
                        config=self._config,
                    )
                except UnknownServiceError:
                    raise ApiCallError(f"Service {service} is not a valid AWS service namespace.") from None
                self._clients[key] = client
        return client

    def operation(self, client: BaseClient, api: str) -> OperationModel:
        """The operation named ``api`` (PascalCase as in the API reference; boto3's snake_case also works)."""
        model = client.meta.service_model
        if api in model.operation_names:
            return model.operation_model(api)
        for name in model.operation_names:
            if client.meta.method_to_api_mapping.get(api) == name:
                return model.operation_model(name)
        raise ApiCallError(f"Api {api} is not an operation of service {model.service_name}.")

    def call(self, service: str, api: str, params: Mapping[str, Any], account_id: str, region: str) -> dict[str, Any]:
        """Call ``service.api(**params)``; returns the response as JSON-able data (timestamps as ISO text)."""
        client = self.client(service, account_id, region)
        operation = self.operation(client, api)
        args = coerce(dict(params), operation.input_shape) if operation.input_shape is not None else dict(params)
        method_name = next(m for m, o in client.meta.method_to_api_mapping.items() if o == operation.name)
        try:
            response = getattr(client, method_name)(**args)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "Unknown"), error.get("Message", "")
            # boto3's text without the retry note botocore appends ("reached max retries: 0").
            text = f"An error occurred ({code}) when calling the {operation.name} operation: {message}"
            raise ApiCallError(text, code) from None
        except ParamValidationError as exc:
            raise ApiCallError(str(exc).replace("\n", " "), "ValidationException") from None
        except BotoCoreError as exc:
            raise ApiCallError(str(exc)) from None
        data = jsonable(response)
        return data if isinstance(data, dict) else {"Response": data}


def coerce(value: Any, shape: Shape | None) -> Any:
    """Bring runbook inputs to the operation's types: ``"7"`` for an integer, ``"true"`` for a boolean.

    Runbooks write inputs in YAML and splice in parameters as text; AWS's own runbooks rely on the service
    accepting either form. Unknown members are left alone so botocore reports them as AWS would.
    """
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        members = shape.members  # type: ignore[attr-defined]
        return {k: coerce(v, members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [coerce(v, shape.member) for v in value]  # type: ignore[attr-defined]
    if kind == "map" and isinstance(value, Mapping):
        return {k: coerce(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind in ("integer", "long") and isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    if kind in ("float", "double") and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "boolean" and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if kind == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "string" and isinstance(value, (int, float)):
        return str(value)
    if kind == "blob" and isinstance(value, str):
        return value.encode()
    return value


def jsonable(value: Any) -> Any:
    """A boto3 response as JSON data, the form selectors and outputs read."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return base64.b64encode(value).decode()
    if hasattr(value, "read"):
        return "<streaming body>"
    return value
