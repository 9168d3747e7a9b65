"""Error responses in each protocol's own shape, so that botocore raises the ClientError AWS would cause.

Throttling in particular differs per service: JSON services answer ``ThrottlingException`` (400), query
services ``Throttling`` (400), EC2 ``RequestLimitExceeded`` (503) and S3 ``SlowDown`` (503). botocore's
retry handlers recognise each of these as throttling.
"""

from __future__ import annotations

import json
import re
import uuid
from xml.sax.saxutils import escape

from sandbox.control.operations import Call

THROTTLING: dict[str, tuple[str, int, str]] = {
    "json": ("ThrottlingException", 400, "Rate exceeded"),
    "rest": ("ThrottlingException", 429, "Rate exceeded"),
    "query": ("Throttling", 400, "Rate exceeded"),
    "ec2": ("RequestLimitExceeded", 503, "Request limit exceeded."),
    "s3": ("SlowDown", 503, "Please reduce your request rate."),
}

_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 429: "Too Many Requests"}
_REASONS.update({500: "Internal Server Error", 503: "Service Unavailable"})

_CODE_RE = re.compile(rb"<Code>([^<]+)</Code>")
_MESSAGE_RE = re.compile(rb"<Message>([^<]*)</Message>")


def default_status(code: str) -> int:
    """The HTTP status AWS pairs with an error code when a fault does not say."""
    if code in ("InternalError", "InternalFailure", "InternalServerError", "InternalServerException"):
        return 500
    if code in ("ServiceUnavailable", "ServiceUnavailableException", "SlowDown", "RequestLimitExceeded"):
        return 503
    return 400


def render(call: Call, code: str, message: str, status: int) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of an error for this call's protocol."""
    request_id = str(uuid.uuid4())
    line = f"{status} {_REASONS.get(status, 'Error')}"
    if call.protocol in ("json", "rest"):
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
    elif call.protocol == "ec2":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers = [("Content-Type", "text/xml;charset=UTF-8")]
    elif call.protocol == "s3":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code><Message>{escape(message)}'
            f"</Message><RequestId>{request_id}</RequestId><HostId>sandbox</HostId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="https://{call.service}.amazonaws.com/doc/"><Error><Type>{kind}</Type>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    headers.append(("Content-Length", str(len(body))))
    return line, headers, body


def parse_error(headers: list[tuple[str, str]], body: bytes) -> tuple[str | None, str | None]:
    """(error code, message) of an error response moto or a handler produced."""
    lowered = {k.lower(): v for k, v in headers}
    code = lowered.get("x-amzn-errortype")
    message = None
    if body[:1] == b"{":
        try:
            doc = json.loads(body)
            code = code or doc.get("__type") or doc.get("code")
            message = doc.get("message") or doc.get("Message")
        except ValueError:
            pass
    else:
        match = _CODE_RE.search(body)
        if match:
            code = code or match.group(1).decode("utf-8", "replace")
        msg = _MESSAGE_RE.search(body)
        if msg:
            message = msg.group(1).decode("utf-8", "replace")
    if code:
        code = code.split(":", 1)[0].rsplit("#", 1)[-1]
    return code, message
