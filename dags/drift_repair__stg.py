"""Airflow DAG drift_repair__stg: the closed loop for the stg environment (include/environments/stg.yaml)."""

from drift_repair.dag_factory import build_dag

dag = build_dag("stg")
