"""Reconcile Terraform: is Terraform's view of the world clean after the repair?

Two ways, one result shape:

* ``terraform plan -refresh-only -detailed-exitcode -json`` in the environment's working directory:
  exit 0 = no drift, 2 = drift remains, 1 = error. :func:`parse_plan_output` reads its JSON lines
  (resource_drift, change_summary, diagnostics).
* the native check, where no Terraform with the AWS provider is available (the sandbox, workers without
  it): the Terraform state's values compared with live AWS Config by the same core compare;
  :func:`native_result` turns those rows into the same result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from drift_repair.core.models import DiffRow, Verdict


@dataclass
class ReconcileResult:
    mode: str  # "terraform" or "native"
    exit_code: int  # as terraform -detailed-exitcode: 0 clean, 2 drift remains, 1 error
    drifted: list[str] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.exit_code == 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


def parse_plan_output(lines: Iterable[str], exit_code: int) -> ReconcileResult:
    """Read ``terraform plan -json`` machine-readable output (one JSON object per line)."""
    drifted: list[str] = []
    diagnostics: list[str] = []
    summary: dict[str, Any] = {}
    for raw in lines:
        text = raw.strip()
        if not text.startswith("{"):
            continue
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            continue
        kind = message.get("type")
        if kind == "resource_drift":
            resource = message.get("change", {}).get("resource", {})
            action = message.get("change", {}).get("action", "")
            drifted.append(f"{resource.get('addr', '?')} ({action})")
        elif kind == "change_summary":
            summary = message.get("changes", {})
        elif kind == "diagnostic":
            diag = message.get("diagnostic", {})
            diagnostics.append(
                f"{diag.get('severity', '')}: {diag.get('summary', '')} {diag.get('detail', '')}".strip()
            )
        elif kind == "outputs" and exit_code == 2 and not drifted:
            changed = [name for name, out in (message.get("outputs") or {}).items() if out.get("action") != "noop"]
            drifted.extend(f"output.{name}" for name in changed)
    if exit_code not in (0, 1, 2):
        diagnostics.append(f"unexpected terraform exit code {exit_code}")
        exit_code = 1
    return ReconcileResult(
        mode="terraform", exit_code=exit_code, drifted=drifted, diagnostics=diagnostics, summary=summary
    )


def native_result(rows: Iterable[DiffRow]) -> ReconcileResult:
    """State-vs-live rows (same compare as detection) as a reconcile result: any NG means drift remains."""
    rows = list(rows)
    ng = [r for r in rows if r.verdict is Verdict.NG]
    counts = {v.value: sum(1 for r in rows if r.verdict is v) for v in Verdict}
    return ReconcileResult(
        mode="native",
        exit_code=2 if ng else 0,
        drifted=sorted({f"{r.resource_address}.{r.attribute}" for r in ng}),
        summary={"attributes": len(rows), **counts},
    )
