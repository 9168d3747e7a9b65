"""AWS Config hook: the fetcher's batching and pagination on an Airflow connection."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from drift_repair.aws.config import ConfigItemFetcher, FetchStats

DESCRIBE_REMEDIATION_BATCH = 25  # DescribeRemediationConfigurations takes at most 25 rule names


class ConfigHook(AwsBaseHook):
    """Interact with AWS Config (configuration items, compliance, remediation configurations)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "config"
        super().__init__(*args, **kwargs)

    def fetcher(self, stats: FetchStats | None = None) -> ConfigItemFetcher:
        return ConfigItemFetcher(self.conn, stats)

    def describe_remediation_configurations(self, rule_names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Rule name -> RemediationConfiguration for the rules that have one."""
        names = sorted(set(rule_names))
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(names), DESCRIBE_REMEDIATION_BATCH):
            response = self.conn.describe_remediation_configurations(
                ConfigRuleNames=names[start : start + DESCRIBE_REMEDIATION_BATCH]
            )
            for configuration in response.get("RemediationConfigurations", []):
                out[configuration["ConfigRuleName"]] = configuration
        return out
