"""Run ``terraform plan -refresh-only -detailed-exitcode -json`` and read its result.

The binary is configurable per environment (``terraform.binary``); ``TF_IN_AUTOMATION`` and
``-input=false`` keep Terraform from ever prompting. Output is streamed to the log line by line so the task
log shows progress, and parsed by :func:`drift_repair.core.reconcile.parse_plan_output`.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from drift_repair.core.errors import ConfigurationError
from drift_repair.core.reconcile import ReconcileResult, parse_plan_output

log = logging.getLogger(__name__)


def refresh_only_plan(working_dir: str | Path, binary: str = "terraform", timeout: float = 1800) -> ReconcileResult:
    exe = shutil.which(binary) or (binary if Path(binary).is_file() else None)
    if exe is None:
        raise ConfigurationError(binary, "Terraform binary not found (terraform.binary in the environment file)")
    cwd = Path(working_dir)
    if not cwd.is_dir():
        raise ConfigurationError(cwd, "Terraform working directory does not exist")
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}
    cmd = [exe, "plan", "-refresh-only", "-detailed-exitcode", "-json", "-input=false", "-lock-timeout=60s"]
    log.info("Running %s in %s", " ".join(cmd), cwd)
    lines: list[str] = []
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout or ():
            lines.append(line)
            log.info("terraform: %s", line.rstrip())
        code = proc.wait(timeout=timeout)
    result = parse_plan_output(lines, code)
    log.info(
        "terraform plan -refresh-only exit %s: %s drifted, %s diagnostics",
        result.exit_code,
        len(result.drifted),
        len(result.diagnostics),
    )
    return result
