"""Registers the console links so the Airflow UI shows them on task instances."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from drift_repair.links.config import ConfigRuleLink
from drift_repair.links.ssm import SsmAutomationExecutionLink


class DriftRepairPlugin(AirflowPlugin):
    name = "drift_repair"
    operator_extra_links = [SsmAutomationExecutionLink(), ConfigRuleLink()]  # noqa: RUF012 - AirflowPlugin API
