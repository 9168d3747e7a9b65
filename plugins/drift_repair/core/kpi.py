"""KPI math over the remediation history: what the team reports every month, and how it is counted.

One :class:`HistoryRecord` is written per remediation item at the end of each DAG run (append-only, see
``reports/history.py``). A record is identified by ``(environment, dag_run_id, item_key)``; ``item_key`` is
:attr:`RemediationRow.item_key` (resource address and runbook). Re-running the same DAG run (a cleared task,
a retried report task) appends the same items again; :func:`dedupe` keeps one record per key: the one
recorded last (it knows the most), ties broken towards the terminal state, then deterministically. Every
function here dedupes before counting, so a caller cannot count a re-run twice by forgetting it.

A record belongs to the month (``YYYY-MM``) of its ``detected_at`` in the reporting time zone (UTC unless
told otherwise; naive datetimes are taken as UTC). Each month's KPIs:

drift detections
    Number of distinct items detected in the month (after dedupe). One item is one resource to repair with
    one runbook, however many of its attributes drifted.
remediation success rate (target ≥ 95 %)
    ``verified / attempted``. *Attempted* items had their runbook started (``started_at`` set, or a state
    only a started runbook reaches: VERIFIED, FAILED, ROLLED_BACK) and reached a terminal state.
    *Verified* ones ended VERIFIED (runbook succeeded and the re-compare showed no drift). Excluded: items
    never started (rejected, approval timed out, held back by a quota or the loop guard) and items still
    running when recorded. ``None`` when nothing was attempted: no evidence, no rate.
mean approval time (target ≤ 4 h)
    Mean over approval decisions of ``approved_at - earliest detected_at`` of the items the decision
    covered. A decision is one ``(environment, dag_run_id, approved_at)``: one HITL response approving a
    whole run counts once, not once per item. Excluded: items never approved (rejections, timeouts — these
    are counted in ``approval_timeouts`` / ``not_approved`` instead). ``None`` when there was no approval.
manual intervention rate (target ≤ 5 %)
    ``manual / decided``: the share of detected items that the automation did not close on its own, so that
    a human had to act outside the loop. *Manual* items ended FAILED (exit code 1, or 3 when the rollback
    failed too), ROLLED_BACK, were not approved (rejected, approval timed out, skipped) or were escalated to
    a human by the loop guard (flapping). *Decided* items are all detected items whose outcome is known:
    items still in progress when recorded are excluded from both sides. ``None`` when nothing was decided.
mean time to repair (no target; reported)
    Mean of ``finished_at - detected_at`` over VERIFIED items: from detection to verified repair, approval
    wait included, because that is how long the resource was not as designed. Items without
    ``finished_at`` are excluded. ``None`` when nothing was repaired.

Pure Python (no Airflow, no boto3, no pandas).
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import fmean
from typing import Any
from zoneinfo import ZoneInfo

from drift_repair.core.models import RemediationRow, RemediationState

SUCCESS_RATE_TARGET = 0.95
APPROVAL_HOURS_TARGET = 4.0
MANUAL_RATE_TARGET = 0.05

EXIT_ROLLBACK_FAILED = 3
EXIT_APPROVAL_TIMEOUT = 124

_STARTED_STATES = frozenset({RemediationState.VERIFIED, RemediationState.FAILED, RemediationState.ROLLED_BACK})
_DATETIME_FIELDS = ("detected_at", "approved_at", "started_at", "finished_at", "recorded_at")


class Outcome(enum.StrEnum):
    """How one item ended, as the KPIs see it."""

    VERIFIED = "verified"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"
    APPROVAL_TIMEOUT = "approval_timeout"
    NOT_APPROVED = "not_approved"  # rejected, or never started (quota, loop guard) without escalation
    ESCALATED = "escalated"  # handed to a human by the loop guard (flapping) instead of repaired again
    IN_PROGRESS = "in_progress"  # approved or executing when recorded: not counted anywhere yet

    @property
    def is_manual(self) -> bool:
        return self not in (Outcome.VERIFIED, Outcome.IN_PROGRESS)


def as_utc(value: datetime) -> datetime:
    """Aware UTC datetime; naive values are taken as UTC (what Airflow and AWS hand us)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """One remediation item of one DAG run, as kept in the KPI history (append-only, JSON lines)."""

    environment: str
    dag_run_id: str
    item_key: str
    resource_address: str
    state: RemediationState
    detected_at: datetime
    recorded_at: datetime
    approved_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    approver: str | None = None
    runbook_name: str | None = None
    config_rule_name: str | None = None
    exit_code: int | None = None
    escalated: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity for dedupe: the same item of the same DAG run of the same environment."""
        return (self.environment, self.dag_run_id, self.item_key)

    @property
    def attempted(self) -> bool:
        """The runbook was started and the item reached a terminal state."""
        return self.state in _STARTED_STATES

    @property
    def outcome(self) -> Outcome:
        if self.state is RemediationState.VERIFIED:
            return Outcome.VERIFIED
        if self.state is RemediationState.ROLLED_BACK:
            return Outcome.ROLLED_BACK
        if self.state is RemediationState.FAILED:
            return Outcome.ROLLBACK_FAILED if self.exit_code == EXIT_ROLLBACK_FAILED else Outcome.FAILED
        if self.escalated:
            return Outcome.ESCALATED
        if self.exit_code == EXIT_APPROVAL_TIMEOUT:
            return Outcome.APPROVAL_TIMEOUT
        if self.state is RemediationState.DETECTED:
            return Outcome.NOT_APPROVED
        return Outcome.IN_PROGRESS

    @classmethod
    def from_remediation(
        cls,
        row: RemediationRow,
        *,
        environment: str,
        dag_run_id: str,
        recorded_at: datetime,
        escalated: bool = False,
    ) -> HistoryRecord:
        """The history record of a RemediationRow at the end of a run (``detected_at`` falls back to now)."""
        return cls(
            environment=environment,
            dag_run_id=dag_run_id,
            item_key=row.item_key,
            resource_address=row.resource_address,
            state=row.state,
            detected_at=as_utc(row.detected_at or recorded_at),
            recorded_at=as_utc(recorded_at),
            approved_at=as_utc(row.approved_at) if row.approved_at else None,
            started_at=as_utc(row.started_at) if row.started_at else None,
            finished_at=as_utc(row.finished_at) if row.finished_at else None,
            approver=row.approver,
            runbook_name=row.runbook_name,
            config_rule_name=row.config_rule_name,
            exit_code=row.exit_code,
            escalated=escalated,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = as_utc(value).isoformat()
            elif isinstance(value, enum.Enum):
                value = value.value
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HistoryRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {k: v for k, v in data.items() if k in names}
        kwargs["state"] = RemediationState(kwargs["state"])
        for name in _DATETIME_FIELDS:
            value = kwargs.get(name)
            if isinstance(value, str):
                kwargs[name] = as_utc(datetime.fromisoformat(value))
            elif isinstance(value, datetime):
                kwargs[name] = as_utc(value)
        kwargs["escalated"] = bool(kwargs.get("escalated", False))
        return cls(**kwargs)


def _preference(record: HistoryRecord) -> tuple[datetime, bool, str]:
    return (
        as_utc(record.recorded_at),
        record.state.is_terminal,
        json.dumps(record.to_dict(), sort_keys=True),
    )


def dedupe(records: Iterable[HistoryRecord]) -> list[HistoryRecord]:
    """One record per ``(environment, dag_run_id, item_key)``: the latest recorded (see module docstring)."""
    best: dict[tuple[str, str, str], HistoryRecord] = {}
    for record in records:
        current = best.get(record.key)
        if current is None or _preference(record) > _preference(current):
            best[record.key] = record
    return sorted(best.values(), key=lambda r: (as_utc(r.detected_at), r.key))


def month_of(value: datetime, tz: str = "UTC") -> str:
    """``YYYY-MM`` of a datetime in the reporting time zone."""
    return as_utc(value).astimezone(ZoneInfo(tz)).strftime("%Y-%m")


def parse_month(text: str) -> tuple[int, int]:
    """``'2026-11'`` -> ``(2026, 11)``; ValueError names the expected form."""
    try:
        parsed = datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise ValueError(f"month {text!r}: expected YYYY-MM, e.g. 2026-11") from None
    return parsed.year, parsed.month


def month_range(last: str, count: int) -> list[str]:
    """The ``count`` months ending with ``last``, oldest first (the trend window of the KPI workbook)."""
    year, month = parse_month(last)
    index = year * 12 + month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


@dataclass(frozen=True, slots=True)
class MonthlyKpi:
    """The KPIs of one month; rates are fractions (0.95), durations hours. ``None`` means no data."""

    month: str
    detections: int
    attempted: int
    verified: int
    success_rate: float | None
    approvals: int
    mean_approval_hours: float | None
    approval_timeouts: int
    not_approved: int
    decided: int
    manual: int
    manual_rate: float | None
    repaired: int
    mttr_hours: float | None

    @property
    def success_met(self) -> bool | None:
        return None if self.success_rate is None else self.success_rate >= SUCCESS_RATE_TARGET

    @property
    def approval_met(self) -> bool | None:
        return None if self.mean_approval_hours is None else self.mean_approval_hours <= APPROVAL_HOURS_TARGET

    @property
    def manual_met(self) -> bool | None:
        return None if self.manual_rate is None else self.manual_rate <= MANUAL_RATE_TARGET

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.update(success_met=self.success_met, approval_met=self.approval_met, manual_met=self.manual_met)
        return out


def _hours(start: datetime, end: datetime) -> float:
    return (as_utc(end) - as_utc(start)).total_seconds() / 3600.0


def _kpi(month: str, records: list[HistoryRecord]) -> MonthlyKpi:
    outcomes = [r.outcome for r in records]
    attempted = [r for r in records if r.attempted]
    verified = [r for r in attempted if r.outcome is Outcome.VERIFIED]

    decisions: dict[tuple[str, str, datetime], list[HistoryRecord]] = defaultdict(list)
    for r in records:
        if r.approved_at is not None:
            decisions[(r.environment, r.dag_run_id, as_utc(r.approved_at))].append(r)
    waits = [_hours(min(r.detected_at for r in items), key[2]) for key, items in decisions.items()]

    decided = [o for o in outcomes if o is not Outcome.IN_PROGRESS]
    manual = [o for o in decided if o.is_manual]
    repairs = [_hours(r.detected_at, r.finished_at) for r in verified if r.finished_at is not None]
    return MonthlyKpi(
        month=month,
        detections=len(records),
        attempted=len(attempted),
        verified=len(verified),
        success_rate=len(verified) / len(attempted) if attempted else None,
        approvals=len(decisions),
        mean_approval_hours=fmean(waits) if waits else None,
        approval_timeouts=outcomes.count(Outcome.APPROVAL_TIMEOUT),
        not_approved=outcomes.count(Outcome.NOT_APPROVED),
        decided=len(decided),
        manual=len(manual),
        manual_rate=len(manual) / len(decided) if decided else None,
        repaired=len(repairs),
        mttr_hours=fmean(repairs) if repairs else None,
    )


def monthly_kpis(
    records: Iterable[HistoryRecord],
    *,
    months: Iterable[str] | None = None,
    tz: str = "UTC",
    environment: str | None = None,
) -> list[MonthlyKpi]:
    """KPIs per month, oldest first: the given months (empty ones with zero counts) or every month seen.

    Records are deduped first; ``environment`` keeps only that environment's records.
    """
    by_month: dict[str, list[HistoryRecord]] = defaultdict(list)
    for record in dedupe(records):
        if environment is None or record.environment == environment:
            by_month[month_of(record.detected_at, tz)].append(record)
    wanted = sorted(set(months)) if months is not None else sorted(by_month)
    for month in wanted:
        parse_month(month)
    return [_kpi(month, by_month.get(month, [])) for month in wanted]


def month_kpi(
    records: Iterable[HistoryRecord], month: str, *, tz: str = "UTC", environment: str | None = None
) -> MonthlyKpi:
    """The KPIs of one month."""
    return monthly_kpis(records, months=[month], tz=tz, environment=environment)[0]
