"""SSM Automation for the sandbox: the execution API, the runbook engine and the AWS-owned runbooks.

moto implements SSM documents but none of Automation's execution API. ``install(app)`` adds it:

    engine.py         runs schemaVersion '0.3' runbooks step by step (threads; control flow; statuses)
    actions.py        the actions: executeAwsApi, assert/waitForAwsResourceProperty, executeScript, branch,
                      approve, pause, sleep (anything else fails its step)
    awsapi.py         the steps' AWS calls, through the sandbox's own endpoint
    script_host.py    the child process an aws:executeScript handler runs in
    api.py            StartAutomationExecution, GetAutomationExecution, DescribeAutomationExecutions,
                      DescribeAutomationStepExecutions, SendAutomationSignal, StopAutomationExecution
    documents.py      AWS-owned documents (aws_documents/*.yaml) in every moto SSM backend, Owner Amazon;
                      Automation content AWS refuses is refused at CreateDocument / UpdateDocument
    clock.py          time, with a scale so tests can shorten sleeps and timeouts

The runbook model itself (parsing, references, parameter and output rules) is the project's pure core,
``drift_repair.core.runbook`` and ``drift_repair.core.runbook_eval``, shared with ``runbook lint``.

Other parts of the sandbox use the engine through ``app.services["ssm_automation"]``:
``start_execution(ctx, document_name, parameters, document_version=None, client_token=None) -> id`` and
``get_execution(execution_id) -> AutomationExecution dict``; both raise AwsError as the API would.
"""

from __future__ import annotations

from typing import Any

from sandbox import moto_fixes
from sandbox.server import SandboxApp
from sandbox.ssm import api, documents
from sandbox.ssm.engine import AutomationEngine

__all__ = ["AutomationEngine", "install"]


def install(app: SandboxApp) -> None:
    documents.install_amazon_documents()
    documents.install_creation_checks(app)
    moto_fixes.apply()  # unique DbiResourceIds: the AWS-owned RDS runbooks look instances up by them
    engine = AutomationEngine(endpoint=lambda: app.self_url)
    api.register(app, engine)
    app.services["ssm_automation"] = engine
    app.reset_hooks.append(engine.reset)

    def clock(body: dict[str, Any]) -> tuple[int, Any]:
        """GET/POST /_sandbox/ssm/clock: read or set the time scale of sleeps and timeouts."""
        if "scale" in body:
            previous = engine.clock.scale
            engine.clock.scale = float(body["scale"])
            return 200, {"scale": engine.clock.scale, "previous": previous}
        return 200, {"scale": engine.clock.scale}

    app.admin("GET", "/ssm/clock", clock)
    app.admin("POST", "/ssm/clock", clock)
