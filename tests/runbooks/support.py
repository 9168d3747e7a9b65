"""Reading the runbooks in include/runbooks/ for tests: documents, their steps and their embedded scripts.

The runbooks are the single source of their Python handlers (AWS runs the text in ``Script``); tests exec that
text as a module, so what is tested is exactly what is deployed.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from drift_repair.core.runbook import REFERENCE_RE, SYSTEM_VARIABLES  # noqa: F401 - re-exported for the tests

REPO = Path(__file__).resolve().parents[2]
RUNBOOKS_DIR = REPO / "include" / "runbooks"
# Steps whose script is the same in every runbook; every other executeScript step runs the runbook's own script.
SHARED_SCRIPT_STEPS = ("LoopGuard", "FailAfterRestore")
COMMON_MARKER = "# ---- drift-repair common"


@dataclass(frozen=True)
class RunbookFile:
    name: str
    path: Path
    text: str
    doc: Mapping[str, Any]

    @property
    def steps(self) -> list[Mapping[str, Any]]:
        return list(self.doc["mainSteps"])

    @property
    def parameters(self) -> Mapping[str, Mapping[str, Any]]:
        return self.doc.get("parameters") or {}

    def step(self, name: str) -> Mapping[str, Any]:
        for step in self.steps:
            if step["name"] == name:
                return step
        raise KeyError(f"{self.name} has no step {name}")

    def script_steps(self) -> Iterator[Mapping[str, Any]]:
        return (s for s in self.steps if s["action"] == "aws:executeScript")

    @property
    def resource_script(self) -> str:
        """The runbook's own script (the one Check, SavePreState, Verify and Rollback steps run)."""
        return self.step("Rollback")["inputs"]["Script"]


def runbook_files() -> list[RunbookFile]:
    files = []
    for path in sorted(RUNBOOKS_DIR.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        files.append(RunbookFile(path.stem, path, text, yaml.safe_load(text)))
    return files


def load_runbook(name: str) -> RunbookFile:
    return next(r for r in runbook_files() if r.name == name)


def script_module(script: str, name: str = "customer_script", boto3_module: Any = None) -> types.ModuleType:
    """Exec a runbook script as a module; ``boto3_module`` replaces the module's ``boto3`` when given."""
    module = types.ModuleType(name)
    exec(compile(script, f"<{name}>", "exec"), module.__dict__)
    if boto3_module is not None:
        module.__dict__["boto3"] = boto3_module
    return module


def resolve(value: Any, lookup: Callable[[str], Any]) -> Any:
    """Replace ``{{ name }}`` references the way Automation does (a whole reference keeps its type)."""
    if isinstance(value, str):
        whole = REFERENCE_RE.fullmatch(value.strip())
        if whole:
            return lookup(whole.group(1))
        return REFERENCE_RE.sub(lambda m: str(lookup(m.group(1))), value)
    if isinstance(value, Mapping):
        return {k: resolve(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, lookup) for v in value]
    return value


def payload(runbook: RunbookFile, step_name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """A step's InputPayload with its references resolved from ``values`` (parameters, variables, outputs).

    Parameters missing from ``values`` take the runbook's default, as Automation does.
    """

    def lookup(name: str) -> Any:
        if name in values:
            return values[name]
        spec = runbook.parameters.get(name)
        if spec is not None and "default" in spec:
            return spec["default"]
        raise KeyError(f"{runbook.name}.{step_name}: no value for {{{{ {name} }}}}")

    return resolve(dict(runbook.step(step_name)["inputs"].get("InputPayload") or {}), lookup)


def iter_references(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from (m.group(1) for m in REFERENCE_RE.finditer(value))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_references(key)
            yield from iter_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_references(item)
