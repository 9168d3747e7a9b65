"""Start a remediation runbook, after checking the approval record, and relay the approval to the runbook.

Three phases, as the amazon provider's operators: prepare (approval record and parameters validated,
before any AWS call), one call (StartAutomationExecution with a deterministic ClientToken: a retried task
gets the same execution, never a second repair), wait (deferred until the runbook's ``aws:approve`` step is
Waiting, then SendAutomationSignal Approve with "approved by <user> in <dag>/<run>").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException

from drift_repair.core.approvals import ApprovalError, approval_record
from drift_repair.core.remediation import ParameterError, RemediationItem, validate_parameters
from drift_repair.hooks.ssm import SsmAutomationHook
from drift_repair.links.config import ConfigRuleLink
from drift_repair.links.ssm import SsmAutomationExecutionLink
from drift_repair.triggers.ssm import SsmAutomationExecutionTrigger


class SsmStartAutomationExecutionOperator(AwsBaseOperator[SsmAutomationHook]):
    """Start one remediation item's runbook.

    :param item: a RemediationItem as a dict (from the plan task, one per mapped task instance).
    :param approval: the approval record (from the approval gate): who approved, when, with which comment.
    :param relay_approval: answer the runbook's aws:approve step with the approval (default True).
    :param waiter_delay: seconds between GetAutomationExecution polls while waiting for the approve step.
    :param deferrable: wait in the triggerer, holding no worker slot.
    """

    aws_hook_class = SsmAutomationHook
    template_fields: Sequence[str] = aws_template_fields("item", "approval")
    operator_extra_links = (SsmAutomationExecutionLink(), ConfigRuleLink())

    def __init__(
        self,
        *,
        item: Mapping[str, Any] | Any,
        approval: Mapping[str, Any] | Any,
        relay_approval: bool = True,
        waiter_delay: int = 3,
        waiter_max_attempts: int = 600,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.item = item
        self.approval = approval
        self.relay_approval = relay_approval
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.deferrable = deferrable

    def _comment(self, context: Any) -> str:
        record = approval_record(self.approval)
        return f"approved by {', '.join(record.approvers)} in {context['dag'].dag_id}/{context['run_id']}"

    def execute(self, context: Any) -> dict[str, Any]:
        try:
            record = approval_record(self.approval)
        except ApprovalError as exc:
            raise AirflowFailException(f"refusing to repair without an approval record: {exc}") from None
        item = RemediationItem.from_dict(self.item)
        try:
            validate_parameters(item)
        except ParameterError as exc:
            raise AirflowFailException(str(exc)) from None
        self.log.info(
            "Starting %s on %s (%s) for %s; approved by %s; ClientToken %s",
            item.runbook,
            item.resource_id,
            item.resource_address,
            item.config_rule,
            ", ".join(record.approvers),
            item.client_token,
        )
        execution_id = self.hook.start_automation_execution(
            item.runbook,
            item.parameters,
            item.client_token,
            item.document_version,
            tags=[{"Key": "drift-repair:run", "Value": str(context["run_id"])[:256]}],
        )
        started_at = datetime.now(UTC).isoformat()
        self.log.info("Automation execution %s started", execution_id)
        SsmAutomationExecutionLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            execution_id=execution_id,
        )
        ConfigRuleLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            rule_name=item.config_rule,
        )
        context["ti"].xcom_push(key="execution", value={"execution_id": execution_id, "started_at": started_at})
        if not self.relay_approval:
            return self._result(item, execution_id, started_at, relayed=False)
        if self.deferrable:
            self.defer(
                trigger=SsmAutomationExecutionTrigger(
                    execution_id=execution_id,
                    waiter_name="automation_execution_waiting",
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
                kwargs={"started_at": started_at},
            )
        self.hook.get_waiter("automation_execution_waiting").wait(
            AutomationExecutionId=execution_id,
            WaiterConfig={"Delay": self.waiter_delay, "MaxAttempts": self.waiter_max_attempts},
        )
        return self._relay(context, item, execution_id, started_at)

    def execute_complete(self, context: Any, event: dict[str, Any], started_at: str = "") -> dict[str, Any]:
        if event.get("status") != "success":
            raise AirflowFailException(f"waiting for the runbook's approval step failed: {event.get('message')}")
        item = RemediationItem.from_dict(self.item)
        return self._relay(context, item, event["execution_id"], started_at)

    def _relay(self, context: Any, item: RemediationItem, execution_id: str, started_at: str) -> dict[str, Any]:
        execution = self.hook.get_automation_execution(execution_id)
        status = execution.get("AutomationExecutionStatus")
        if status == "Waiting":
            comment = self._comment(context)
            self.log.info(
                "Relaying the approval to %s step %s: %s", execution_id, execution.get("CurrentStepName"), comment
            )
            self.hook.send_approval(execution_id, approve=True, comment=comment)
            return self._result(item, execution_id, started_at, relayed=True)
        self.log.info("Execution %s is %s: no approval step to answer", execution_id, status)
        return self._result(item, execution_id, started_at, relayed=False)

    def _result(self, item: RemediationItem, execution_id: str, started_at: str, relayed: bool) -> dict[str, Any]:
        return {
            "item_key": item.item_key,
            "execution_id": execution_id,
            "started_at": started_at,
            "approval_relayed": relayed,
        }
