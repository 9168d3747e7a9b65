"""Airflow DAG drift_repair__prod: the closed loop for the prod environment (include/environments/prod.yaml)."""

from drift_repair.dag_factory import build_dag

dag = build_dag("prod")
