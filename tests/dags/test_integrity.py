"""DAG integrity: every DAG loads, makes no AWS call at parse time, and no repair can run unapproved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag() -> Any:
    import boto3
    import botocore.client
    from airflow.dag_processing.dagbag import DagBag

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a DAG file created an AWS client at parse time")

    mp = pytest.MonkeyPatch()
    mp.setattr(boto3, "client", refuse)
    mp.setattr(boto3.session.Session, "client", refuse)
    mp.setattr(botocore.client.BaseClient, "_make_api_call", refuse)
    try:
        bag = DagBag(dag_folder=str(REPO / "dags"))
    finally:
        mp.undo()
    return bag


def test_every_dag_imports_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"drift_repair__dev", "drift_repair__stg", "drift_repair__prod"}


def test_dag_files_are_configuration_only() -> None:
    for path in (REPO / "dags").glob("*.py"):
        code = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith(("#", '"'))]
        assert len(code) <= 4, f"{path.name} holds logic; keep it in the factory"


@pytest.mark.parametrize("dag_id", ["drift_repair__dev", "drift_repair__stg", "drift_repair__prod"])
def test_every_mutating_task_is_downstream_of_the_approval(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    start = dag.get_task("remediate.start_remediation")
    upstream = {t.task_id for t in start.get_flat_relatives(upstream=True)}
    assert {"approve", "approval_gate"} <= upstream
    if dag_id.endswith("prod"):
        assert "approve_2" in upstream  # two distinct approvers in production
    # nothing else in the DAG starts runbooks
    mutating = [
        t.task_id
        for t in dag.tasks
        if "SsmStartAutomation" in type(t).__name__
        or getattr(t, "operator_name", "") == "SsmStartAutomationExecutionOperator"
    ]
    assert mutating == ["remediate.start_remediation"]


@pytest.mark.parametrize("dag_id", ["drift_repair__dev", "drift_repair__stg", "drift_repair__prod"])
def test_policy(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    env = dag_id.split("__")[1]
    assert {"drift-repair", env} <= set(dag.tags)
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert dag.doc_md and "approve" in dag.doc_md
    assert dag.schedule is not None or dag.timetable is not None
    assert set(dag.params) >= {"dry_run", "resource_filter", "max_remediations", "change_ticket"}
    for t in dag.tasks:
        assert t.owner and t.owner != "airflow", t.task_id
    approvals = [t for t in dag.tasks if t.task_id.startswith("approve")]
    assert approvals and all(t.retries == 0 for t in approvals)
    assert all(t.defaults == ["Reject"] for t in approvals)
    assert all(t.response_timeout is not None for t in approvals)
    assert dag.get_task("remediate.start_remediation").pool == f"drift_repair_ssm_start_{env}"
    # report runs whatever happened upstream
    assert dag.get_task("report").trigger_rule == "all_done"
