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
    """:param environment: the drift-repair environment, whose channels hear the decision."""

    def __init__(self, *, environment: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.environment = environment

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if "error" not in event:
            responded_at = event.get("responded_at")
            answer = {
                "chosen_options": list(event.get("chosen_options") or []),
                "params_input": dict(event.get("params_input") or {}),
                "responded_by_user": event.get("responded_by_user"),
                "responded_at": responded_at.isoformat() if isinstance(responded_at, datetime) else responded_at,
                "timed_out": bool(event.get("timedout")),
            }
            context["ti"].xcom_push(key=ANSWER_KEY, value=answer)
            self._announce(context, answer)
        return super().execute_complete(context, event)

    def _announce(self, context: Any, answer: dict[str, Any]) -> None:
        """The decision, to the environment's channels (best effort: a delivery failure is only logged)."""
        from drift_repair.core.environment import load_environment  # noqa: PLC0415
        from drift_repair.reports.notifications import build_decision_message, notify_environment  # noqa: PLC0415

        env = load_environment(self.environment)
        user = answer["responded_by_user"] or {}
        notify_environment(
            env,
            lambda base_url: build_decision_message(
                environment=env.name,
                dag_id=context["dag"].dag_id,
                run_id=context["run_id"],
                base_url=base_url,
                choice=(answer["chosen_options"] or ["Reject"])[0],
                responder=user.get("name") or user.get("id"),
                responded_at=answer["responded_at"],
                comment=str(answer["params_input"].get("comment") or ""),
                language=env.report_language,
            ),
        )
