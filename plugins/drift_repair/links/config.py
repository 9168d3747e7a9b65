from __future__ import annotations

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink


class ConfigRuleLink(BaseAwsLink):
    """The AWS Config rule (its compliance and remediation) in the AWS console."""

    name = "AWS Config Rule"
    key = "_config_rule"
    format_str = BASE_AWS_CONSOLE_LINK + "/config/home?region={region_name}#/rules/details?configRuleName={rule_name}"
