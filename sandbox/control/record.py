"""The call record: every mutating call the sandbox answered, who made it and how it ended.

Tests read it (``GET /_sandbox/calls``) to prove what did and did not change: a rejected approval must
leave no PutBucketVersioning behind, a retried task must start one Automation execution, not two.
CloudTrail's LookupEvents is answered from it, so the project's own evidence code can be exercised
against the sandbox. Counters of *all* calls (reads included) per operation let tests check polling
discipline (how often GetAutomationExecution was called, how many were throttled).

Each entry::

    {"eventId", "eventTime" (ISO 8601), "eventSource" ("s3.amazonaws.com"), "service", "operation",
     "region", "accountId", "accessKeyId", "principal", "userAgent", "sourceIp", "invokedBy",
     "resources": [{"type", "id"}], "parameters" (request parameters, trimmed), "status" (HTTP),
     "outcome" ("success" | "error"), "errorCode", "errorMessage", "readOnly": false,
     "eventCategory" ("Management" | "Data"), "origin" ("http" | "internal"), "sandbox" (x-sandbox-* headers)}
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from sandbox.control.operations import Call
from sandbox.server import AwsError, RequestContext

MAX_ENTRIES = 50_000
_MAX_PARAM_TEXT = 2_000
_SENSITIVE = ("password", "secret", "token", "body", "plaintext", "ciphertextblob")


def _trim(value: Any, depth: int = 0) -> Any:
    """Request parameters as CloudTrail would show them: secrets hidden, long values cut."""
    if depth > 6:
        return "..."
    if isinstance(value, dict):
        out = {}
        for k, v in list(value.items())[:100]:
            hidden = any(s in str(k).lower() for s in _SENSITIVE) and str(k) not in ("ResultToken",)
            out[str(k)] = "HIDDEN_DUE_TO_SECURITY_REASONS" if hidden else _trim(v, depth + 1)
        return out
    if isinstance(value, list):
        return [_trim(v, depth + 1) for v in value[:100]]
    if isinstance(value, str) and len(value) > _MAX_PARAM_TEXT:
        return value[:_MAX_PARAM_TEXT] + "..."
    return value


def _source(service: str) -> str:
    return f"{service or 'unknown'}.amazonaws.com"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CallRecord:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[dict[str, Any]] = []
        self.counts: Counter[tuple[str, str, str]] = Counter()  # (service, operation, outcome)

    def reset(self) -> None:
        with self.lock:
            self.entries.clear()
            self.counts.clear()

    def count(self, call: Call, outcome: str) -> None:
        with self.lock:
            self.counts[(call.service, call.operation, outcome)] += 1

    def add(
        self,
        call: Call,
        status: int,
        error_code: str | None,
        error_message: str | None,
        extra_resources: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        resources = list(call.resources)
        for r in extra_resources or []:
            if r not in resources:
                resources.append(r)
        entry = {
            "eventId": str(uuid.uuid4()),
            "eventTime": _now().isoformat().replace("+00:00", "Z"),
            "eventSource": _source(call.service),
            "service": call.service,
            "operation": call.operation,
            "region": call.region,
            "accountId": call.account_id,
            "accessKeyId": call.access_key_id,
            "principal": call.principal,
            "userAgent": call.user_agent,
            "sourceIp": call.source_ip,
            "invokedBy": call.sandbox_headers.get("x-sandbox-invoked-by"),
            "resources": [{"type": t, "id": i} for t, i in resources],
            "parameters": _trim(call.params),
            "status": status,
            "outcome": "success" if status < 400 else "error",
            "errorCode": error_code,
            "errorMessage": error_message,
            "readOnly": False,
            "eventCategory": "Data" if call.is_data_event else "Management",
            "origin": "http",
            "sandbox": dict(call.sandbox_headers),
        }
        self._append(entry)
        return entry

    def add_internal(
        self,
        ctx: RequestContext,
        operation: str,
        service: str,
        resources: list[tuple[str, str]],
        parameters: dict[str, Any],
        invoked_by: str,
    ) -> dict[str, Any]:
        """A call one AWS service makes on the caller's behalf inside the sandbox (Config → SSM)."""
        entry = {
            "eventId": str(uuid.uuid4()),
            "eventTime": _now().isoformat().replace("+00:00", "Z"),
            "eventSource": _source(service),
            "service": service,
            "operation": operation,
            "region": ctx.region,
            "accountId": ctx.account_id,
            "accessKeyId": ctx.access_key_id,
            "principal": ctx.caller_arn,
            "userAgent": invoked_by,
            "sourceIp": invoked_by,
            "invokedBy": invoked_by,
            "resources": [{"type": t, "id": i} for t, i in resources],
            "parameters": _trim(parameters),
            "status": 200,
            "outcome": "success",
            "errorCode": None,
            "errorMessage": None,
            "readOnly": False,
            "eventCategory": "Management",
            "origin": "internal",
            "sandbox": {},
        }
        self._append(entry)
        with self.lock:
            self.counts[(service, operation, "success")] += 1
        return entry

    def _append(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.entries.append(entry)
            if len(self.entries) > MAX_ENTRIES:
                del self.entries[: len(self.entries) - MAX_ENTRIES]

    # ------------------------------------------------------------------ reading

    def query(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """Entries matching every filter given: service, operation, resource (id or type:id), caller
        (access key or principal), outcome, errorCode, invokedBy, since / until (ISO 8601), limit."""
        with self.lock:
            entries = list(self.entries)
        out = []
        for e in entries:
            if filters.get("service") and e["service"] != filters["service"]:
                continue
            if filters.get("operation") and e["operation"] != filters["operation"]:
                continue
            if filters.get("outcome") and e["outcome"] != filters["outcome"]:
                continue
            if filters.get("errorCode") and e["errorCode"] != filters["errorCode"]:
                continue
            if filters.get("invokedBy") and e["invokedBy"] != filters["invokedBy"]:
                continue
            if filters.get("caller") and filters["caller"] not in (e["accessKeyId"], e["principal"]):
                continue
            if filters.get("resource") and not any(
                filters["resource"] in (r["id"], f"{r['type']}:{r['id']}") for r in e["resources"]
            ):
                continue
            if filters.get("since") and e["eventTime"] < str(filters["since"]):
                continue
            if filters.get("until") and e["eventTime"] > str(filters["until"]):
                continue
            out.append(e)
        if filters.get("limit"):
            out = out[-int(filters["limit"]) :]
        return out

    def stats(self) -> dict[str, Any]:
        with self.lock:
            counts = dict(self.counts)
        per_op: dict[str, dict[str, int]] = {}
        for (service, operation, outcome), n in sorted(counts.items()):
            bucket = per_op.setdefault(f"{service}:{operation}", {"total": 0})
            bucket[outcome] = bucket.get(outcome, 0) + n
            bucket["total"] += n
        return {"operations": per_op}

    # ------------------------------------------------------------------ CloudTrail LookupEvents

    def lookup_events(self, params: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """CloudTrail LookupEvents over the record: management events of the caller's account and Region."""
        attribute, max_results, start, end = _lookup_request(params)
        if params.get("EventCategory") == "insight":
            return {"Events": []}
        with self.lock:
            entries = [e for e in self.entries if e["region"] == ctx.region and e["accountId"] == ctx.account_id]
        events = []
        for e in reversed(entries):  # newest first, as CloudTrail lists them
            when = dt.datetime.fromisoformat(e["eventTime"].replace("Z", "+00:00"))
            if e["eventCategory"] != "Management" or (start and when < start) or (end and when > end):
                continue
            if attribute and attribute[1] not in _ATTRIBUTES[attribute[0]](e):
                continue
            events.append((e, when))
        offset = _lookup_offset(params.get("NextToken"), len(events))
        page = events[offset : offset + max_results]
        result: dict[str, Any] = {"Events": [_event(e, when) for e, when in page]}
        if offset + max_results < len(events):
            result["NextToken"] = f"sandbox:{offset + max_results}"
        return result


_ATTRIBUTES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "EventId": lambda e: [e["eventId"]],
    "EventName": lambda e: [e["operation"]],
    "ReadOnly": lambda e: ["false"],
    "Username": lambda e: [e["accessKeyId"]],
    "ResourceType": lambda e: [r["type"] for r in e["resources"]],
    "ResourceName": lambda e: [r["id"] for r in e["resources"]],
    "EventSource": lambda e: [e["eventSource"]],
    "AccessKeyId": lambda e: [e["accessKeyId"]],
}


def _lookup_request(
    params: dict[str, Any],
) -> tuple[tuple[str, Any] | None, int, dt.datetime | None, dt.datetime | None]:
    """Validate LookupEvents' parameters as CloudTrail does: (attribute, max results, start, end)."""
    attributes = params.get("LookupAttributes") or []
    if len(attributes) > 1:
        raise AwsError("InvalidLookupAttributesException", "You can specify only one lookup attribute.")
    attribute = None
    for attr in attributes:
        if attr.get("AttributeKey") not in _ATTRIBUTES:
            raise AwsError("InvalidLookupAttributesException", f"Invalid attribute key: {attr.get('AttributeKey')}")
        attribute = (attr["AttributeKey"], attr.get("AttributeValue"))
    max_results = params.get("MaxResults", 50)
    if not isinstance(max_results, int) or not 1 <= max_results <= 50:
        raise AwsError("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
    start, end = _ts(params.get("StartTime")), _ts(params.get("EndTime"))
    if start and end and start > end:
        raise AwsError("InvalidTimeRangeException", "StartTime must be earlier than EndTime.")
    if params.get("EventCategory") not in (None, "insight"):
        raise AwsError("InvalidEventCategoryException", "EventCategory must be insight.")
    return attribute, max_results, start, end


def _lookup_offset(token: Any, total: int) -> int:
    if not token:
        return 0
    try:
        offset = int(str(token).split(":", 1)[1]) if str(token).startswith("sandbox:") else -1
    except ValueError:
        offset = -1
    if offset < 0 or offset > total:
        raise AwsError("InvalidNextTokenException", "Invalid NextToken.")
    return offset


def _ts(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _event(e: dict[str, Any], when: dt.datetime) -> dict[str, Any]:
    if e["origin"] == "internal":
        identity: dict[str, Any] = {"type": "AWSService", "invokedBy": e["invokedBy"]}
    else:
        identity = {
            "type": "IAMUser",
            "principalId": e["accessKeyId"],
            "arn": e["principal"],
            "accountId": e["accountId"],
            "accessKeyId": e["accessKeyId"],
            "userName": e["accessKeyId"],
        }
        if e["invokedBy"]:
            identity["invokedBy"] = e["invokedBy"]
    record = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": e["eventTime"],
        "eventSource": e["eventSource"],
        "eventName": e["operation"],
        "awsRegion": e["region"],
        "sourceIPAddress": e["sourceIp"],
        "userAgent": e["userAgent"],
        "requestParameters": e["parameters"] or None,
        "responseElements": None,
        "requestID": e["eventId"],
        "eventID": e["eventId"],
        "readOnly": False,
        "eventType": "AwsApiCall" if e["origin"] == "http" else "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": e["accountId"],
        "eventCategory": "Management",
    }
    if e["errorCode"]:
        record["errorCode"] = e["errorCode"]
        record["errorMessage"] = e["errorMessage"]
    return {
        "EventId": e["eventId"],
        "EventName": e["operation"],
        "ReadOnly": "false",
        "AccessKeyId": e["accessKeyId"],
        "EventTime": when,
        "EventSource": e["eventSource"],
        "Username": e["accessKeyId"],
        "Resources": [{"ResourceType": r["type"], "ResourceName": r["id"]} for r in e["resources"]],
        "CloudTrailEvent": json.dumps(record),
    }
