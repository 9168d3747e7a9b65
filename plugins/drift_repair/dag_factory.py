"""One factory builds ``drift_repair__<env>`` from include/environments/<env>.yaml.

    detect ─► has_drift ─► plan ─► approve[_2] ─► approval_gate ─► start_remediation[*] ─► wait_remediation[*]
       │        (short-circuit: no NG or dry_run)                                              │
       │                                                                                         ▼
       └──────────────────────────────────────────────────────────────► reconcile ─► recompare ─► report
                                                                          (report runs whatever happened)

The DAG file makes no AWS call and reads no Variable at parse time: only the environment YAML.
Retries only where a task is idempotent (reads, and the start whose ClientToken makes it so);
never on the approval.
"""

from __future__ import annotations

import itertools
import math
import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, TriggerRule, task, task_group

from drift_repair.core.environment import EnvironmentConfig, load_environment
from drift_repair.notifiers import ApprovalRequestNotifier
from drift_repair.operators.approval import ANSWER_KEY, DriftRepairApprovalOperator
from drift_repair.operators.ssm import SsmStartAutomationExecutionOperator
from drift_repair.sensors.ssm import SsmAutomationExecutionSensor

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
GROUP = "remediate"
START_TASK = f"{GROUP}.start_remediation"
WAIT_TASK = f"{GROUP}.wait_remediation"


def pool_name(env: EnvironmentConfig) -> str:
    """The pool that keeps StartAutomationExecution within its quota (create it with `make up`/compose)."""
    return f"drift_repair_ssm_start_{env.name}"


def pool_slots(env: EnvironmentConfig) -> int:
    """Slots of the start pool: the StartAutomationExecution rate times how long a start task holds a slot."""
    return max(1, math.ceil(env.quotas.start_automation_per_second * env.quotas.start_task_seconds))


def _doc_md(env: EnvironmentConfig) -> str:
    return f"""
### drift_repair__{env.name}

Keeps **{env.name}** (account `{env.account_id}`, `{env.region}`) as designed in Terraform.

1. **detect** — Terraform plan/state JSON (`{env.terraform.plan_json or env.terraform.state_json}`) vs AWS Config,
   attribute by attribute (OK / NG / UNKNOWN).
2. **plan** — NG attributes with a runbook become items; the rest is listed for a human; the loop guard refuses
   repeated repairs.
3. **approve** — Required Actions in this UI; default Reject after {env.approval.timeout_minutes} minutes;
   {env.approval.required_approvers} distinct approver(s).
4. **start_remediation / wait_remediation** — SSM Automation runbooks via the Terraform-managed Config
   remediation configurations; the approval is relayed to each runbook's `aws:approve` step.
5. **reconcile / recompare** — `terraform plan -refresh-only` (or the native state-vs-live check), then detection
   again: VERIFIED only when the attribute is OK and Terraform sees no drift.
6. **report** — evidence (Excel parameter sheet, JSON bundle with hashes, KPIs) under `{env.evidence_dir}`.

Trigger with **dry_run** to detect and report only.
"""


# --------------------------------------------------------------------------- tasks (bodies in drift_repair.loop)


@task(retries=2)
def detect(env_name: str, **context: Any) -> dict[str, Any]:
    """Terraform design vs AWS Config; rows go to the run store, the counts to XCom."""
    from drift_repair import loop  # noqa: PLC0415 - heavy imports stay out of DAG parsing

    return loop.detect(env_name, context["run_id"], "pre")


@task.short_circuit(ignore_downstream_trigger_rules=False)
def has_drift(summary: dict[str, Any], **context: Any) -> bool:
    """Stop here (the report still runs) when nothing is NG, or on a dry run."""
    if context["params"]["dry_run"]:
        print("dry_run: detect and report only")  # noqa: T201 - task log
        return False
    print(f"{summary['ng']} NG attributes")  # noqa: T201
    return bool(summary["ng"])


@task(retries=2)
def plan(env_name: str, dag_id: str, **context: Any) -> dict[str, Any]:
    """NG rows → runbook items (parameters from the remediation configurations) and the manual list."""
    from drift_repair import loop  # noqa: PLC0415

    p = context["params"]
    return loop.plan(
        env_name, dag_id, context["run_id"], p["resource_filter"], p["max_remediations"], p["change_ticket"]
    )


@task.short_circuit(ignore_downstream_trigger_rules=False)
def has_items(planned: dict[str, Any]) -> bool:
    """No approval is asked for when there is nothing a runbook can repair."""
    print(f"{len(planned['items'])} runbooks planned, {len(planned['manual'])} manual")  # noqa: T201
    return bool(planned["items"])


@task
def items_of(planned: dict[str, Any]) -> list[dict[str, Any]]:
    return list(planned["items"])


@task
def approval_gate(required: int, approval_task_ids: list[str], **context: Any) -> dict[str, Any]:
    """One approval record from the approval tasks: approved by enough distinct people, or skip."""
    from airflow.sdk.exceptions import AirflowSkipException  # noqa: PLC0415

    from drift_repair import loop  # noqa: PLC0415

    answers = [context["ti"].xcom_pull(task_ids=t, key=ANSWER_KEY) for t in approval_task_ids]
    record = loop.gate(required, *answers)
    if not record["approved"]:
        raise AirflowSkipException(f"not approved: {record['reason']}")
    return record


@task(trigger_rule=TriggerRule.ALL_DONE, retries=1)
def reconcile(env_name: str, **context: Any) -> dict[str, Any] | None:
    """terraform plan -refresh-only (or the native check) once something was repaired."""
    from drift_repair import loop  # noqa: PLC0415

    if not context["ti"].xcom_pull(task_ids="approval_gate"):
        print("nothing was repaired: no reconcile needed")  # noqa: T201
        return None
    return loop.reconcile(env_name, context["run_id"])


@task(trigger_rule=TriggerRule.ALL_DONE, retries=2)
def recompare(env_name: str, dag_id: str, **context: Any) -> dict[str, Any]:
    """Detection again → post rows; the final state of every remediation."""
    from drift_repair import loop  # noqa: PLC0415

    return loop.recompare_and_finalise(env_name, dag_id, context)


@task(trigger_rule=TriggerRule.ALL_DONE, retries=1)
def report(env_name: str, dag_id: str, **context: Any) -> dict[str, Any]:
    """Evidence, KPI history, notifications — whatever happened before."""
    from drift_repair import loop  # noqa: PLC0415

    return loop.report(env_name, dag_id, context)


def approval_timeout(env: EnvironmentConfig) -> timedelta:
    """The environment's approval timeout; DRIFT_REPAIR_APPROVAL_TIMEOUT_SECONDS shortens it (tests, demos)."""
    override = os.environ.get("DRIFT_REPAIR_APPROVAL_TIMEOUT_SECONDS")
    return timedelta(seconds=float(override)) if override else timedelta(minutes=env.approval.timeout_minutes)


def _approvals(env: EnvironmentConfig) -> list[DriftRepairApprovalOperator]:
    required = env.approval.required_approvers
    return [
        DriftRepairApprovalOperator(
            task_id="approve" if i == 0 else f"approve_{i + 1}",
            environment=env.name,
            subject=f"[{env.name}] Repair drift in account {env.account_id}? (approval {i + 1} of {required})",
            body="{{ ti.xcom_pull(task_ids='plan')['approval_body'] }}",
            defaults="Reject",
            assigned_users=[dict(u) for u in env.approval.assigned_users] or None,
            response_timeout=approval_timeout(env),
            params={"comment": Param("", type="string", description="Why (kept in the evidence)")},
            notifiers=[ApprovalRequestNotifier(env.name)],
            retries=0,
        )
        for i in range(required)
    ]


def build_dag(env_name: str) -> DAG:
    env = load_environment(env_name)
    dag_id = f"drift_repair__{env.name}"
    with DAG(
        dag_id=dag_id,
        description=f"Detect, approve, repair and prove Terraform drift in {env.name}",
        schedule=env.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args={"owner": env.owner, "retries": 0, "retry_delay": timedelta(seconds=30)},
        tags=["drift-repair", env.name, *[t for t in env.tags if t not in ("drift-repair", env.name)]],
        doc_md=_doc_md(env),
        params={
            "dry_run": Param(False, type="boolean", description="Detect and report only: nothing is repaired."),
            "resource_filter": Param(
                "",
                type="string",
                description="Only repair these resources: comma-separated globs on address "
                "or resource id, e.g. module.storage.*",
            ),
            "max_remediations": Param(
                env.quotas.max_remediations,
                type="integer",
                minimum=0,
                description="At most this many runbooks in this run.",
            ),
            "change_ticket": Param(
                "", type="string", description="Change ticket reference, shown to approvers and kept in the evidence."
            ),
        },
    ) as dag:
        detected = detect(env.name)
        planned = plan(env.name, dag_id)
        approvals = _approvals(env)
        gate = approval_gate(len(approvals), [a.task_id for a in approvals])
        has_drift(detected) >> planned >> has_items(planned) >> approvals[0]
        for previous, following in itertools.pairwise(approvals):
            previous >> following
        approvals[-1] >> gate

        # One mapped group per item: each item's wait starts as soon as its own start is done (a mapped
        # task would wait for every start first), so repairs overlap instead of queueing behind each other.
        @task_group(group_id=GROUP)
        def remediate(item: Any) -> None:
            started = SsmStartAutomationExecutionOperator(
                task_id="start_remediation",
                item=item,
                approval=gate,
                aws_conn_id=env.aws_conn_id,
                region_name=env.region,
                pool=pool_name(env),
                retries=2,  # idempotent: the ClientToken returns the same execution
            )
            SsmAutomationExecutionSensor(
                task_id="wait_remediation",
                execution_id=started.output,
                aws_conn_id=env.aws_conn_id,
                region_name=env.region,
                retries=2,
            )

        waited = remediate.expand(item=items_of(planned))
        final = recompare(env.name, dag_id)
        waited >> reconcile(env.name) >> final >> report(env.name, dag_id)
        detected >> final
    return dag
