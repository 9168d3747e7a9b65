"""Approval records: what the human-in-the-loop tasks answered, and whether that allows a repair.

The approval gate collects the ApprovalOperator results (one per required approver) into one record.
No code path starts a runbook unless :func:`approval_record` accepts it: approved, by as many distinct
people as the environment requires, none of the answers a timeout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

APPROVE, REJECT = "Approve", "Reject"


class ApprovalError(ValueError):
    """The record does not allow a repair."""


@dataclass(frozen=True)
class Answer:
    responder_id: str | None
    responder_name: str | None
    responded_at: str | None
    choice: str
    comment: str = ""

    @property
    def timed_out(self) -> bool:
        """Airflow applies the default (Reject) with no responder when the response timeout passes."""
        return self.responder_id is None


@dataclass(frozen=True)
class ApprovalRecord:
    approved: bool
    answers: tuple[Answer, ...]
    required: int
    reason: str = ""

    @property
    def approvers(self) -> list[str]:
        return [a.responder_name or a.responder_id or "?" for a in self.answers if a.choice == APPROVE]

    @property
    def timed_out(self) -> bool:
        return any(a.timed_out for a in self.answers)

    @property
    def approved_at(self) -> str | None:
        times = [a.responded_at for a in self.answers if a.responded_at]
        return max(times) if times else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "approved": self.approved,
            "required": self.required,
            "reason": self.reason,
            "timed_out": self.timed_out,
            "approvers": self.approvers,
            "approved_at": self.approved_at,
            "answers": [asdict(a) for a in self.answers],
        }


def answer_from_hitl(result: Mapping[str, Any] | None) -> Answer | None:
    """An ApprovalOperator's XCom result (chosen_options, responded_by_user, responded_at, params_input)."""
    if not result:
        return None
    user = result.get("responded_by_user") or {}  # None when Airflow applied the default at the timeout
    chosen = result.get("chosen_options") or []
    when = result.get("responded_at")
    if isinstance(when, datetime):
        when = when.isoformat()
    params = result.get("params_input") or {}
    return Answer(
        responder_id=user.get("id"),
        responder_name=user.get("name"),
        responded_at=when,
        choice=chosen[0] if chosen else REJECT,
        comment=str(params.get("comment") or ""),
    )


def decide(answers: Sequence[Answer | None], required: int) -> ApprovalRecord:
    """Approved only when every answer is Approve from a person (no timeout) and they are distinct."""
    given = tuple(a for a in answers if a is not None)
    if len(given) < required:
        return ApprovalRecord(False, given, required, f"{len(given)} of {required} approvals given")
    rejected = [a for a in given if a.choice != APPROVE]
    if rejected:
        first = rejected[0]
        why = "approval timed out" if first.timed_out else f"rejected by {first.responder_name or first.responder_id}"
        return ApprovalRecord(False, given, required, why)
    distinct = {a.responder_id for a in given}
    if len(distinct) < required:
        return ApprovalRecord(
            False,
            given,
            required,
            f"{required} distinct approvers required, got {len(distinct)} ({', '.join(sorted(map(str, distinct)))})",
        )
    return ApprovalRecord(True, given, required, "approved")


def approval_record(data: Mapping[str, Any] | None) -> ApprovalRecord:
    """Parse a gate's record and raise ApprovalError unless it allows the repair."""
    if not data:
        raise ApprovalError("no approval record")
    answers = tuple(Answer(**a) for a in data.get("answers", []))
    record = decide(answers, int(data.get("required", 1)))
    if not record.approved:
        raise ApprovalError(record.reason)
    return record
