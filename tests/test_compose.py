"""docker-compose.yaml cannot run here (no Docker engine): check it statically and keep it in step."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker", "airflow-triggerer"]


def pinned(name: str) -> str:
    for line in (REPO / "requirements.txt").read_text().splitlines():
        match = re.match(rf"^{re.escape(name)}(\[[^\]]*\])?==([^\s#]+)", line.strip())
        if match:
            return match.group(2)
    raise AssertionError(f"{name} is not pinned in requirements.txt")


def test_services() -> None:
    assert set(SERVICES) >= {"postgres", "redis", "sandbox", "airflow-init", *AIRFLOW}
    commands = {SERVICES[s]["command"] for s in AIRFLOW}
    assert commands == {"api-server", "scheduler", "dag-processor", "celery worker", "triggerer"}


def test_airflow_runs_celery_on_postgres_and_redis() -> None:
    env = SERVICES["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    for name in ("dev", "stg", "prod"):
        assert "http://sandbox:4566" in env[f"AIRFLOW_CONN_AWS_{name.upper()}"]


def test_mounts() -> None:
    for service in [*AIRFLOW, "sandbox", "airflow-init"]:
        targets = {v.split(":")[1] for v in SERVICES[service]["volumes"]}
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= targets, service
        for volume in SERVICES[service]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{service} mounts {source}, which does not exist"


def test_image_and_packages_match_requirements() -> None:
    airflow = pinned("apache-airflow")
    for service in [*AIRFLOW, "sandbox", "airflow-init"]:
        build = SERVICES[service]["build"]
        assert build["args"]["AIRFLOW_VERSION"] == airflow
        assert SERVICES[service]["image"].endswith(f":{airflow}")
    dockerfile = (REPO / "Dockerfile").read_text()
    assert f"ARG AIRFLOW_VERSION={airflow}" in dockerfile
    assert (
        "-r /opt/drift-repair/requirements.txt" in dockerfile and "-c /opt/drift-repair/constraints.txt" in dockerfile
    )


def test_pools_and_sandbox_are_prepared() -> None:
    from drift_repair.core.environment import load_environment
    from drift_repair.dag_factory import pool_slots

    init = " ".join(SERVICES["airflow-init"]["command"])
    for name in ("dev", "stg", "prod"):
        assert f"drift_repair_ssm_start_{name} {pool_slots(load_environment(name))} " in init
    assert "python -m sandbox seed --env dev" in init
    assert SERVICES["sandbox"]["entrypoint"][:4] == ["python", "-m", "sandbox", "serve"]
