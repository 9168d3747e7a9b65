"""Shared fixtures. Tests never reach real AWS: fake credentials, and every endpoint pinned to the sandbox."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Before anything imports boto3: no real credentials, no real endpoints, no instance metadata lookups.
for _var in (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
):
    os.environ.pop(_var, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "ap-northeast-1"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
# Anything that forgets to pass an endpoint still lands on a closed local port, never on AWS.
os.environ.setdefault("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
# Airflow and the loop write only into a throw-away directory.
_SCRATCH = Path(tempfile.mkdtemp(prefix="drift-repair-tests-"))
os.environ.setdefault("AIRFLOW_HOME", str(_SCRATCH / "airflow"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("DRIFT_REPAIR_VAR_DIR", str(_SCRATCH / "var"))
os.environ.setdefault("DRIFT_REPAIR_EVIDENCE_DIR", str(_SCRATCH / "evidence"))
os.environ.setdefault("TF_CLI_CONFIG_FILE", str(_SCRATCH / "terraformrc"))
(_SCRATCH / "terraformrc").write_text("")


class Sandbox:
    """A running sandbox server (a real HTTP server in a child process)."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url

    def client(self, service: str, **kwargs: object):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=kwargs.pop("region_name", "ap-northeast-1"),
            aws_access_key_id=kwargs.pop("aws_access_key_id", "testing"),
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
            **kwargs,
        )

    def admin(self, method: str, path: str, body: dict | None = None) -> object:
        import json

        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/_sandbox{path}", data=data, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def reset(self) -> None:
        """Forget every resource and record (admin endpoint POST /_sandbox/reset)."""
        self.admin("POST", "/reset", {})


def start_sandbox(extra_env: dict[str, str] | None = None) -> Sandbox:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'plugins'}{os.pathsep}{REPO}", **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--port", "0", "--log-level", "WARNING"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    url = None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = re.search(r"ready on (http://\S+)", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        proc.kill()
        raise RuntimeError("sandbox did not start")
    return Sandbox(proc, url)


def stop_sandbox(sandbox: Sandbox) -> None:
    sandbox.proc.send_signal(signal.SIGTERM)
    try:
        sandbox.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        sandbox.proc.kill()
        sandbox.proc.wait()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """One sandbox server for the test session; tests that change state reset it or use unique names."""
    sb = start_sandbox()
    try:
        yield sb
    finally:
        stop_sandbox(sb)
