"""Airflow loads plugins from this folder; the package drift_repair/ itself is in .airflowignore."""

from drift_repair.plugin import DriftRepairPlugin

__all__ = ["DriftRepairPlugin"]
