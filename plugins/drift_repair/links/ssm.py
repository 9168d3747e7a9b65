from __future__ import annotations

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink


class SsmAutomationExecutionLink(BaseAwsLink):
    """The SSM Automation execution in the AWS console."""

    name = "SSM Automation Execution"
    key = "_ssm_automation_execution"
    format_str = BASE_AWS_CONSOLE_LINK + "/systems-manager/automation/execution/{execution_id}?region={region_name}"
