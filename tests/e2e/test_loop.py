"""The closed loop in real Airflow against the sandbox: approve, reject, timeout, rollback, restart, dry run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import DAG, REPO, World

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.timeout(900)]


def repairs(world: World) -> list[dict]:
    """Mutating calls that could change the estate: everything but the evidence the report writes (bundle,
    KPI history in the evidence bucket) and the notifications it sends (SNS Publish)."""
    evidence = [
        c for c in world.calls() if any("drift-repair-evidence" in (r.get("id") or "") for r in c.get("resources", []))
    ]
    return [c for c in world.calls() if c not in evidence and c.get("service") != "sns"]


def test_approved_drift_is_repaired_verified_and_reported(world: World) -> None:
    run_id = world.run({"change_ticket": "CHG-42"})
    world.approve(run_id)
    summary = world.finish(run_id)
    assert summary["_state"] == "success", summary["_tasks"]
    assert summary["ng_before"] == 3 and summary["ng_after"] == 0
    assert [r["state"] for r in summary["remediations"]] == ["VERIFIED"] * 3
    assert all(r["exit_code"] == 0 for r in summary["remediations"])
    # each runbook's aws:approve step was answered with the approver's name and the run
    signals = world.calls(operation="SendAutomationSignal")
    assert len(signals) == 3
    assert all("approved by" in json.dumps(s.get("parameters", {})) for s in signals)
    # the evidence verifies
    bundle = Path(summary["evidence"]["local_dir"])
    assert (bundle / "manifest.json").is_file()
    verify = subprocess.run(
        [sys.executable, "-m", "drift_repair", "evidence", "verify", str(bundle)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": f"{REPO / 'plugins'}:{REPO}", "PATH": "/usr/bin:/bin"},
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.drift("versioning", "enable_key_rotation")
def test_rejected_approval_changes_nothing(world: World) -> None:
    run_id = world.run()
    world.approve(run_id, approve=False)
    summary = world.finish(run_id)
    assert summary["_state"] == "success"
    assert summary["_tasks"]["remediate.start_remediation"] in ([None], ["skipped"], ["upstream_failed"])
    assert world.executions() == []
    assert repairs(world) == []
    assert summary["ng_after"] == summary["ng_before"] == 2


@pytest.mark.drift("versioning")
def test_approval_timeout_changes_nothing(world: World) -> None:
    run_id = world.run()
    world.stack.wait_for_task(DAG, run_id, "approve", ["awaiting_input"], timeout=180)
    summary = world.finish(run_id)  # nobody answers: Airflow applies the default (Reject) after the timeout
    assert world.executions() == [] and repairs(world) == []
    assert summary["ng_after"] == 1
    approvals = json.loads((Path(summary["evidence"]["local_dir"]) / "approvals.json").read_text())
    assert approvals[0]["timed_out"] is True


@pytest.mark.drift("versioning")
def test_runbook_failure_rolls_back(world: World) -> None:
    world.stack.sandbox_admin(
        "POST", "/faults", {"operation": "PutBucketVersioning", "error": "InternalError", "status": 500, "count": None}
    )
    try:
        run_id = world.run()
        world.approve(run_id)
        summary = world.finish(run_id)
    finally:
        world.stack.sandbox_admin("DELETE", "/faults", {})
    assert [(r["state"], r["exit_code"]) for r in summary["remediations"]] == [("ROLLED_BACK", 2)]
    assert summary["ng_after"] == 1
    assert summary["_tasks"]["remediate.wait_remediation"] == ["failed"]


@pytest.mark.drift("versioning", "enable_key_rotation")
def test_scheduler_and_triggerer_restart_during_the_wait(world: World) -> None:
    stack = world.stack
    # slow the change down so the runbooks are still running while the processes go away
    stack.sandbox_admin("POST", "/faults", {"operation": "PutBucketVersioning", "latency_ms": 20000, "count": 1})
    stack.sandbox_admin("POST", "/faults", {"operation": "EnableKeyRotation", "latency_ms": 20000, "count": 1})
    run_id = world.run()
    world.approve(run_id)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        states = stack.task_states(DAG, run_id).get("remediate.wait_remediation", [])
        if states and all(s == "deferred" for s in states):
            break
        time.sleep(1)
    else:
        pytest.fail(f"the waits never deferred: {stack.task_states(DAG, run_id)}")
    for component in ("triggerer", "scheduler"):
        stack.stop_component(component, kill=True)
    time.sleep(3)
    for component in ("scheduler", "triggerer"):
        stack.start_component(component)
    summary = world.finish(run_id)
    assert summary["_state"] == "success", summary["_tasks"]
    assert [r["state"] for r in summary["remediations"]] == ["VERIFIED", "VERIFIED"]
    executions = world.executions()
    assert len(executions) == 2  # each resource started exactly once
    assert len({e["DocumentName"] for e in executions}) == 2


@pytest.mark.drift("versioning", "enable_key_rotation")
def test_dry_run_changes_nothing(world: World) -> None:
    summary = world.finish(world.run({"dry_run": True}))
    assert summary["_state"] == "success"
    assert summary["_tasks"]["approve"] == ["skipped"]
    assert world.executions() == [] and repairs(world) == []
    assert summary["ng_before"] == summary["ng_after"] == 2
