"""Where one DAG run keeps its working files (pre/post DiffRows, plan, outcomes): XCom stays small.

A run's files live under ``<DRIFT_REPAIR_STATE_URL>/<env>/<run_id>/`` as an Airflow ObjectStoragePath, so
the same code writes to the local disk (``file://``, the default under ``var/runs``; on a multi-host
Celery deployment a shared volume) or to S3 (``s3://bucket/prefix``, through the environment's AWS
connection).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from drift_repair.core.environment import REPO_ROOT


def var_dir() -> Path:
    """Local working data (runs, history, evidence) — ``DRIFT_REPAIR_VAR_DIR`` or ``<repo>/var``."""
    return Path(os.environ.get("DRIFT_REPAIR_VAR_DIR") or REPO_ROOT / "var")


def _safe(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-+]", "_", run_id)


class RunStore:
    def __init__(self, environment: str, run_id: str, conn_id: str | None = None, base_url: str | None = None):
        from airflow.sdk import ObjectStoragePath  # noqa: PLC0415 - keep the CLI importable without Airflow

        base = base_url or os.environ.get("DRIFT_REPAIR_STATE_URL") or (var_dir() / "runs").as_uri()
        self.environment = environment
        self.run_id = run_id
        self.root = ObjectStoragePath(
            f"{base.rstrip('/')}/{environment}/{_safe(run_id)}", conn_id=conn_id if base.startswith("s3://") else None
        )

    def path(self, name: str) -> Any:
        return self.root / name

    def write_json(self, name: str, value: Any) -> str:
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value, ensure_ascii=False, indent=1, default=str))
        return str(target)

    def read_json(self, name: str, default: Any = None) -> Any:
        target = self.path(name)
        if not target.exists():
            return default
        return json.loads(target.read_text())
