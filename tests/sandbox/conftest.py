"""Fixtures for the sandbox's Config and control tests: a clean sandbox per test, Config turned on, clients.

Most tests talk to the session's sandbox (a child process, tests/conftest.py). Remediation tests need an
SSM Automation engine they control: ``local_sandbox`` serves the same application in this process, on a
real HTTP port, with a fake engine in ``app.services["ssm_automation"]`` (the in-process interface the
runbook engine offers Config).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from config_support import Clients, FakeAutomationEngine, LocalSandbox, clients_for, start_recorder


@pytest.fixture
def sb(sandbox: Any) -> Any:
    """The session sandbox, emptied: no resources, no Config, no record, no faults, quotas off."""
    sandbox.reset()
    return sandbox


@pytest.fixture
def aws(sb: Any) -> Clients:
    """Clients on a clean sandbox whose Config recorder is on."""
    clients = clients_for(sb)
    start_recorder(clients.config, clients.s3)
    return clients


@pytest.fixture(scope="module")
def local_sandbox() -> Iterator[LocalSandbox]:
    local = LocalSandbox()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def engine(local_sandbox: LocalSandbox) -> Iterator[FakeAutomationEngine]:
    local_sandbox.reset()
    fake = FakeAutomationEngine({"DriftRepair-S3-EnableVersioning"})
    previous = local_sandbox.app.services.get("ssm_automation")
    local_sandbox.app.services["ssm_automation"] = fake
    try:
        yield fake
    finally:
        local_sandbox.admin("POST", "/config/remediation", {"paused": False})
        if previous is None:
            local_sandbox.app.services.pop("ssm_automation", None)
        else:
            local_sandbox.app.services["ssm_automation"] = previous


@pytest.fixture
def local_aws(local_sandbox: LocalSandbox, engine: FakeAutomationEngine) -> Clients:
    clients = clients_for(local_sandbox)
    start_recorder(clients.config, clients.s3)
    return clients
