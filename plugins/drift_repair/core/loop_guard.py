"""Loop guard: never fight a human or another automation in a loop.

From the remediation history (one record per remediation, as the KPI history keeps them), refuse a repair
of the same resource for the same Config rule when

* it was started less than ``cooldown_hours`` ago (cooldown),
* it was attempted ``max_per_window`` times or more within ``window_hours`` (cap), or
* it was repaired and verified within ``window_hours`` and has drifted again (flapping): something keeps
  changing it back, and a human must find out what before the loop repairs it again.

Refusals are not failures: the item goes to the manual list with the reason, and the approver sees it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class GuardSettings:
    cooldown_hours: float = 24.0
    window_hours: float = 168.0
    max_per_window: int = 3


def _when(record: Mapping[str, Any]) -> datetime | None:
    for key in ("started_at", "approved_at", "detected_at", "finished_at"):
        value = record.get(key)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if isinstance(value, str) and value:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


class LoopGuard:
    """``guard(item) -> reason | None`` over a fixed history snapshot (records from earlier runs)."""

    def __init__(
        self,
        history: Iterable[Mapping[str, Any]],
        settings: GuardSettings,
        now: datetime,
        current_run_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.now = now if now.tzinfo else now.replace(tzinfo=UTC)
        self.by_key: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
        for record in history:
            if current_run_id is not None and record.get("dag_run_id") == current_run_id:
                continue  # a re-run of this very run is not an earlier repair
            when = _when(record)
            if when is None or not record.get("started_at"):
                continue  # never started: nothing was changed
            key = (str(record.get("resource_id")), str(record.get("config_rule_name") or record.get("config_rule")))
            self.by_key.setdefault(key, []).append((when, str(record.get("state", ""))))

    def __call__(self, item: Any) -> str | None:
        events = self.by_key.get((item.resource_id, item.config_rule), [])
        window_start = self.now - timedelta(hours=self.settings.window_hours)
        recent = sorted((w, s) for w, s in events if w >= window_start)
        if not recent:
            return None
        last, _state = recent[-1]
        if last >= self.now - timedelta(hours=self.settings.cooldown_hours):
            return (
                f"loop guard: cooldown, last repair started {last.isoformat()} "
                f"(cooldown {self.settings.cooldown_hours:g} h)"
            )
        if len(recent) >= self.settings.max_per_window:
            return (
                f"loop guard: {len(recent)} repairs within {self.settings.window_hours:g} h "
                f"(cap {self.settings.max_per_window}); escalate to a human"
            )
        verified = [w for w, s in recent if s == "VERIFIED"]
        if verified:
            return (
                f"loop guard: flapping, repaired and verified {verified[-1].isoformat()} and drifted again; "
                "find what changes it before repairing again"
            )
        return None
