"""Notifier attached to the approval tasks: "approval needed", with the link to Required Actions.

Sent through SNS (the amazon provider) and Slack (when a webhook connection is configured) by
drift_repair.reports.notifications. A delivery failure is logged, never fails the approval task.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier


class ApprovalRequestNotifier(BaseNotifier):
    """Announce a pending approval of ``drift_repair__<env>`` with what would be repaired."""

    def __init__(self, environment: str) -> None:
        super().__init__()
        self.environment = environment

    def notify(self, context: Any) -> None:
        from drift_repair.core.environment import load_environment  # noqa: PLC0415
        from drift_repair.reports.notifications import build_approval_message, notify_environment  # noqa: PLC0415

        env = load_environment(self.environment)
        planned = context["ti"].xcom_pull(task_ids="plan") or {}
        items = [
            {
                "resource_address": i["resource_address"],
                "resource_id": i["resource_id"],
                "config_rule_name": i["config_rule"],
                "runbook_name": i["runbook"],
                "attributes": i["attributes"],
            }
            for i in planned.get("items", [])
        ]
        notify_environment(
            env,
            lambda base_url: build_approval_message(
                environment=env.name,
                dag_id=context["dag"].dag_id,
                run_id=context["run_id"],
                base_url=base_url,
                items=items,
                approval_task_id=context["task"].task_id,
                timeout_minutes=env.approval.timeout_minutes,
                approvers=[u.get("name") or u["id"] for u in env.approval.assigned_users],
                language=env.report_language,
            ),
        )
