"""KPI figures against a fixed history computed by hand (the arithmetic is in the comments)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drift_repair.core.kpi import (
    HistoryRecord,
    Outcome,
    dedupe,
    month_kpi,
    month_range,
    monthly_kpis,
)
from drift_repair.core.models import RemediationRow, RemediationState

S = RemediationState


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def rec(run: str, item: str, state: RemediationState, detected: datetime, **kw: object) -> HistoryRecord:
    fields: dict[str, object] = {
        "environment": "dev",
        "dag_run_id": run,
        "item_key": f"{item}|runbook",
        "resource_address": item,
        "state": state,
        "detected_at": detected,
        "recorded_at": detected + timedelta(hours=12),
    }
    fields.update(kw)
    return HistoryRecord(**fields)  # type: ignore[arg-type]


A, B, C, D, E = (f"scheduled__2026-11-{d:02d}T18:00:00+00:00" for d in (2, 10, 20, 25, 28))

HISTORY = [
    # Run A, detected 11-02 18:00, one approval at 20:00 (wait 2 h) for three items.
    rec(A, "a1", S.VERIFIED, at(2, 18), approved_at=at(2, 20), started_at=at(2, 20), finished_at=at(2, 21)),  # 3 h
    rec(A, "a2", S.VERIFIED, at(2, 18), approved_at=at(2, 20), started_at=at(2, 20), finished_at=at(2, 22)),  # 4 h
    rec(
        A,
        "a3",
        S.FAILED,
        at(2, 18),
        approved_at=at(2, 20),
        started_at=at(2, 20),
        finished_at=at(2, 20, 30),
        exit_code=1,
    ),
    # Run B, detected 11-10 18:00, approved 11-11 00:00 (wait 6 h).
    rec(B, "b1", S.VERIFIED, at(10, 18), approved_at=at(11, 0), started_at=at(11, 0), finished_at=at(11, 2)),  # 8 h
    rec(
        B,
        "b2",
        S.ROLLED_BACK,
        at(10, 18),
        approved_at=at(11, 0),
        started_at=at(11, 0),
        finished_at=at(11, 1),
        exit_code=2,
    ),
    # Run C: nobody answered in time.
    rec(C, "c1", S.DETECTED, at(20, 9), exit_code=124),
    # Run D: one item escalated by the loop guard (flapping), one rejected.
    rec(D, "d1", S.DETECTED, at(25, 9), escalated=True),
    rec(D, "d2", S.DETECTED, at(25, 9)),
    # Run E: approved after 1 h, still executing when recorded.
    rec(E, "e1", S.EXECUTING, at(28, 9), approved_at=at(28, 10), started_at=at(28, 10)),
]


def test_november_kpis_match_the_hand_computed_figures() -> None:
    k = month_kpi(HISTORY, "2026-11")
    assert k.detections == 9  # a1 a2 a3 b1 b2 c1 d1 d2 e1
    assert (k.attempted, k.verified) == (5, 3)  # a1 a2 a3 b1 b2 started and ended; a1 a2 b1 verified
    assert k.success_rate == pytest.approx(3 / 5)  # 60 %
    assert k.approvals == 3  # decisions A, B, E (one per run, not per item)
    assert k.mean_approval_hours == pytest.approx((2 + 6 + 1) / 3)  # 3.0 h
    assert (k.approval_timeouts, k.not_approved) == (1, 1)  # c1; d2
    assert (k.manual, k.decided) == (5, 8)  # a3 b2 c1 d1 d2 of all but e1 (in progress)
    assert k.manual_rate == pytest.approx(5 / 8)  # 62.5 %
    assert k.repaired == 3
    assert k.mttr_hours == pytest.approx((3 + 4 + 8) / 3)  # 5.0 h
    assert (k.success_met, k.approval_met, k.manual_met) == (False, True, False)


def test_rerun_of_the_same_dag_run_counts_once() -> None:
    # The report task of run A ran twice: first while a1 was executing, then after it was verified; and a
    # cleared task re-appended b1 unchanged.
    first_a1 = rec(
        A, "a1", S.EXECUTING, at(2, 18), approved_at=at(2, 20), started_at=at(2, 20), recorded_at=at(2, 20, 5)
    )
    rerun = [first_a1, HISTORY[3], *HISTORY]
    k = month_kpi(rerun, "2026-11")
    assert k.detections == 9
    assert k.success_rate == pytest.approx(3 / 5)  # a1 counted once, as VERIFIED (the later record)
    assert k.mttr_hours == pytest.approx(5.0)
    kept = {r.item_key: r for r in dedupe(rerun)}
    assert kept["a1|runbook"].state is S.VERIFIED


def test_same_item_in_another_run_or_environment_is_not_a_duplicate() -> None:
    again = rec(B, "a1", S.VERIFIED, at(10, 18), approved_at=at(11, 0), started_at=at(11, 0), finished_at=at(11, 1))
    stg = rec(A, "a1", S.VERIFIED, at(2, 18), environment="stg")
    records = [*HISTORY, again, stg]
    assert month_kpi(records, "2026-11").detections == 11
    assert month_kpi(records, "2026-11", environment="dev").detections == 10
    assert month_kpi(records, "2026-11", environment="stg").detections == 1


def test_tie_on_recorded_time_prefers_the_terminal_record() -> None:
    running = rec(A, "a1", S.EXECUTING, at(2, 18))
    done = rec(A, "a1", S.VERIFIED, at(2, 18), finished_at=at(2, 19))
    assert dedupe([done, running]) == [done]
    assert dedupe([running, done]) == [done]


def test_month_follows_the_reporting_time_zone() -> None:
    # Detected 10-31 23:00 UTC = 11-01 08:00 in Tokyo; approved after 1 h, repaired after 2 h.
    late = rec(
        "scheduled__2026-10-31T23:00:00+00:00",
        "x1",
        S.VERIFIED,
        at(31, 23, month=10),
        approved_at=at(1, 0),
        started_at=at(1, 0),
        finished_at=at(1, 1),
    )
    records = [*HISTORY, late]
    assert month_kpi(records, "2026-10").detections == 1
    assert month_kpi(records, "2026-11").detections == 9
    tokyo = month_kpi(records, "2026-11", tz="Asia/Tokyo")
    assert tokyo.detections == 10
    assert tokyo.success_rate == pytest.approx(4 / 6)
    assert tokyo.mean_approval_hours == pytest.approx((2 + 6 + 1 + 1) / 4)  # 2.5 h
    assert tokyo.manual_rate == pytest.approx(5 / 9)
    assert tokyo.mttr_hours == pytest.approx((3 + 4 + 8 + 2) / 4)  # 4.25 h


def test_a_month_without_evidence_has_no_rates() -> None:
    k = month_kpi(HISTORY, "2026-09")
    assert k.detections == 0
    assert (k.success_rate, k.mean_approval_hours, k.manual_rate, k.mttr_hours) == (None, None, None, None)
    assert (k.success_met, k.approval_met, k.manual_met) == (None, None, None)


def test_trend_window_lists_every_month_oldest_first() -> None:
    assert month_range("2026-02", 4) == ["2025-11", "2025-12", "2026-01", "2026-02"]
    kpis = monthly_kpis(HISTORY, months=month_range("2026-11", 3))
    assert [(k.month, k.detections) for k in kpis] == [("2026-09", 0), ("2026-10", 0), ("2026-11", 9)]
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_range("November", 3)


def test_outcomes_from_states_and_exit_codes() -> None:
    assert rec(A, "x", S.FAILED, at(2, 18), exit_code=3).outcome is Outcome.ROLLBACK_FAILED
    assert rec(A, "x", S.FAILED, at(2, 18), exit_code=1).outcome is Outcome.FAILED
    assert rec(A, "x", S.DETECTED, at(2, 18), exit_code=124).outcome is Outcome.APPROVAL_TIMEOUT
    assert rec(A, "x", S.APPROVED, at(2, 18)).outcome is Outcome.IN_PROGRESS


def test_records_round_trip_through_json_and_come_from_remediation_rows() -> None:
    row = RemediationRow(
        resource_address="aws_db_instance.main",
        resource_id="db-1",
        config_rule_name="db-instance-backup-enabled",
        runbook_name="DriftRepair-RDS-EnableBackupRetention",
        state=S.VERIFIED,
        approver="admin",
        detected_at=datetime(2026, 11, 2, 18, 0),  # naive: taken as UTC
        approved_at=at(2, 19),
        finished_at=at(2, 20),
        exit_code=0,
    )
    record = HistoryRecord.from_remediation(row, environment="dev", dag_run_id=A, recorded_at=at(2, 21))
    assert record.item_key == "db-1|db-instance-backup-enabled"
    assert record.detected_at == at(2, 18)
    assert HistoryRecord.from_dict(record.to_dict()) == record
