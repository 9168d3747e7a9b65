"""Wait for an SSM Automation execution to finish and turn its end into a RemediationState and exit code."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException

from drift_repair.core.remediation import TERMINAL_STATUSES, execution_outcome
from drift_repair.hooks.ssm import SsmAutomationHook
from drift_repair.links.ssm import SsmAutomationExecutionLink
from drift_repair.triggers.ssm import SsmAutomationExecutionTrigger

STEP_FIELDS = (
    "StepName",
    "Action",
    "StepStatus",
    "ExecutionStartTime",
    "ExecutionEndTime",
    "FailureMessage",
    "Outputs",
    "OverriddenParameters",
)


def summarise_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for step in steps:
        entry = {k: step[k] for k in STEP_FIELDS if k in step}
        for key in ("ExecutionStartTime", "ExecutionEndTime"):
            if isinstance(entry.get(key), datetime):
                entry[key] = entry[key].isoformat()
        out.append(entry)
    return out


class SsmAutomationExecutionSensor(AwsBaseSensor[SsmAutomationHook]):
    """Succeeds when the execution is terminal. The result (XCom) carries the outcome:
    ``state`` (RemediationState), ``exit_code`` (0 verified-pending, 1 failed, 2 rolled back, 3 rollback
    failed, 124 approval timed out), the status, message and step executions. When the runbook did not
    succeed, the task fails after pushing that result, so the run shows it and the report still reads it.
    """

    aws_hook_class = SsmAutomationHook
    template_fields: Sequence[str] = aws_template_fields("execution_id")
    operator_extra_links = (SsmAutomationExecutionLink(),)

    def __init__(
        self,
        *,
        execution_id: str | Any,
        waiter_delay: int = 10,
        waiter_max_attempts: int = 720,
        deferrable: bool = True,
        fail_on_failed_runbook: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.execution_id = execution_id
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.deferrable = deferrable
        self.fail_on_failed_runbook = fail_on_failed_runbook

    def _delay(self) -> int:
        """The start task passes the poll interval the plan computed from the GetAutomationExecution quota."""
        if isinstance(self.execution_id, dict) and self.execution_id.get("poll_seconds"):
            return int(self.execution_id["poll_seconds"])
        return self.waiter_delay

    def _id(self) -> str:
        return str(self.execution_id["execution_id"] if isinstance(self.execution_id, dict) else self.execution_id)

    def execute(self, context: Any) -> Any:
        if self.deferrable:
            execution = self.hook.get_automation_execution(self._id())
            if execution.get("AutomationExecutionStatus") in TERMINAL_STATUSES:
                return self._finish(context, execution)
            self.defer(
                trigger=SsmAutomationExecutionTrigger(
                    execution_id=self._id(),
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        super().execute(context)
        return self._finish(context, self.hook.get_automation_execution(self._id()))

    def poke(self, context: Any) -> bool:
        status = self.hook.get_automation_execution(self._id()).get("AutomationExecutionStatus")
        self.log.info("Execution %s is %s", self._id(), status)
        return status in TERMINAL_STATUSES

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if event.get("status") != "success":
            raise AirflowFailException(f"waiting for execution {self._id()} failed: {event.get('message')}")
        return self._finish(context, self.hook.get_automation_execution(self._id()))

    def _finish(self, context: Any, execution: dict[str, Any]) -> dict[str, Any]:
        steps = execution.get("StepExecutions") or self.hook.get_step_executions(self._id())
        execution = {**execution, "StepExecutions": steps}
        outcome = execution_outcome(execution)
        SsmAutomationExecutionLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            execution_id=self._id(),
        )
        result = {
            "execution_id": self._id(),
            "status": execution.get("AutomationExecutionStatus"),
            "state": outcome.state.value,
            "exit_code": outcome.exit_code,
            "message": outcome.message,
            "finished_at": (execution.get("ExecutionEndTime") or datetime.now(UTC)).isoformat()
            if not isinstance(execution.get("ExecutionEndTime"), str)
            else execution["ExecutionEndTime"],
            "steps": summarise_steps(steps),
        }
        self.log.info(
            "Execution %s ended %s: %s (exit code %s) %s",
            self._id(),
            result["status"],
            result["state"],
            result["exit_code"],
            result["message"],
        )
        context["ti"].xcom_push(key="outcome", value=result)
        if self.fail_on_failed_runbook and outcome.exit_code != 0:
            raise AirflowFailException(f"runbook did not repair: {outcome.message} (exit code {outcome.exit_code})")
        return result
