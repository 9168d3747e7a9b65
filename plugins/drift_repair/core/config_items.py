"""Actual values: AWS Config configuration items, from the API or from a configuration snapshot file.

The API (BatchGetResourceConfig, GetResourceConfigHistory) returns ``configuration`` as a JSON string and
``supplementaryConfiguration`` as a map of JSON strings; a snapshot file that Config's delivery channel
writes to S3 has both as objects. :func:`parse_item` accepts either and returns one shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drift_repair.core.errors import InputError
from drift_repair.core.jsonfile import read_json
from drift_repair.core.models import ResourceKey

# configurationItemStatus values, as documented for ConfigurationItem.
RECORDED_STATUSES = frozenset({"OK", "ResourceDiscovered"})
DELETED_STATUSES = frozenset({"ResourceDeleted", "ResourceDeletedNotRecorded"})
NOT_RECORDED_STATUSES = frozenset({"ResourceNotRecorded"})


@dataclass(frozen=True, slots=True)
class ConfigItem:
    """One configuration item with ``configuration`` and ``supplementaryConfiguration`` parsed."""

    resource_type: str
    resource_id: str
    resource_name: str | None
    status: str
    capture_time: str | None
    configuration: Mapping[str, Any]
    supplementary: Mapping[str, Any]
    arn: str | None = None
    account_id: str | None = None
    region: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(self.resource_type, self.resource_id)

    @property
    def is_deleted(self) -> bool:
        return self.status in DELETED_STATUSES

    @property
    def is_recorded(self) -> bool:
        return self.status not in NOT_RECORDED_STATUSES and not self.is_deleted

    def document(self) -> dict[str, Any]:
        """The shape mapping paths are written against (``configuration.x``, ``supplementaryConfiguration.y``)."""
        return {
            "resourceType": self.resource_type,
            "resourceId": self.resource_id,
            "resourceName": self.resource_name,
            "arn": self.arn,
            "configuration": self.configuration,
            "supplementaryConfiguration": self.supplementary,
            "tags": self.tags,
        }


def _maybe_json(value: Any, depth: int = 2) -> Any:
    """Parse a JSON string; a string that is not JSON stays a string (AWS sends both). AWS encodes some
    values twice (AccessControlList: a JSON string inside the JSON string), so a decoded string that is
    JSON again is decoded once more."""
    if isinstance(value, str) and depth > 0:
        text = value.strip()
        if text[:1] in ("{", "[", '"') or text in ("true", "false", "null") or _is_number(text):
            try:
                decoded = json.loads(text)
            except json.JSONDecodeError:
                return value
            return _maybe_json(decoded, depth - 1) if isinstance(decoded, str) else decoded
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _tags(raw: Any) -> dict[str, str]:
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, list):  # [{"key": ..., "value": ...}] in some item versions
        out = {}
        for tag in raw:
            if isinstance(tag, Mapping):
                k = tag.get("key", tag.get("Key"))
                v = tag.get("value", tag.get("Value"))
                if k is not None:
                    out[str(k)] = "" if v is None else str(v)
        return out
    return {}


def parse_item(raw: Mapping[str, Any], source: str = "<config item>") -> ConfigItem:
    """Parse one configuration item in API, history, snapshot or advanced-query form."""
    if not isinstance(raw, Mapping):
        raise InputError(source, f"configuration item is not an object: {str(raw)[:80]}")
    resource_type = raw.get("resourceType")
    resource_id = raw.get("resourceId")
    if not isinstance(resource_type, str) or not isinstance(resource_id, str):
        raise InputError(source, "configuration item without resourceType and resourceId")
    configuration = _maybe_json(raw.get("configuration"))
    if configuration is None:
        configuration = {}
    if not isinstance(configuration, Mapping):
        raise InputError(source, f"{resource_type} {resource_id}: configuration is not an object")
    supplementary_raw = _maybe_json(raw.get("supplementaryConfiguration")) or {}
    if not isinstance(supplementary_raw, Mapping):
        raise InputError(source, f"{resource_type} {resource_id}: supplementaryConfiguration is not an object")
    supplementary = {k: _maybe_json(v) for k, v in supplementary_raw.items()}
    capture: Any = raw.get("configurationItemCaptureTime")
    return ConfigItem(
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=raw.get("resourceName"),
        status=str(raw.get("configurationItemStatus", "OK")),
        capture_time=capture.isoformat() if hasattr(capture, "isoformat") else capture,
        configuration=configuration,
        supplementary=supplementary,
        arn=raw.get("arn") or raw.get("ARN"),
        account_id=raw.get("accountId") or raw.get("awsAccountId"),
        region=raw.get("awsRegion"),
        tags=_tags(raw.get("tags")),
    )


def items_from_document(doc: Any, source: str | Path) -> list[ConfigItem]:
    """Items from a snapshot file (``configurationItems``), a saved BatchGetResourceConfig response
    (``baseConfigurationItems``), a saved history (``configurationItems``) or a bare list."""
    src = str(source)
    if isinstance(doc, Mapping):
        for key in ("configurationItems", "baseConfigurationItems"):
            if key in doc:
                raw_items = doc[key]
                break
        else:
            raise InputError(src, "no configurationItems list; expected an AWS Config configuration snapshot")
    elif isinstance(doc, list):
        raw_items = doc
    else:
        raise InputError(src, "not an AWS Config configuration snapshot (expected an object)")
    if not isinstance(raw_items, list):
        raise InputError(src, "configurationItems is not a list")
    return [parse_item(raw, f"{src} item {i}") for i, raw in enumerate(raw_items)]


def load_snapshot(path: str | Path) -> list[ConfigItem]:
    """Read an AWS Config configuration snapshot file (UTF-8 or UTF-16 with BOM)."""
    return items_from_document(read_json(path), path)


class ActualIndex:
    """The configuration items compare looks up, by resource id or by resource name."""

    def __init__(self, items: Iterable[ConfigItem] = ()) -> None:
        self._by_id: dict[tuple[str, str], ConfigItem] = {}
        self._by_name: dict[tuple[str, str], ConfigItem] = {}
        for item in items:
            self.add(item)

    def add(self, item: ConfigItem) -> None:
        current = self._by_id.get((item.resource_type, item.resource_id))
        # Keep the newest capture when the same resource appears twice (history, overlapping snapshots).
        if current is not None and (current.capture_time or "") > (item.capture_time or ""):
            return
        self._by_id[(item.resource_type, item.resource_id)] = item
        if item.resource_name:
            self._by_name[(item.resource_type, item.resource_name)] = item

    def get(self, resource_type: str, value: str, field_name: str = "resourceId") -> ConfigItem | None:
        table = self._by_name if field_name == "resourceName" else self._by_id
        return table.get((resource_type, value))

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[ConfigItem]:
        return iter(self._by_id.values())
