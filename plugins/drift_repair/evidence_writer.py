"""Interim evidence writer: the run's JSON files and a SHA-256 manifest under the evidence directory.

Replaced by drift_repair.reports (Excel workbook, bundle upload, KPI history) when that lands.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from drift_repair.core.environment import EnvironmentConfig
from drift_repair.runstore import RunStore, var_dir

FILES = (
    "pre_rows.json",
    "post_rows.json",
    "design.json",
    "plan.json",
    "approval.json",
    "outcomes.json",
    "reconcile.json",
    "remediations.json",
    "manual.json",
)


def write_run_evidence(
    env: EnvironmentConfig, dag_id: str, run_id: str, store: RunStore, params: dict[str, Any]
) -> dict[str, Any]:
    base = Path(env.evidence_dir)
    root = (base if base.is_absolute() else var_dir().parent / base) / env.name / run_id.replace(":", "_")
    root.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name in FILES:
        value = store.read_json(name)
        if value is None:
            continue
        data = json.dumps(value, ensure_ascii=False, indent=1, default=str).encode()
        (root / name).write_bytes(data)
        manifest[name] = hashlib.sha256(data).hexdigest()
    (root / "run.json").write_text(json.dumps({"dag_id": dag_id, "run_id": run_id, "params": params}, indent=1))
    manifest["run.json"] = hashlib.sha256((root / "run.json").read_bytes()).hexdigest()
    (root / "manifest.json").write_text(json.dumps({"files": manifest}, indent=1))
    return {"local_dir": str(root), "files": sorted(manifest)}
