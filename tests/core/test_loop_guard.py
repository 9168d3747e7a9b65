from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from drift_repair.core.loop_guard import GuardSettings, LoopGuard

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ITEM = SimpleNamespace(resource_id="bucket-a", config_rule="s3-bucket-versioning-enabled")
SETTINGS = GuardSettings(cooldown_hours=1, window_hours=24, max_per_window=3)


def record(hours_ago: float, state: str = "FAILED", run: str = "r0", resource: str = "bucket-a") -> dict:
    return {
        "resource_id": resource,
        "config_rule_name": "s3-bucket-versioning-enabled",
        "state": state,
        "started_at": (NOW - timedelta(hours=hours_ago)).isoformat(),
        "dag_run_id": run,
    }


def test_no_history_allows() -> None:
    assert LoopGuard([], SETTINGS, NOW)(ITEM) is None


def test_cooldown() -> None:
    assert "cooldown" in (LoopGuard([record(0.5)], SETTINGS, NOW)(ITEM) or "")


def test_cap_per_window() -> None:
    history = [record(2, run="a"), record(5, run="b"), record(9, run="c")]
    assert "3 repairs within 24 h (cap 3)" in (LoopGuard(history, SETTINGS, NOW)(ITEM) or "")


def test_flapping_escalates() -> None:
    assert "flapping" in (LoopGuard([record(3, "VERIFIED")], SETTINGS, NOW)(ITEM) or "")


def test_old_records_other_resources_and_this_run_are_ignored() -> None:
    history = [record(30, "VERIFIED"), record(2, resource="bucket-b"), record(0.1, run="current")]
    assert LoopGuard(history, SETTINGS, NOW, current_run_id="current")(ITEM) is None


def test_never_started_records_do_not_count() -> None:
    rec = record(0.5)
    rec["started_at"] = None
    rec["detected_at"] = NOW.isoformat()
    assert LoopGuard([rec], SETTINGS, NOW)(ITEM) is None
