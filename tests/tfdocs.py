"""Small `terraform show -json` documents for tests, built the way Terraform lays them out."""

from __future__ import annotations

import copy
from typing import Any


def resource_change(
    address: str,
    values: dict[str, Any],
    *,
    actions: tuple[str, ...] = ("no-op",),
    after_unknown: dict[str, Any] | bool | None = None,
    after_sensitive: dict[str, Any] | bool | None = None,
    mode: str = "managed",
    module_address: str | None = None,
    index: Any = None,
) -> dict[str, Any]:
    from drift_repair.core.terraform import Address

    parsed = Address.parse(address)
    rc: dict[str, Any] = {
        "address": address,
        "mode": mode,
        "type": parsed.type,
        "name": parsed.name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": list(actions),
            "before": None if actions == ("create",) else copy.deepcopy(values),
            "after": None if actions == ("delete",) else copy.deepcopy(values),
            "after_unknown": after_unknown if after_unknown is not None else {},
            "before_sensitive": {},
            "after_sensitive": after_sensitive if after_sensitive is not None else {},
        },
    }
    if module_address or parsed.module:
        rc["module_address"] = module_address or parsed.module
    if index is not None or parsed.index is not None:
        rc["index"] = index if index is not None else parsed.index
    return rc


def plan(*changes: dict[str, Any], configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "planned_values": {"root_module": {"resources": []}},
        "resource_changes": list(changes),
    }
    if configuration is not None:
        doc["configuration"] = configuration
    return doc


def state(root_module: dict[str, Any]) -> dict[str, Any]:
    return {"format_version": "1.0", "terraform_version": "1.9.8", "values": {"root_module": root_module}}


def state_resource(address: str, values: dict[str, Any], sensitive: dict[str, Any] | None = None) -> dict[str, Any]:
    from drift_repair.core.terraform import Address

    parsed = Address.parse(address)
    out: dict[str, Any] = {
        "address": address,
        "mode": parsed.mode,
        "type": parsed.type,
        "name": parsed.name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "schema_version": 0,
        "values": values,
        "sensitive_values": sensitive or {},
    }
    if parsed.index is not None:
        out["index"] = parsed.index
    return out


def config_item(
    resource_type: str,
    resource_id: str,
    configuration: dict[str, Any] | None = None,
    supplementary: dict[str, Any] | None = None,
    *,
    name: str | None = None,
    status: str = "OK",
    api_form: bool = False,
) -> dict[str, Any]:
    """An item in snapshot form (objects) or API form (JSON strings, as BatchGetResourceConfig returns)."""
    import json

    item: dict[str, Any] = {
        "resourceType": resource_type,
        "resourceId": resource_id,
        "resourceName": name,
        "configurationItemStatus": status,
        "configurationItemCaptureTime": "2026-11-29T18:00:00.000Z",
        "awsRegion": "ap-northeast-1",
        "configuration": configuration or {},
        "supplementaryConfiguration": supplementary or {},
    }
    if api_form:
        item["configuration"] = json.dumps(item["configuration"])
        item["supplementaryConfiguration"] = {k: json.dumps(v) for k, v in item["supplementaryConfiguration"].items()}
        item["accountId"] = "123456789012"
    else:
        item["awsAccountId"] = "123456789012"
    return item
