"""The bodies of the loop's TaskFlow tasks: detect, plan, reconcile, finalise.

Each function takes plain values (environment name, run id, XCom results), builds its hooks, does its
AWS calls through them, leaves large data in the run store and returns a small JSON-serialisable summary.
The DAG factory only wires these together. Decisions are delegated to drift_repair.core.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from drift_repair.core import approvals as approvals_core
from drift_repair.core import compare
from drift_repair.core.environment import EnvironmentConfig, load_environment
from drift_repair.core.errors import ConfigurationError
from drift_repair.core.loop_guard import LoopGuard
from drift_repair.core.mappings import load_mappings
from drift_repair.core.models import (
    DiffRow,
    ExpectedValue,
    RemediationRow,
    RemediationState,
    Verdict,
    display_value,
)
from drift_repair.core.reconcile import ReconcileResult, native_result
from drift_repair.core.remediation import EXIT_APPROVAL_TIMEOUT, RemediationItem, plan_remediations
from drift_repair.reports.approval import approval_body
from drift_repair.runstore import RunStore

log = logging.getLogger(__name__)


def _config_hook(env: EnvironmentConfig) -> Any:
    from drift_repair.hooks.config import ConfigHook  # noqa: PLC0415 - Airflow only at run time

    return ConfigHook(aws_conn_id=env.aws_conn_id, region_name=env.region)


def _s3_client(env: EnvironmentConfig) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # noqa: PLC0415

    return S3Hook(aws_conn_id=env.aws_conn_id, region_name=env.region).get_conn()


def expected_source(env: EnvironmentConfig, state: bool = False) -> str:
    source = env.terraform.state_json if state and env.terraform.state_json else None
    source = source or env.terraform.plan_json or env.terraform.state_json
    resolved = env.resolve(source)
    if resolved is None:  # the schema requires plan_json or state_json; a hand-built config may not
        raise ConfigurationError(env.source or env.name, "terraform.plan_json or terraform.state_json is required")
    return resolved


def remediation_history(env: EnvironmentConfig) -> list[dict[str, Any]]:
    """Earlier remediations of this environment (the KPI history) in the shape the loop guard reads."""
    from drift_repair.reports.publish import past_history  # noqa: PLC0415

    client = None
    if env.evidence_bucket:
        from drift_repair.aws import s3  # noqa: PLC0415

        client = s3.s3_client(aws_conn_id=env.aws_conn_id, region_name=env.region)
    return [
        {
            "resource_id": r.item_key.split("|", 1)[0],
            "config_rule_name": r.config_rule_name,
            "state": r.state.value,
            "started_at": r.started_at,
            "dag_run_id": r.dag_run_id,
        }
        for r in past_history(env, client=client)
    ]


def _jsonable(value: Any) -> Any:
    if isinstance(value, (frozenset, set)):
        return sorted(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return display_value(value)


# --------------------------------------------------------------------------- detect


def detect(env_name: str, run_id: str, phase: str = "pre") -> dict[str, Any]:
    """Expected (plan/state JSON, path or S3) vs actual (AWS Config) → rows in the run store."""
    from drift_repair.pipeline import detect as run_detection  # noqa: PLC0415
    from drift_repair.pipeline import load_document  # noqa: PLC0415

    env = load_environment(env_name)
    source = expected_source(env)
    log.info("Environment %s (%s, %s): expected values from %s", env.name, env.account_id, env.region, source)
    document = load_document(source, _s3_client(env) if source.startswith("s3://") else None)
    log.info(
        "Parsed %s: %s resources (Terraform %s)", document.kind, len(document.resources), document.terraform_version
    )
    hook = _config_hook(env)
    # After repairs, settings read off periodic rules (EBS encryption by default) must be evaluated again.
    run = run_detection(
        document,
        context=env.context,
        config_client=hook.conn,
        fetch_mode=env.config_fetch,
        reevaluate_rules=phase == "post",
    )
    store = RunStore(env.name, run_id, env.aws_conn_id)
    rows_path = store.write_json(f"{phase}_rows.json", [r.to_dict() for r in run.result.rows])
    if phase == "pre":
        design = compare.design_values(run.targets)
        store.write_json(
            "design.json",
            [
                {
                    "resource_id": d.resource_id,
                    "resource_address": d.resource_address,
                    "terraform_type": d.terraform_type,
                    "attribute": d.attribute,
                    "value": _jsonable(d.value),
                    "source": d.source,
                }
                for d in design
            ],
        )
    summary = run.result.summary
    for row in run.result.ng_rows:
        log.info(
            "NG %s %s: expected %s, actual %s",
            row.resource_address,
            row.attribute,
            display_value(row.expected),
            display_value(row.actual),
        )
    log.info("%s: %s", phase, summary["verdicts"])
    return {
        "phase": phase,
        "verdicts": summary["verdicts"],
        "ng": summary["verdicts"]["NG"],
        "resources": run.result.resources,
        "attributes": len(run.result.rows),
        "rows_path": rows_path,
        "fetch": run.fetch_stats.as_dict(),
        "source": source,
    }


# --------------------------------------------------------------------------- plan


def plan(
    env_name: str,
    dag_id: str,
    run_id: str,
    resource_filter: str | None = None,
    max_remediations: int | None = None,
    change_ticket: str = "",
) -> dict[str, Any]:
    env = load_environment(env_name)
    store = RunStore(env.name, run_id, env.aws_conn_id)
    rows = [DiffRow.from_dict(d) for d in store.read_json("pre_rows.json", [])]
    design = {
        (d["resource_id"], d["attribute"]): d["value"]
        for d in store.read_json("design.json", [])
        if d.get("resource_id")
    }
    mappings = load_mappings()
    rule_names = {r.config_rule for r in rows if r.verdict is Verdict.NG and r.config_rule}
    configurations = _config_hook(env).describe_remediation_configurations(rule_names) if rule_names else {}
    log.info("Remediation configurations found for %s of %s rules", len(configurations), len(rule_names))
    guard = LoopGuard(remediation_history(env), env.loop_guard, datetime.now(UTC), run_id)
    limit = (
        env.quotas.max_remediations if max_remediations is None else min(max_remediations, env.quotas.max_remediations)
    )
    result = plan_remediations(
        rows,
        mappings,
        configurations,
        design,
        dag_id=dag_id,
        run_id=run_id,
        resource_filter=resource_filter or None,
        max_remediations=limit,
        guard=guard,
    )
    plan_dict = result.to_dict()
    store.write_json("plan.json", plan_dict)
    for item in result.items:
        log.info(
            "Planned %s on %s for %s (%s)", item.runbook, item.resource_id, item.config_rule, ", ".join(item.attributes)
        )
    for manual in result.manual:
        log.info("Manual: %s %s: %s", manual.resource_address, ", ".join(manual.attributes), manual.reason)
    # Poll no faster than the GetAutomationExecution quota allows across all waiting items (80% of it).
    poll = max(5, -(-len(result.items) // max(1, int(env.quotas.get_automation_per_second * 0.8))))
    return {
        "items": [{**item, "poll_seconds": poll} for item in plan_dict["items"]],
        "manual": plan_dict["manual"],
        "filtered_out": plan_dict["filtered_out"],
        "poll_seconds": poll,
        "approval_body": approval_body(env, rows, plan_dict, run_id, dag_id, change_ticket),
    }


def gate(required: int, *answers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Collect the approval tasks' answers into one record; the start tasks refuse anything else."""
    record = approvals_core.decide([approvals_core.answer_from_hitl(a) for a in answers], required)
    log.info("Approval: %s (%s)", "granted" if record.approved else "not granted", record.reason)
    return record.to_dict()


# --------------------------------------------------------------------------- reconcile


def reconcile(env_name: str, run_id: str) -> dict[str, Any]:
    env = load_environment(env_name)
    if env.terraform.reconcile == "terraform":
        from drift_repair.terraform_cli import refresh_only_plan  # noqa: PLC0415

        working_dir = env.resolve(env.terraform.working_dir)
        if working_dir is None:
            raise ConfigurationError(env.source or env.name, "terraform.reconcile is terraform: working_dir needed")
        result: ReconcileResult = refresh_only_plan(working_dir, env.terraform.binary)
    else:
        from drift_repair.pipeline import detect as run_detection  # noqa: PLC0415
        from drift_repair.pipeline import load_document  # noqa: PLC0415

        source = expected_source(env, state=True)
        document = load_document(source, _s3_client(env) if source.startswith("s3://") else None)
        run = run_detection(
            document, context=env.context, config_client=_config_hook(env).conn, fetch_mode=env.config_fetch
        )
        result = native_result(run.result.rows)
        log.info("Native state-vs-live check of %s: %s", source, result.summary)
    RunStore(env.name, run_id, env.aws_conn_id).write_json("reconcile.json", result.to_dict())
    log.info("Reconcile (%s): exit %s, %s drifted", result.mode, result.exit_code, len(result.drifted))
    return result.to_dict()


# --------------------------------------------------------------------------- finalise


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def final_rows(
    plan_items: Sequence[Mapping[str, Any]],
    approval: Mapping[str, Any] | None,
    starts: Sequence[Mapping[str, Any] | None],
    outcomes: Sequence[Mapping[str, Any] | None],
    pre_rows: Sequence[DiffRow],
    post_rows: Sequence[DiffRow] | None,
    reconcile_result: Mapping[str, Any] | None,
    detected_at: datetime,
) -> list[RemediationRow]:
    """One RemediationRow per planned item. VERIFIED only when the runbook succeeded, every repaired
    attribute is OK in the re-compare and the reconcile shows no drift on the resource."""
    starts_by = {s["item_key"]: s for s in starts if s}
    outcomes_by = {o["execution_id"]: o for o in outcomes if o}
    post = {(r.resource_id, r.attribute): r for r in post_rows or []}
    drifted = " ".join((reconcile_result or {}).get("drifted", []))
    approved = bool(approval and approval.get("approved"))
    approvers = ", ".join((approval or {}).get("approvers", [])) or None
    out = []
    for raw in plan_items:
        item = RemediationItem.from_dict(raw)
        row = RemediationRow(
            resource_address=item.resource_address,
            resource_id=item.resource_id,
            config_rule_name=item.config_rule,
            runbook_name=item.runbook,
            resource_type=item.config_resource_type,
            attributes=item.attributes,
            parameters=item.parameters,
            detected_at=detected_at,
            pre_compliance="NON_COMPLIANT",
        )
        if not approved:
            timed_out = bool(approval and approval.get("timed_out"))
            reason = (approval or {}).get("reason") or "not approved"
            out.append(
                row.evolve(
                    state=RemediationState.FAILED if timed_out else RemediationState.DETECTED,
                    exit_code=EXIT_APPROVAL_TIMEOUT if timed_out else None,
                    note=reason,
                    error_message="approval timed out" if timed_out else None,
                )
            )
            continue
        row = row.evolve(
            state=RemediationState.APPROVED,
            approver=approvers,
            approved_at=_parse_time((approval or {}).get("approved_at")),
        )
        start = starts_by.get(item.item_key)
        if not start:
            out.append(row.evolve(state=RemediationState.FAILED, exit_code=1, error_message="runbook did not start"))
            continue
        row = row.evolve(
            state=RemediationState.EXECUTING,
            automation_execution_id=start["execution_id"],
            started_at=_parse_time(start.get("started_at")),
        )
        outcome = outcomes_by.get(start["execution_id"])
        if not outcome:
            out.append(
                row.evolve(
                    state=RemediationState.FAILED, exit_code=1, error_message="no outcome: the wait did not finish"
                )
            )
            continue
        row = row.evolve(
            finished_at=_parse_time(outcome.get("finished_at")),
            exit_code=outcome["exit_code"],
            note=outcome.get("message"),
        )
        if outcome["state"] != RemediationState.EXECUTING.value:
            out.append(
                row.evolve(
                    state=RemediationState(outcome["state"]),
                    error_message=outcome.get("message"),
                    post_compliance="NON_COMPLIANT",
                )
            )
            continue
        verdicts = [post.get((item.resource_id, a)) for a in item.attributes]
        all_ok = post_rows is not None and all(v is not None and v.verdict is Verdict.OK for v in verdicts)
        resource_clean = (
            reconcile_result is not None
            and (reconcile_result.get("exit_code") == 0 or item.resource_address not in drifted)
            and reconcile_result.get("exit_code") != 1
        )
        if all_ok and resource_clean:
            out.append(row.evolve(state=RemediationState.VERIFIED, post_compliance="COMPLIANT", exit_code=0))
        else:
            why = "attribute still differs after the runbook" if not all_ok else "Terraform reconcile not clean"
            out.append(
                row.evolve(
                    state=RemediationState.FAILED,
                    exit_code=1,
                    error_message=why,
                    post_compliance="NON_COMPLIANT" if not all_ok else None,
                )
            )
    return out


def _mapped_xcoms(ti: Any, task_id: str, key: str = "return_value") -> list[Any]:
    """Every mapped instance's XCom of a task: Airflow 3 pulls all map indexes when none is given (and
    unwraps a single one); nothing when the task was skipped or never ran."""
    values = ti.xcom_pull(task_ids=task_id, key=key)
    if values is None:
        return []
    if isinstance(values, dict):
        return [values]
    return [v for v in values if v]


def recompare_and_finalise(env_name: str, dag_id: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """Detection again (post rows) and the final RemediationRows; all written to the run store."""
    ti = context["ti"]
    run_id = context["run_id"]
    env = load_environment(env_name)
    store = RunStore(env.name, run_id, env.aws_conn_id)
    planned = ti.xcom_pull(task_ids="plan") or {}
    approval = ti.xcom_pull(task_ids="approval_gate")
    if approval is None:  # the gate was skipped: rejected, timed out, or never asked
        from drift_repair.operators.approval import ANSWER_KEY  # noqa: PLC0415

        ids = ["approve", *[f"approve_{i}" for i in range(2, env.approval.required_approvers + 1)]]
        answers = [ti.xcom_pull(task_ids=t, key=ANSWER_KEY) for t in ids]
        if any(answers):
            approval = gate(env.approval.required_approvers, *answers)
    from drift_repair.dag_factory import START_TASK, WAIT_TASK  # noqa: PLC0415

    starts = _mapped_xcoms(ti, START_TASK)
    outcomes = _mapped_xcoms(ti, WAIT_TASK, key="outcome")
    pre_rows = [DiffRow.from_dict(d) for d in store.read_json("pre_rows.json", [])]
    if starts:
        summary = detect(env.name, run_id, "post")
        post_rows = [DiffRow.from_dict(d) for d in store.read_json("post_rows.json", [])]
    else:
        # Nothing was started: AWS is as detected. Say so instead of calling AWS Config again.
        post_rows = pre_rows
        store.write_json("post_rows.json", [r.to_dict() for r in post_rows])
        summary = {
            "phase": "post",
            "verdicts": _count(post_rows),
            "ng": _count(post_rows)["NG"],
            "note": "nothing was started; post = pre",
        }
    reconcile_result = ti.xcom_pull(task_ids="reconcile")
    detected_at = _parse_time(context.get("dag_run").start_date if context.get("dag_run") else None) or datetime.now(
        UTC
    )
    rows = final_rows(
        planned.get("items", []), approval, starts, outcomes, pre_rows, post_rows, reconcile_result, detected_at
    )
    store.write_json("remediations.json", [r.to_dict() for r in rows])
    store.write_json("approval.json", approval)
    store.write_json("outcomes.json", outcomes)
    store.write_json("manual.json", planned.get("manual", []))
    states: dict[str, int] = {}
    for row in rows:
        states[row.state.value] = states.get(row.state.value, 0) + 1
        log.info(
            "%s %s %s: %s (exit %s) %s",
            row.state.value,
            row.resource_address,
            row.runbook_name,
            row.automation_execution_id,
            row.exit_code,
            row.error_message or row.note or "",
        )
    return {
        "post": summary,
        "states": states,
        "remediations": len(rows),
        "ng_before": _count(pre_rows)["NG"],
        "ng_after": _count(post_rows)["NG"],
    }


def _count(rows: Sequence[DiffRow]) -> dict[str, int]:
    return {v.value: sum(1 for r in rows if r.verdict is v) for v in Verdict}


# --------------------------------------------------------------------------- report


def report(env_name: str, dag_id: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """Write the run's evidence (workbook, hashed bundle, upload), the KPI history and the summary."""
    from drift_repair.reports.publish import publish_run_evidence  # noqa: PLC0415

    ti = context["ti"]
    run_id = context["run_id"]
    env = load_environment(env_name)
    store = RunStore(env.name, run_id, env.aws_conn_id)
    final = ti.xcom_pull(task_ids="recompare") or {}
    pre_rows = store.read_json("pre_rows.json", [])
    post_rows = store.read_json("post_rows.json", [])
    rows = [RemediationRow.from_dict(r) for r in store.read_json("remediations.json", [])]
    manual = store.read_json("manual.json", [])
    design = [
        ExpectedValue(
            resource_address=d["resource_address"],
            terraform_type=d["terraform_type"],
            attribute=d["attribute"],
            value=d["value"],
            source=d["source"],
            resource_id=d.get("resource_id"),
        )
        for d in store.read_json("design.json", [])
    ]
    approval = store.read_json("approval.json")
    outcomes = store.read_json("outcomes.json", [])
    published = publish_run_evidence(
        env,
        dag_id=dag_id,
        run_id=run_id,
        design_values=design,
        pre_rows=pre_rows,
        post_rows=post_rows,
        remediation_rows=rows,
        approvals=[approval] if approval else [],
        step_executions={o["execution_id"]: o.get("steps", []) for o in outcomes},
        reconcile=store.read_json("reconcile.json"),
        escalated=[f"{m['resource_id']}|{m['config_rule']}" for m in manual if "loop guard" in m["reason"]],
    ).to_dict()
    summary = {
        "environment": env.name,
        "run_id": run_id,
        "ng_before": _count([DiffRow.from_dict(d) for d in pre_rows])["NG"],
        "ng_after": final.get(
            "ng_after", _count([DiffRow.from_dict(d) for d in post_rows])["NG"] if post_rows else None
        ),
        "remediations": [
            {
                "resource": r.resource_address,
                "runbook": r.runbook_name,
                "state": r.state.value,
                "exit_code": r.exit_code,
                "execution_id": r.automation_execution_id,
            }
            for r in rows
        ],
        "manual": manual,
        "evidence": {
            "local_dir": published["bundle_dir"],
            "s3_url": published["s3_url"],
            "files": published["files"],
            "kpi": published["kpi"],
        },
    }
    log.info("NG before %s -> NG after %s", summary["ng_before"], summary["ng_after"])
    for r in summary["remediations"]:
        log.info("  %-10s %s (%s) exit %s", r["state"], r["resource"], r["runbook"], r["exit_code"])
    log.info("Evidence: %s %s", published["bundle_dir"], published["s3_url"] or "")
    return summary
