"""The standard provider's ApprovalOperator, keeping every answer — Reject and timeout included.

On Reject (or the timeout default) ApprovalOperator skips its downstream tasks, and in Airflow 3 that
skip ends the task before its return value is pushed. The audit trail needs the answer either way (who
rejected, when, with which comment, or that nobody answered), so the answer is pushed to XCom under
``answer`` before the standard behaviour runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

ANSWER_KEY = "answer"


class DriftRepairApprovalOperator(ApprovalOperator):
    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if "error" not in event:
            responded_at = event.get("responded_at")
            context["ti"].xcom_push(
                key=ANSWER_KEY,
                value={
                    "chosen_options": list(event.get("chosen_options") or []),
                    "params_input": dict(event.get("params_input") or {}),
                    "responded_by_user": event.get("responded_by_user"),
                    "responded_at": responded_at.isoformat() if isinstance(responded_at, datetime) else responded_at,
                    "timed_out": bool(event.get("timedout")),
                },
            )
        return super().execute_complete(context, event)
