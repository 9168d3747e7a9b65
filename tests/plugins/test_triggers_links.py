from __future__ import annotations

from drift_repair.links.config import ConfigRuleLink
from drift_repair.links.ssm import SsmAutomationExecutionLink
from drift_repair.plugin import DriftRepairPlugin
from drift_repair.triggers.ssm import SsmAutomationExecutionTrigger


def test_trigger_serialize_round_trip() -> None:
    trigger = SsmAutomationExecutionTrigger(
        execution_id="exec-1",
        waiter_name="automation_execution_waiting",
        waiter_delay=7,
        waiter_max_attempts=9,
        aws_conn_id="aws_dev",
        region_name="ap-northeast-1",
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "drift_repair.triggers.ssm.SsmAutomationExecutionTrigger"
    again = SsmAutomationExecutionTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)
    assert kwargs["execution_id"] == "exec-1" and kwargs["waiter_delay"] == 7
    assert again.waiter_args == {"AutomationExecutionId": "exec-1"}
    assert again.hook().__class__.__name__ == "SsmAutomationHook"


def test_console_links() -> None:
    link = SsmAutomationExecutionLink().format_link(
        aws_domain="aws.amazon.com", region_name="ap-northeast-1", execution_id="abc"
    )
    assert link == "https://console.aws.amazon.com/systems-manager/automation/execution/abc?region=ap-northeast-1"
    rule = ConfigRuleLink().format_link(
        aws_domain="aws.amazon.com", region_name="ap-northeast-1", rule_name="s3-bucket-versioning-enabled"
    )
    assert rule.endswith("configRuleName=s3-bucket-versioning-enabled")
    names = {type(link).__name__ for link in DriftRepairPlugin.operator_extra_links}
    assert names == {"SsmAutomationExecutionLink", "ConfigRuleLink"}
