"""Deferrable wait on an SSM Automation execution: no worker slot is held while a runbook runs."""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

from drift_repair.hooks.ssm import SsmAutomationHook


class SsmAutomationExecutionTrigger(AwsBaseWaiterTrigger):
    """Poll GetAutomationExecution until the execution reaches a state the waiter accepts.

    :param execution_id: the AutomationExecutionId.
    :param waiter_name: ``automation_execution_complete`` (any terminal status) or
        ``automation_execution_waiting`` (an aws:approve step is waiting, or terminal).
    """

    aws_hook_class = SsmAutomationHook

    def __init__(
        self,
        *,
        execution_id: str,
        waiter_name: str = "automation_execution_complete",
        waiter_delay: int = 10,
        waiter_max_attempts: int = 720,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            serialized_fields={"execution_id": execution_id, "waiter_name": waiter_name},
            waiter_name=waiter_name,
            waiter_args={"AutomationExecutionId": execution_id},
            failure_message="SSM Automation execution wait failed",
            status_message="Status of SSM Automation execution",
            status_queries=["AutomationExecution.AutomationExecutionStatus", "AutomationExecution.CurrentStepName"],
            return_key="execution_id",
            return_value=execution_id,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            **kwargs,
        )
