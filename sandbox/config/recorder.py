"""The configuration recorder: which resources Config has recorded, and every item it recorded for each.

AWS Config records only while a configuration recorder exists *and* is started (starting needs a delivery
channel; moto enforces both and keeps that state, so it is read from moto's Config backend, never
duplicated). While recording, every change of a resource produces a new configuration item; while not,
changes go unrecorded and the read APIs keep answering with what was recorded before. The sandbox
records by comparing the live state (:func:`sandbox.config.items.current_resources`) with the last
recorded item whenever something may have changed: after every mutating API call that passes through
the server (the control middleware notifies) and before every Config read.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.backends import config_backend
from sandbox.config import items as ci
from sandbox.config.items import RecordedItem, ResourceState


@dataclass(frozen=True)
class RecorderView:
    """What the recorder of an account and region says, read from moto's Config backend."""

    exists: bool
    recording: bool
    types: frozenset[str] | None  # None: all supported types

    def records(self, resource_type: str) -> bool:
        return self.recording and (self.types is None or resource_type in self.types)


def recorder_view(account_id: str, region: str) -> RecorderView:
    backend = config_backend(account_id, region)
    recorders = list(backend.recorders.values())
    if not recorders:
        return RecorderView(False, False, frozenset())
    recorder = recorders[0]
    status = getattr(recorder, "status", None)
    recording = bool(getattr(status, "recording", False)) and bool(backend.delivery_channels)
    group = recorder.to_dict().get("recordingGroup") or {}
    if group.get("allSupported", True):
        types: frozenset[str] | None = None
    elif group.get("resourceTypes"):
        types = frozenset(group["resourceTypes"])
    else:
        excluded = frozenset((group.get("exclusionByResourceTypes") or {}).get("resourceTypes") or ())
        types = ci.RECORDABLE_TYPES - excluded
    return RecorderView(True, recording, types)


@dataclass
class RegionState:
    """Everything AWS Config keeps for one account and region."""

    account_id: str
    region: str
    history: dict[tuple[str, str], list[RecordedItem]] = field(default_factory=dict)
    # rule name -> (resource type, resource id) -> evaluation result (see sandbox.config.rules)
    evaluations: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    rule_status: dict[str, dict[str, Any]] = field(default_factory=dict)
    result_tokens: dict[str, str] = field(default_factory=dict)  # token -> rule name
    invocations: list[dict[str, Any]] = field(default_factory=list)  # custom-rule invocations (fake Lambda)
    remediation_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    remediations: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    last_state_id: int = 0

    def latest(self, key: tuple[str, str]) -> RecordedItem | None:
        items = self.history.get(key)
        return items[-1] if items else None

    def current_items(self, include_deleted: bool = False) -> list[RecordedItem]:
        out = []
        for items in self.history.values():
            last = items[-1]
            if include_deleted or not last.is_deleted:
                out.append(last)
        out.sort(key=lambda i: (i.resource_type, i.resource_id))
        return out

    def next_state_id(self) -> str:
        """configurationStateId: epoch milliseconds, strictly increasing within the account and region."""
        now_ms = int(time.time() * 1000)
        self.last_state_id = max(now_ms, self.last_state_id + 1)
        return str(self.last_state_id)


class Recorder:
    """Holds every account and region's recorded items; records changes on :meth:`sync`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.states: dict[tuple[str, str], RegionState] = {}

    def state(self, account_id: str, region: str) -> RegionState:
        with self.lock:
            key = (account_id, region)
            if key not in self.states:
                self.states[key] = RegionState(account_id, region)
            return self.states[key]

    def reset(self) -> None:
        with self.lock:
            self.states.clear()

    def sync(self, account_id: str, region: str) -> list[RecordedItem]:
        """Record a new item for every resource that appeared, changed or disappeared; return them.

        The whole look (read the live state, compare, record) holds the lock: a look that read the
        state before a change must not record after a look that read it after, or the history would
        end on the older state.
        """
        with self.lock:
            view = recorder_view(account_id, region)
            if not view.recording:
                return []
            live = ci.current_resources(account_id, region, view.types)
            return self._record(self.state(account_id, region), live, view)

    def _record(self, state: RegionState, live: list[ResourceState], view: RecorderView) -> list[RecordedItem]:
        new: list[RecordedItem] = []
        now = dt.datetime.now(dt.UTC)
        seen: set[tuple[str, str]] = set()
        for resource in live:
            seen.add(resource.key)
            last = state.latest(resource.key)
            fingerprint = resource.fingerprint()
            if last is not None and not last.is_deleted and last.fingerprint == fingerprint:
                continue
            status = "ResourceDiscovered" if last is None or last.is_deleted else "OK"
            item = _recorded(resource, state.account_id, status, now, state.next_state_id(), fingerprint)
            state.history.setdefault(resource.key, []).append(item)
            new.append(item)
        for key, items in state.history.items():
            last = items[-1]
            if key in seen or last.is_deleted or not view.records(key[0]):
                continue
            gone = RecordedItem(
                state=None,
                resource_type=last.resource_type,
                resource_id=last.resource_id,
                resource_name=last.resource_name,
                arn=last.arn,
                region=last.region,
                account_id=state.account_id,
                status="ResourceDeleted",
                capture_time=now,
                state_id=state.next_state_id(),
                fingerprint="",
                created=last.created,
                availability_zone=last.availability_zone,
            )
            items.append(gone)
            new.append(gone)
        return new


def _recorded(
    resource: ResourceState, account_id: str, status: str, now: dt.datetime, state_id: str, fingerprint: str
) -> RecordedItem:
    return RecordedItem(
        state=resource,
        resource_type=resource.resource_type,
        resource_id=resource.resource_id,
        resource_name=resource.resource_name,
        arn=resource.arn,
        region=resource.region,
        account_id=account_id,
        status=status,
        capture_time=now,
        state_id=state_id,
        fingerprint=fingerprint,
        created=resource.created,
        availability_zone=resource.availability_zone,
    )
