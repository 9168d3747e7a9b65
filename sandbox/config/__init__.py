"""AWS Config in the sandbox: recording, advanced query, managed-rule evaluation, remediation.

Modules:
    items.py        configuration items built from moto's live backends (shapes per resource type)
    recorder.py     the configuration recorder: history of items, change detection
    rules.py        the AWS managed rules the project deploys, as documented
    service.py      recording + evaluation + compliance results, per account and region
    query.py        SelectResourceConfig's SQL subset
    remediation.py  remediation configurations and executions (through the SSM Automation engine)
    api.py          the StarlingDoveService operations registered on the server

Admin routes (tests and tools; under ``/_sandbox``):
    GET  /config/invocations?rule=NAME[&account=..&region=..]   custom-rule invocations (the events a
                                                                 rule's Lambda would get, with resultToken)
    POST /config/remediation {"paused": true|false}             hold queued remediations (to see QUEUED)
    POST /config/batch-get {"unprocessed": N}                   the next BatchGetResourceConfig leaves its
                                                                 last N keys in unprocessedResourceKeys
    POST /s3/default-encryption {"enabled": true|false}         new buckets get SSE-S3 (AWS since 2023)
"""

from __future__ import annotations

from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID

from sandbox import moto_fixes
from sandbox.config.api import SERVICE, TARGET_PREFIX, ConfigApi
from sandbox.config.service import ConfigService
from sandbox.server import DEFAULT_REGION, SandboxApp


def install(app: SandboxApp) -> None:
    moto_fixes.apply()
    service = ConfigService()
    api = ConfigApi(service, app.services)
    for operation, handler in api.handlers().items():
        app.register(TARGET_PREFIX, SERVICE, operation, handler)
    app.services["config"] = service
    app.services["config_api"] = api

    def on_mutation(account_id: str, region: str) -> None:
        """A mutating call succeeded somewhere: record what changed (AWS records continuously)."""
        regions = {region} | {r for (a, r) in list(service.recorder.states) if a == account_id}
        for name in sorted(regions):
            service.refresh(account_id, name)

    app.services.setdefault("mutation_listeners", []).append(on_mutation)
    app.reset_hooks.append(api.reset)

    def where(body: dict[str, Any]) -> tuple[str, str]:
        return str(body.get("account", DEFAULT_ACCOUNT_ID)), str(body.get("region", DEFAULT_REGION))

    def invocations(body: dict[str, Any]) -> tuple[int, Any]:
        account, region = where(body)
        state = service.state(account, region)
        with service.recorder.lock:
            events = [e for e in state.invocations if not body.get("rule") or e["configRuleName"] == body["rule"]]
        return 200, {"invocations": events}

    def remediation(body: dict[str, Any]) -> tuple[int, Any]:
        api.remediations.pause(bool(body.get("paused", False)))
        return 200, {"paused": not api.remediations.running.is_set()}

    def batch_get(body: dict[str, Any]) -> tuple[int, Any]:
        with api.lock:
            api.unprocessed_next = int(body.get("unprocessed", 0))
        return 200, {"unprocessed": api.unprocessed_next}

    def s3_default_encryption(body: dict[str, Any]) -> tuple[int, Any]:
        moto_fixes.S3_DEFAULT_ENCRYPTION["enabled"] = bool(body.get("enabled", True))
        return 200, dict(moto_fixes.S3_DEFAULT_ENCRYPTION)

    def restore_defaults() -> None:
        moto_fixes.S3_DEFAULT_ENCRYPTION["enabled"] = True

    app.reset_hooks.append(restore_defaults)
    app.admin("GET", "/config/invocations", invocations)
    app.admin("POST", "/config/remediation", remediation)
    app.admin("POST", "/config/batch-get", batch_get)
    app.admin("POST", "/s3/default-encryption", s3_default_encryption)
