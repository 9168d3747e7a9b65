"""Helpers for the SSM Automation tests: create runbooks under unique names, run them, wait for statuses.

Imported by the tests/sandbox/test_ssm_*.py modules (pytest puts this directory on sys.path). Tests never
depend on POST /_sandbox/reset: every document, bucket and execution has a unique name.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import yaml

TERMINAL = ("Success", "Failed", "TimedOut", "Cancelled")
ROLE = "arn:aws:iam::123456789012:role/AutomationRole"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Runbooks:
    """Runbook runner against the sandbox, through boto3 only."""

    def __init__(self, sandbox: Any, **client_kwargs: Any) -> None:
        self.sandbox = sandbox
        self.ssm = sandbox.client("ssm", **client_kwargs)

    def create(self, doc: dict[str, Any] | str, prefix: str = "Test") -> str:
        name = unique(prefix)
        content = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
        self.ssm.create_document(Content=content, Name=name, DocumentType="Automation", DocumentFormat="YAML")
        return name

    def start(self, name: str, params: dict[str, Any] | None = None, **kwargs: Any) -> str:
        parameters = {k: v if isinstance(v, list) else [str(v)] for k, v in (params or {}).items()}
        request: dict[str, Any] = {"DocumentName": name, **kwargs}
        if parameters:
            request["Parameters"] = parameters
        return str(self.ssm.start_automation_execution(**request)["AutomationExecutionId"])

    def get(self, execution_id: str) -> dict[str, Any]:
        execution: dict[str, Any] = self.ssm.get_automation_execution(AutomationExecutionId=execution_id)[
            "AutomationExecution"
        ]
        return execution

    def wait(self, execution_id: str, statuses: Iterable[str] = TERMINAL, timeout: float = 60) -> dict[str, Any]:
        """Poll until the execution's status is one of ``statuses``; fail the test after ``timeout`` seconds."""
        wanted = tuple(statuses)
        deadline = time.monotonic() + timeout
        while True:
            execution = self.get(execution_id)
            if execution["AutomationExecutionStatus"] in wanted:
                return execution
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"execution {execution_id} still {execution['AutomationExecutionStatus']}, wanted {wanted}: "
                    f"{steps_status(execution)}"
                )
            time.sleep(0.05)

    def wait_step(self, execution_id: str, step: str, statuses: Iterable[str], timeout: float = 60) -> dict[str, Any]:
        wanted = tuple(statuses)
        deadline = time.monotonic() + timeout
        while True:
            execution = self.get(execution_id)
            if step_of(execution, step)["StepStatus"] in wanted:
                return execution
            if time.monotonic() > deadline:
                raise AssertionError(f"step {step} of {execution_id}: {steps_status(execution)}, wanted {wanted}")
            time.sleep(0.05)

    def run(
        self, doc: dict[str, Any] | str, params: dict[str, Any] | None = None, timeout: float = 60
    ) -> dict[str, Any]:
        return self.wait(self.start(self.create(doc), params), timeout=timeout)

    @contextmanager
    def time_scale(self, scale: float) -> Iterator[None]:
        """Run the block with every engine wait (sleep, timeouts, polling) multiplied by ``scale``."""
        previous = self.sandbox.admin("POST", "/ssm/clock", {"scale": scale})["previous"]
        try:
            yield
        finally:
            self.sandbox.admin("POST", "/ssm/clock", {"scale": previous})


def step_of(execution: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in execution["StepExecutions"] if s["StepName"] == name)
    return found


def steps_status(execution: dict[str, Any]) -> dict[str, str]:
    return {s["StepName"]: s["StepStatus"] for s in execution["StepExecutions"]}


def runbook(*steps: dict[str, Any], parameters: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    """A schemaVersion 0.3 runbook from steps (dicts as written in YAML)."""
    doc: dict[str, Any] = {"schemaVersion": "0.3", "description": "sandbox test runbook", **top}
    if parameters:
        doc["parameters"] = parameters
    doc["mainSteps"] = list(steps)
    return doc


def sleep_step(name: str, duration: str = "PT0S", **extra: Any) -> dict[str, Any]:
    return {"name": name, "action": "aws:sleep", "inputs": {"Duration": duration}, **extra}


def script_step(name: str, script: str, handler: str = "handler", payload: Any = None, **extra: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {"Runtime": "python3.11", "Handler": handler, "Script": script}
    if payload is not None:
        inputs["InputPayload"] = payload
    return {"name": name, "action": "aws:executeScript", "inputs": inputs, **extra}


def api_step(name: str, service: str, api: str, **params: Any) -> dict[str, Any]:
    extra = {k: params.pop(k) for k in list(params) if k[0].islower()}  # step fields: outputs, onFailure, ...
    return {"name": name, "action": "aws:executeAwsApi", "inputs": {"Service": service, "Api": api, **params}, **extra}
