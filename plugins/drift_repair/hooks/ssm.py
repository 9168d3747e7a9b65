"""SSM Automation hook: thin, stateless, with its own waiter file (the provider has none for Automation)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook


class SsmAutomationHook(AwsBaseHook):
    """Interact with SSM Automation executions. Waiters: see ``waiters/ssm.json``.

    Additional arguments (such as ``aws_conn_id``) may be specified and are passed down to the underlying
    AwsBaseHook.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "ssm"
        super().__init__(*args, **kwargs)

    @cached_property
    def waiter_path(self) -> Path:  # type: ignore[override]
        return Path(__file__).parents[1] / "waiters" / "ssm.json"

    def start_automation_execution(
        self,
        document_name: str,
        parameters: Mapping[str, list[str]],
        client_token: str,
        document_version: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> str:
        kwargs: dict[str, Any] = {
            "DocumentName": document_name,
            "Parameters": {k: list(v) for k, v in parameters.items()},
            "ClientToken": client_token,
        }
        if document_version:
            kwargs["DocumentVersion"] = document_version
        if tags:
            kwargs["Tags"] = tags
        response = self.conn.start_automation_execution(**kwargs)
        return str(response["AutomationExecutionId"])

    def get_automation_execution(self, execution_id: str) -> dict[str, Any]:
        response = self.conn.get_automation_execution(AutomationExecutionId=execution_id)
        return dict(response["AutomationExecution"])

    def get_step_executions(self, execution_id: str) -> list[dict[str, Any]]:
        """All step executions, following NextToken."""
        steps: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"AutomationExecutionId": execution_id, "MaxResults": 50}
        while True:
            response = self.conn.describe_automation_step_executions(**kwargs)
            steps.extend(response.get("StepExecutions", []))
            if not response.get("NextToken"):
                return steps
            kwargs["NextToken"] = response["NextToken"]

    def send_approval(self, execution_id: str, approve: bool, comment: str) -> None:
        self.conn.send_automation_signal(
            AutomationExecutionId=execution_id,
            SignalType="Approve" if approve else "Reject",
            Payload={"Comment": [comment]},
        )
