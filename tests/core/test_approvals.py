from __future__ import annotations

from datetime import UTC, datetime

import pytest

from drift_repair.core.approvals import ApprovalError, answer_from_hitl, approval_record, decide


def hitl(choice: str, user: str | None, comment: str = "") -> dict:
    return {
        "chosen_options": [choice],
        "params_input": {"comment": comment},
        "responded_by_user": {"id": user, "name": user.title()} if user else None,
        "responded_at": datetime(2026, 11, 30, 3, 0, tzinfo=UTC),
    }


def test_single_approval() -> None:
    record = decide([answer_from_hitl(hitl("Approve", "alice", "CHG-1"))], 1)
    assert record.approved and record.approvers == ["Alice"]
    assert record.answers[0].comment == "CHG-1"
    assert approval_record(record.to_dict()).approved


def test_prod_needs_two_distinct_people() -> None:
    same = decide([answer_from_hitl(hitl("Approve", "alice")), answer_from_hitl(hitl("Approve", "alice"))], 2)
    assert not same.approved and "2 distinct approvers required" in same.reason
    two = decide([answer_from_hitl(hitl("Approve", "alice")), answer_from_hitl(hitl("Approve", "bob"))], 2)
    assert two.approved and two.approvers == ["Alice", "Bob"]


def test_reject_and_timeout() -> None:
    rejected = decide([answer_from_hitl(hitl("Reject", "bob"))], 1)
    assert (rejected.approved, rejected.reason) == (False, "rejected by Bob")
    timed_out = decide([answer_from_hitl(hitl("Reject", None))], 1)
    assert timed_out.timed_out and timed_out.reason == "approval timed out"


def test_no_record_no_repair() -> None:
    with pytest.raises(ApprovalError, match="no approval record"):
        approval_record(None)
    with pytest.raises(ApprovalError, match="rejected"):
        approval_record(decide([answer_from_hitl(hitl("Reject", "bob"))], 1).to_dict())
    forged = decide([answer_from_hitl(hitl("Approve", "alice"))], 1).to_dict()
    forged["required"] = 2  # a record must satisfy the environment's rule, whatever it claims
    with pytest.raises(ApprovalError, match="1 of 2"):
        approval_record(forged)
