"""Airflow DAG drift_repair__dev: the closed loop for the dev environment (include/environments/dev.yaml)."""

from drift_repair.dag_factory import build_dag

dag = build_dag("dev")
