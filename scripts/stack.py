"""The local stack: the sandbox (local AWS) and Airflow (SQLite, LocalExecutor), started and stopped by PID.

    python scripts/stack.py demo   # everything, one run of drift_repair__dev approved by a demo approver, stop
    python scripts/stack.py up     # sandbox + Airflow kept running for the browser (prints URL and login)
    python scripts/stack.py down   # stop what `up` started

Used by the Makefile and by the end-to-end tests (tests/e2e), which drive the same class. Every process is
started in its own session and stopped by process group (SIGTERM, then SIGKILL for LocalExecutor workers),
so nothing outlives the stack. Airflow talks to the sandbox through its AWS connections
(``AIRFLOW_CONN_AWS_<ENV>`` with the sandbox endpoint); nothing can reach real AWS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
USERS = {"admin": "admin", "platform-lead": "lead-pass", "security-officer": "security-pass", "sre-oncall": "sre-pass"}
ENVIRONMENTS = ("dev", "stg", "prod")
ANSWER_SETTLE_SECONDS = 6


class StackError(RuntimeError):
    pass


class Stack:
    def __init__(
        self,
        home: Path | None = None,
        sandbox_port: int = 4566,
        api_port: int = 8080,
        parallelism: int = 4,
        extra_env: dict[str, str] | None = None,
        quiet: bool = False,
    ) -> None:
        self.home = Path(home or ROOT / "var" / "stack")
        self.sandbox_port = sandbox_port
        self.api_port = api_port
        self.parallelism = parallelism
        self.extra_env = extra_env or {}
        self.quiet = quiet
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._tokens: dict[str, str] = {}

    # ------------------------------------------------------------------ environment

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        airflow_home = self.home / "airflow"
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'plugins'}{os.pathsep}{ROOT}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "ap-northeast-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "DRIFT_REPAIR_ENDPOINT_URL": self.sandbox_url,
            "DRIFT_REPAIR_VAR_DIR": str(self.home / "var"),
            "DRIFT_REPAIR_EVIDENCE_DIR": str(self.home / "evidence"),
            "DRIFT_REPAIR_DISABLE_SCHEDULES": "1",
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:admin" for u in USERS),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(airflow_home / "passwords.json"),
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
        for name in ENVIRONMENTS:
            env[f"AIRFLOW_CONN_AWS_{name.upper()}"] = json.dumps(
                {
                    "conn_type": "aws",
                    "login": "testing",
                    "password": "testing",
                    "extra": {"endpoint_url": self.sandbox_url, "region_name": "ap-northeast-1"},
                }
            )
            seeded = self.home / "var" / "sandbox" / name / "plan.json"
            env[f"DRIFT_REPAIR_{name.upper()}_PLAN_JSON"] = str(seeded)
        env.update(self.extra_env)
        return env

    def log(self, message: str) -> None:
        if not self.quiet:
            print(message, flush=True)

    # ------------------------------------------------------------------ processes

    def _start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        out = (logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            args, cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        (self.home / "pids").mkdir(exist_ok=True)
        (self.home / "pids" / f"{name}.pid").write_text(str(proc.pid))
        return proc

    def start_sandbox(self) -> None:
        self.log(f"starting the sandbox (local AWS) on {self.sandbox_url}")
        self._start("sandbox", [PY, "-m", "sandbox", "serve", "--port", str(self.sandbox_port)])
        self._wait(lambda: _http_ok(f"{self.sandbox_url}/_sandbox/health"), 30, "sandbox")

    def seed(
        self, environment: str = "dev", drift: int = 3, extra: Iterable[str] = (), plan: Path | None = None
    ) -> str:
        """Seed an environment; ``plan`` seeds another estate than the environment's own (benchmarks)."""
        self.log(f"seeding {environment} in the sandbox with {drift} drifted attributes")
        # The seed reads the environment's own plan and writes the copy with the sandbox's ids, which the DAGs
        # then read (DRIFT_REPAIR_<ENV>_PLAN_JSON): that override must not apply to the seed itself.
        env = {k: v for k, v in self.env().items() if not (k.startswith("DRIFT_REPAIR_") and k.endswith("_PLAN_JSON"))}
        if plan is not None:
            env[f"DRIFT_REPAIR_{environment.upper()}_PLAN_JSON"] = str(plan)
        cmd = [PY, "-m", "sandbox", "seed", "--env", environment, "--drift", str(drift), "--endpoint", self.sandbox_url]
        out = subprocess.run([*cmd, *extra], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            raise StackError(f"seed failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def start_airflow(self, components: Iterable[str] = AIRFLOW_COMPONENTS) -> None:
        airflow_home = self.home / "airflow"
        airflow_home.mkdir(parents=True, exist_ok=True)
        (airflow_home / "passwords.json").write_text(json.dumps(USERS))
        if not (airflow_home / "airflow.db").exists():
            self.log("initialising the Airflow metadata database (SQLite)")
            subprocess.run(
                [PY, "-m", "airflow", "db", "migrate"],
                cwd=ROOT,
                env=self.env(),
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        for component in components:
            self.start_component(component)
        self._wait(lambda: _http_ok(f"{self.api_url}/api/v2/monitor/health"), 120, "Airflow api-server")

    def start_component(self, component: str) -> None:
        self.log(f"starting airflow {component}")
        self._start(component, [PY, "-m", "airflow", component])

    def stop_component(self, name: str, kill: bool = False) -> None:
        pid_file = self.home / "pids" / f"{name}.pid"
        proc = self.procs.pop(name, None)
        pid = proc.pid if proc else (int(pid_file.read_text()) if pid_file.exists() else None)
        if pid is None:
            return
        _stop_group(pid, kill)
        if proc:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _stop_group(pid, True)
        pid_file.unlink(missing_ok=True)

    def stop(self) -> None:
        names = (
            {*self.procs, *(p.stem for p in (self.home / "pids").glob("*.pid"))}
            if (self.home / "pids").exists()
            else set(self.procs)
        )
        for name in sorted(names, key=lambda n: n == "sandbox"):  # Airflow first, the sandbox last
            self.stop_component(name)

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise StackError(f"{name} exited with {proc.returncode}; see {self.home / 'logs' / name}.log")
            time.sleep(0.5)
        raise StackError(f"{what} not ready after {timeout:.0f}s; logs in {self.home / 'logs'}")

    # ------------------------------------------------------------------ REST API

    def token(self, user: str = "admin") -> str:
        if user not in self._tokens:
            body = json.dumps({"username": user, "password": USERS[user]}).encode()
            req = urllib.request.Request(
                f"{self.api_url}/auth/token", data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(req, timeout=30) as resp:
                self._tokens[user] = json.loads(resp.read())["access_token"]
        return self._tokens[user]

    def api(self, method: str, path: str, body: Any = None, user: str = "admin") -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.api_url}/api/v2{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token(user)}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise StackError(f"{method} {path}: HTTP {exc.code} {exc.read().decode(errors='replace')}") from None
        return json.loads(raw) if raw else None

    def ensure_pools(self) -> None:
        sys.path.insert(0, str(ROOT / "plugins"))
        from drift_repair.core.environment import load_environment  # noqa: PLC0415
        from drift_repair.dag_factory import pool_slots  # noqa: PLC0415

        for name in ENVIRONMENTS:
            env = load_environment(name)
            pool = f"drift_repair_ssm_start_{name}"
            slots = pool_slots(env)
            try:
                self.api("GET", f"/pools/{pool}")
                self.api("PATCH", f"/pools/{pool}", {"name": pool, "slots": slots})
            except StackError:
                self.api(
                    "POST",
                    "/pools",
                    {"name": pool, "slots": slots, "description": "StartAutomationExecution quota (1 request/s)"},
                )

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        def parsed() -> bool:
            try:
                self.api("GET", f"/dags/{dag_id}")
                return True
            except StackError:
                return False

        self._wait(parsed, timeout, f"DAG {dag_id} parsed")

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        self.api("PATCH", f"/dags/{dag_id}", {"is_paused": False})
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        run = self.api("POST", f"/dags/{dag_id}/dagRuns", body)
        return str(run["dag_run_id"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, list[str | None]]:
        out: dict[str, list[str | None]] = {}
        data = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=500")
        for ti in data["task_instances"]:
            out.setdefault(ti["task_id"], []).append(ti["state"])
        return out

    def wait_for_task(self, dag_id: str, run_id: str, task_id: str, states: Iterable[str], timeout: float = 300) -> str:
        wanted = set(states)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            task_states = self.task_states(dag_id, run_id).get(task_id, [])
            last = task_states[0] if task_states else None
            if last in wanted:
                return last
            run_state = self.run_state(dag_id, run_id)
            if run_state in ("success", "failed") and last not in wanted:
                raise StackError(f"run {run_id} ended {run_state} while {task_id} is {last}")
            time.sleep(1)
        raise StackError(f"{task_id} still {last} after {timeout:.0f}s")

    def answer(
        self, dag_id: str, run_id: str, task_id: str, approve: bool, user: str = "admin", comment: str = ""
    ) -> Any:
        # Airflow 3.3 race: an answer that lands before the scheduler has processed the executor's event for
        # the parked task (about a scheduler loop after `awaiting_input`) makes the scheduler see a state
        # "changed externally" and fail the approval. People never answer that fast; scripts wait.
        time.sleep(ANSWER_SETTLE_SECONDS)
        body = {"chosen_options": ["Approve" if approve else "Reject"], "params_input": {"comment": comment}}
        return self.api(
            "PATCH", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails", body, user=user
        )

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            if state in ("success", "failed"):
                return state
            time.sleep(2)
        raise StackError(f"run {run_id} not finished after {timeout:.0f}s: {self.task_states(dag_id, run_id)}")

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}?map_index={map_index}"
        return self.api("GET", path)["value"]

    def sandbox_admin(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.sandbox_url}/_sandbox{path}", data=data, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")


def free_port() -> int:
    """A TCP port nobody listens on right now (tests and benchmarks run stacks beside `make up`)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop_group(pid: int, kill: bool) -> None:
    try:
        os.killpg(pid, signal.SIGKILL if kill else signal.SIGTERM)
    except ProcessLookupError:
        return
    if kill:
        return
    for _ in range(40):
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.25)
    with contextlib.suppress(ProcessLookupError):  # LocalExecutor workers may ignore SIGTERM
        os.killpg(pid, signal.SIGKILL)


# ---------------------------------------------------------------------- commands


def fresh_home() -> Path:
    """The sandbox starts empty every time: so does everything that remembers it (Airflow's database, the
    remediation history the loop guard reads). A second `make demo` is the same demo, not a repeat repair."""
    home = ROOT / "var" / "stack"
    Stack(home=home).stop()
    shutil.rmtree(home, ignore_errors=True)
    return home


def demo(args: argparse.Namespace) -> int:
    stack = Stack(home=fresh_home(), sandbox_port=args.sandbox_port, api_port=args.api_port)
    dag_id = "drift_repair__dev"
    try:
        stack.start_sandbox()
        print(stack.seed("dev", args.drift))
        stack.start_airflow()
        stack.ensure_pools()
        stack.wait_for_dag(dag_id)
        run_id = stack.trigger(dag_id, {"change_ticket": "DEMO-1"})
        print(f"triggered {dag_id} run {run_id}: {stack.api_url}/dags/{dag_id}/runs/{run_id}")
        stack.wait_for_task(dag_id, run_id, "approve", ["awaiting_input", "skipped"], timeout=300)
        if stack.task_states(dag_id, run_id)["approve"][0] == "awaiting_input":
            details = stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/hitlDetails")["hitl_details"][0]
            print("\n--- approval request (Required Actions in the Airflow UI) ---")
            print(details["subject"])
            print(details["body"])
            print("--- DEMO APPROVER: user 'admin' approves automatically through the REST API (demo only) ---\n")
            stack.answer(dag_id, run_id, "approve", True, "admin", "demo approval")
        state = stack.wait_for_run(dag_id, run_id, timeout=900)
        summary = stack.xcom(dag_id, run_id, "report")
        print_summary(summary, state)
        return 0 if state == "success" and summary.get("ng_after") == 0 else 1
    except StackError as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()


def print_summary(summary: dict[str, Any], state: str) -> None:
    print(f"\n=== drift_repair__{summary.get('environment')} run {summary.get('run_id')}: {state} ===")
    print(f"NG before: {summary.get('ng_before')}  ->  NG after: {summary.get('ng_after')}")
    for r in summary.get("remediations", []):
        print(f"  {r['state']:<12} {r['resource']}  ({r['runbook']}, exit {r['exit_code']}, {r['execution_id']})")
    for m in summary.get("manual", []):
        print(f"  MANUAL       {m['resource_address']} {', '.join(m['attributes'])}: {m['reason']}")
    evidence = summary.get("evidence", {})
    print(f"evidence: {evidence.get('local_dir')}  (drift-report.xlsx, manifest.json, ...)")
    print(f"  verify: python -m drift_repair evidence verify {evidence.get('local_dir')}")
    for key in ("workbook", "s3_url"):
        if evidence.get(key):
            print(f"  {key}: {evidence[key]}")


def up(args: argparse.Namespace) -> int:
    stack = Stack(home=fresh_home(), sandbox_port=args.sandbox_port, api_port=args.api_port)
    try:
        stack.start_sandbox()
        print(stack.seed("dev", args.drift))
        stack.start_airflow()
        stack.ensure_pools()
        for name in ENVIRONMENTS:  # schedules are off in the local stack: unpausing only lets runs start
            stack.wait_for_dag(f"drift_repair__{name}")
            stack.api("PATCH", f"/dags/drift_repair__{name}", {"is_paused": False})
    except StackError as exc:
        stack.stop()
        print(f"up failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"\nAirflow: {stack.api_url}  (login admin / admin; approvers: "
        + ", ".join(f"{u} / {p}" for u, p in USERS.items() if u != "admin")
        + ")"
    )
    print(f"Sandbox (local AWS): {stack.sandbox_url}")
    print("Trigger drift_repair__dev in the UI, approve it under Required Actions. `make down` stops everything.")
    return 0


def down(_args: argparse.Namespace) -> int:
    Stack().stop()
    print("stopped")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("demo", "up", "down"))
    parser.add_argument("--drift", type=int, default=3, help="attributes to drift in the sandbox (default 3)")
    parser.add_argument("--sandbox-port", type=int, default=int(os.environ.get("SANDBOX_PORT", "4566")))
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")))
    args = parser.parse_args()
    return {"demo": demo, "up": up, "down": down}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
