"""End to end: real Airflow (api-server, scheduler, dag-processor, triggerer; SQLite, LocalExecutor) and the
sandbox, driven through the REST API exactly as `make demo` does. One stack per session; each test resets
the sandbox and seeds its own drift."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from stack import Stack, free_port  # noqa: E402

DAG = "drift_repair__dev"
APPROVAL_TIMEOUT_SECONDS = 20


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("stack")
    st = Stack(
        home=home,
        sandbox_port=free_port(),
        api_port=free_port(),
        parallelism=4,
        quiet=True,
        extra_env={
            "DRIFT_REPAIR_APPROVAL_TIMEOUT_SECONDS": str(APPROVAL_TIMEOUT_SECONDS),
            "SANDBOX_SSM_TIME_SCALE": "1",
        },
    )
    try:
        st.start_sandbox()
        st.sandbox_admin("POST", "/reset", {})
        st.seed("dev", 0)  # the DAG file needs a plan to exist before the first parse
        st.start_airflow()
        st.ensure_pools()
        st.wait_for_dag(DAG)
        yield st
    finally:
        st.stop()


class World:
    """A fresh sandbox estate with chosen drift, and helpers to read what happened in it."""

    def __init__(self, stack: Stack, drifted: list[str], seed_output: str) -> None:
        self.stack = stack
        self.drifted = drifted
        self.seed_output = seed_output
        self.started = time.time()

    def calls(self, **filters: str) -> list[dict[str, Any]]:
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        return list(self.stack.sandbox_admin("GET", f"/calls?{query}")["calls"])

    def executions(self) -> list[dict[str, Any]]:
        import boto3

        ssm = boto3.client(
            "ssm",
            endpoint_url=self.stack.sandbox_url,
            region_name="ap-northeast-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        return list(ssm.describe_automation_executions()["AutomationExecutionMetadataList"])

    def run(self, conf: dict[str, Any] | None = None) -> str:
        return self.stack.trigger(DAG, conf or {})

    def approve(self, run_id: str, approve: bool = True, user: str = "admin") -> None:
        self.stack.wait_for_task(DAG, run_id, "approve", ["awaiting_input"], timeout=180)
        self.stack.answer(DAG, run_id, "approve", approve, user, "e2e")

    def finish(self, run_id: str, timeout: float = 600) -> dict[str, Any]:
        state = self.stack.wait_for_run(DAG, run_id, timeout)
        summary = self.stack.xcom(DAG, run_id, "report")
        summary["_state"] = state
        summary["_tasks"] = self.stack.task_states(DAG, run_id)
        return summary


@pytest.fixture
def world(stack: Stack, request: pytest.FixtureRequest) -> World:
    """``@pytest.mark.drift("attr", ...)`` chooses the drifted attributes (default: three with runbooks)."""
    marker = request.node.get_closest_marker("drift")
    attributes = list(marker.args) if marker else ["versioning", "block_public_policy", "enable_key_rotation"]
    stack.sandbox_admin("POST", "/reset", {})
    for folder in ("evidence",):  # earlier tests' history must not trip the loop guard
        shutil.rmtree(stack.home / folder, ignore_errors=True)
    out = stack.seed("dev", len(attributes), ["--drift-attributes", ",".join(attributes)])
    stack.sandbox_admin("DELETE", "/calls", {})
    return World(stack, attributes, out)
