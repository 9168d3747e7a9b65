"""Structural checks of every runbook, by AWS's documented schemaVersion '0.3' rules and this project's pattern.

The full `python -m drift_repair runbook lint` checks more; these are the rules the safe pattern rests on:
constrained parameters, references that resolve, an approval that aborts, changes that retry and roll back,
and embedded scripts that are valid, lint-clean Python whose copies never diverge.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from drift_repair.core.mappings import load_mappings
from tests.runbooks.support import (
    COMMON_MARKER,
    REPO,
    RUNBOOKS_DIR,
    SHARED_SCRIPT_STEPS,
    SYSTEM_VARIABLES,
    RunbookFile,
    iter_references,
    runbook_files,
)

RUNBOOKS = runbook_files()
IDS = [r.name for r in RUNBOOKS]
# The actions the project's runbooks may use: all documented, all run by the sandbox's engine.
ALLOWED_ACTIONS = {
    "aws:executeAwsApi",
    "aws:assertAwsResourceProperty",
    "aws:waitForAwsResourceProperty",
    "aws:executeScript",
    "aws:branch",
    "aws:approve",
    "aws:sleep",
}
READ_ONLY_API = re.compile(r"^(Get|Describe|List|Head)")
MAX_DOCUMENT_BYTES = 64 * 1024  # SSM's limit on a document's content
APPROVE_MAX_TIMEOUT = 2592000  # aws:approve: at most 30 days


def test_every_runbook_named_by_a_mapping_exists_and_every_file_is_a_runbook() -> None:
    names = {r.name for r in RUNBOOKS}
    wanted = {
        rule.remediation.runbook
        for rule in load_mappings().rules.values()
        if rule.remediation is not None and not rule.remediation.aws_owned
    }
    assert wanted <= names, f"mappings name runbooks without a file: {sorted(wanted - names)}"
    # The script variant of S3 encryption is deployed as an alternative, not referenced by a mapping.
    assert names - wanted == {"DriftRepair-S3-EnableEncryptionScript"}
    assert all(p.suffix == ".yaml" for p in RUNBOOKS_DIR.iterdir() if p.is_file())


@pytest.mark.parametrize("rb", RUNBOOKS, ids=IDS)
def test_header_and_size(rb: RunbookFile) -> None:
    assert rb.doc["schemaVersion"] == "0.3"
    assert rb.doc["assumeRole"] == "{{ AutomationAssumeRole }}"
    assert rb.parameters["AutomationAssumeRole"]["type"] == "String"
    assert rb.doc.get("description"), "a runbook says what it does"
    assert len(rb.text.encode()) < MAX_DOCUMENT_BYTES


@pytest.mark.parametrize("rb", RUNBOOKS, ids=IDS)
def test_string_parameters_are_constrained_and_defaults_obey_them(rb: RunbookFile) -> None:
    for name, spec in rb.parameters.items():
        assert spec.get("description"), f"{name}: every parameter is described"
        if spec["type"] in ("String", "StringList"):
            assert "allowedPattern" in spec or "allowedValues" in spec, f"{name} is not constrained"
        if "default" in spec and spec["type"] == "String":
            default = spec["default"]
            if "allowedPattern" in spec:
                assert re.search(spec["allowedPattern"], default), f"{name}: default {default!r} fails its pattern"
            if "allowedValues" in spec:
                assert default in spec["allowedValues"]


def _targets(step: dict) -> list[str]:
    targets = []
    for key in ("nextStep",):
        if step.get(key):
            targets.append(step[key])
    on_failure = step.get("onFailure", "Abort")
    if on_failure.startswith("step:"):
        targets.append(on_failure.removeprefix("step:"))
    if step["action"] == "aws:branch":
        targets += [c["NextStep"] for c in step["inputs"]["Choices"]]
        if step["inputs"].get("Default"):
            targets.append(step["inputs"]["Default"])
    return targets


@pytest.mark.parametrize("rb", RUNBOOKS, ids=IDS)
def test_steps_actions_and_flow_targets(rb: RunbookFile) -> None:
    names = [s["name"] for s in rb.steps]
    assert len(names) == len(set(names)), "step names are unique"
    for step in rb.steps:
        assert step["action"] in ALLOWED_ACTIONS, f"{step['name']}: {step['action']}"
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,128}", step["name"])
        for target in _targets(step):
            assert target in names, f"{step['name']} goes to unknown step {target}"
        assert step.get("onFailure", "Abort") == "Abort" or step["onFailure"].startswith("step:")


@pytest.mark.parametrize("rb", RUNBOOKS, ids=IDS)
def test_every_reference_resolves_to_a_parameter_variable_or_earlier_output(rb: RunbookFile) -> None:
    outputs: set[str] = set()
    for step in rb.steps:
        for ref in iter_references({k: v for k, v in step.items() if k != "outputs"}):
            if ref in SYSTEM_VARIABLES or ref.startswith("ssm:"):
                continue
            if "." in ref:
                assert ref in outputs, f"{step['name']}: {{{{ {ref} }}}} is not an output of an earlier step"
            else:
                assert ref in rb.parameters, f"{step['name']}: {{{{ {ref} }}}} is not a parameter"
        for out in step.get("outputs") or []:
            outputs.add(f"{step['name']}.{out['Name']}")
        if step["action"] == "aws:approve":
            outputs |= {f"{step['name']}.ApprovalStatus", f"{step['name']}.ApproverDecisions"}
    for ref in iter_references(rb.doc["assumeRole"]):
        assert ref in rb.parameters


@pytest.mark.parametrize("rb", RUNBOOKS, ids=IDS)
def test_safe_pattern_order_and_properties(rb: RunbookFile) -> None:
    names = [s["name"] for s in rb.steps]
    changes = [s for s in rb.steps if s["name"].startswith("Apply")]
    assert changes, "every runbook here changes something"
    order = ["LoopGuard", "ApproveChange", "SavePreState"]
    positions = [names.index(n) for n in order]
    assert positions == sorted(positions)
    assert positions[-1] < min(names.index(s["name"]) for s in changes), "the pre-state is saved before any change"

    approve = rb.step("ApproveChange")
    assert approve["action"] == "aws:approve"
    assert approve["onFailure"] == "Abort"
    assert 0 < int(approve["timeoutSeconds"]) <= APPROVE_MAX_TIMEOUT
    assert approve["inputs"]["Approvers"] == "{{ Approvers }}"
    assert approve["inputs"]["MinRequiredApprovals"] == "{{ MinRequiredApprovals }}"
    assert rb.parameters["Approvers"]["type"] == "StringList"
    assert rb.parameters["MinRequiredApprovals"]["type"] == "Integer"
    assert rb.step("LoopGuard")["onFailure"] == "Abort"

    for step in changes:
        assert step["maxAttempts"] == 3, step["name"]
        assert step["onFailure"] == "step:Rollback", step["name"]
    for step in rb.steps:
        if step["name"].startswith(("Verify", "WaitForModification")):
            assert step["onFailure"] == "step:Rollback", step["name"]
        if step["action"] == "aws:executeAwsApi" and not READ_ONLY_API.match(step["inputs"]["Api"]):
            assert step["name"].startswith("Apply"), f"{step['name']} mutates, so it is a change step"

    rollback = rb.step("Rollback")
    assert rollback["onFailure"] == "Abort"
    assert rollback["nextStep"] == "FailAfterRestore"
    assert rollback["inputs"]["InputPayload"]["PreStateKey"] == "{{ SavePreState.PreStateKey }}"
    fail = rb.step("FailAfterRestore")
    assert fail["isEnd"] is True
    assert fail["onFailure"] == "Abort"
    # The DAG reads any step whose name contains "rollback" as a rollback (core/remediation.py's outcome
    # mapping: all such steps Success = rolled back, exit 2; one failed = rollback failed, exit 3).
    assert [n for n in names if "rollback" in n.lower()] == ["Rollback"]
    # Rollback is reached only through onFailure: nothing flows into it on success.
    assert all(s.get("nextStep") != "Rollback" for s in rb.steps if s["name"] != "Rollback")


@pytest.mark.parametrize("rb", RUNBOOKS, ids=IDS)
def test_pre_state_key_and_loop_guard_prefix_agree(rb: RunbookFile) -> None:
    key = rb.step("SavePreState")["inputs"]["InputPayload"]["PreStateKey"]
    assert key.startswith("pre-state/")
    assert key.endswith("/{{ automation:EXECUTION_ID }}.json")
    prefix = rb.step("LoopGuard")["inputs"]["InputPayload"]["Prefix"]
    assert key == prefix + "{{ automation:EXECUTION_ID }}.json"


@pytest.mark.parametrize("rb", RUNBOOKS, ids=IDS)
def test_scripts_are_python311_with_their_handler_and_payload_outputs(rb: RunbookFile) -> None:
    for step in rb.script_steps():
        inputs = step["inputs"]
        assert inputs["Runtime"] == "python3.11"
        tree = ast.parse(inputs["Script"])
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert inputs["Handler"] in functions, f"{step['name']}: handler {inputs['Handler']} is not defined"
        for out in step.get("outputs") or []:
            assert out["Selector"].startswith("$.Payload."), out


@pytest.mark.parametrize("rb", RUNBOOKS, ids=IDS)
def test_copies_of_the_runbook_script_are_identical(rb: RunbookFile) -> None:
    own = {s["inputs"]["Script"] for s in rb.script_steps() if s["name"] not in SHARED_SCRIPT_STEPS}
    assert len(own) == 1, "Check, SavePreState, Verify and Rollback steps run one script; edit every copy"


def test_shared_scripts_and_the_common_block_are_identical_everywhere() -> None:
    for step_name in SHARED_SCRIPT_STEPS:
        assert len({rb.step(step_name)["inputs"]["Script"] for rb in RUNBOOKS}) == 1, step_name
    commons = {rb.resource_script[rb.resource_script.index(COMMON_MARKER) :] for rb in RUNBOOKS}
    assert len(commons) == 1


def test_embedded_scripts_are_lint_clean(tmp_path: Path) -> None:
    """Scripts live inside YAML, out of ruff's sight: extract them and lint them as the project's code."""
    for rb in RUNBOOKS:
        for step in rb.script_steps():
            name = f"{rb.name.replace('-', '_')}_{step['name']}.py"
            (tmp_path / name).write_text(step["inputs"]["Script"] + "\n", encoding="utf-8")
    ruff = [sys.executable, "-m", "ruff"]
    common = ["--no-cache", "--isolated", "--line-length", "120", "--target-version", "py311"]
    rules = ["--select", "E,F,W,B,I,UP,SIM,PL", "--ignore", "PLR2004"]
    check = subprocess.run([*ruff, "check", *common, *rules, str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = subprocess.run([*ruff, "format", "--check", *common, str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
