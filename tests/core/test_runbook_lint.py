"""Runbook lint: a good runbook passes; each broken variant is reported with its file and step."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from drift_repair.cli import main
from drift_repair.core.runbook_lint import LintFinding, lint_document, lint_file, lint_text

REPO = Path(__file__).resolve().parents[2]
AWS_DOCUMENTS = REPO / "sandbox" / "ssm" / "aws_documents"

GOOD: dict[str, Any] = yaml.safe_load(
    r"""
schemaVersion: "0.3"
description: Enables versioning on a bucket after an approval, with a rollback path.
assumeRole: "{{ AutomationAssumeRole }}"
outputs:
  - Verify.Result
parameters:
  AutomationAssumeRole:
    type: String
    allowedPattern: ^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$
  BucketName:
    type: String
    allowedPattern: ^[a-z0-9.-]{3,63}$
  Mode:
    type: String
    default: fix
    allowedValues: [fix, check]
  Approvers:
    type: StringList
  Retention:
    type: Integer
    default: 7
mainSteps:
  - name: Approve
    action: aws:approve
    timeoutSeconds: 600
    onFailure: Abort
    inputs:
      Approvers: "{{ Approvers }}"
      MinRequiredApprovals: 1
      Message: Enable versioning on {{ BucketName }} ({{ global:REGION }})
  - name: Choose
    action: aws:branch
    inputs:
      Choices:
        - NextStep: Verify
          Variable: "{{ Mode }}"
          StringEquals: check
        - NextStep: Fix
          And:
            - Variable: "{{ Retention }}"
              NumericGreater: 0
            - Not:
                Variable: "{{ Approve.ApprovalStatus }}"
                StringEquals: Rejected
      Default: Fix
  - name: Fix
    action: aws:executeAwsApi
    onFailure: step:Rollback
    onCancel: step:Rollback
    inputs:
      Service: s3
      Api: PutBucketVersioning
      Bucket: "{{ BucketName }}"
      VersioningConfiguration:
        Status: Enabled
    outputs:
      - Name: HttpStatus
        Selector: $.ResponseMetadata.HTTPStatusCode
        Type: Integer
    nextStep: Verify
  - name: Verify
    action: aws:executeScript
    maxAttempts: 2
    timeoutSeconds: 60
    inputs:
      Runtime: python3.11
      Handler: verify
      InputPayload:
        Bucket: "{{ BucketName }}"
        Execution: "{{ automation:EXECUTION_ID }}"
      Script: |
        def verify(events, context):
            return {"Bucket": events["Bucket"]}
    outputs:
      - Name: Result
        Selector: $.Payload
        Type: StringMap
      - Name: Bucket
        Selector: $.Payload.Bucket
    isEnd: true
  - name: Rollback
    action: aws:executeAwsApi
    inputs:
      Service: s3
      Api: PutBucketVersioning
      Bucket: "{{ BucketName }}"
      VersioningConfiguration:
        Status: Suspended
    isEnd: true
"""
)


def good() -> dict[str, Any]:
    return copy.deepcopy(GOOD)


def step(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["mainSteps"] if s["name"] == name)
    return found


def test_the_good_runbook_is_clean() -> None:
    assert lint_document(good(), "good.yaml") == []


def test_the_sandbox_aws_documents_lint_clean() -> None:
    """The AWS-owned runbooks the sandbox serves follow the same rules as ours."""
    files = sorted(AWS_DOCUMENTS.glob("*.yaml"))
    assert len(files) >= 3
    for path in files:
        assert lint_file(path) == [], path.name


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation that sets ``step.field`` (or a top-level field when there is no dot)."""

    def mutate(doc: dict[str, Any]) -> None:
        if "." in path:
            name, field = path.split(".", 1)
            step(doc, name)[field] = value
        else:
            doc[path] = value

    return mutate


def _append_step(raw: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["mainSteps"].append(raw)


def _edit_inputs(name: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        inputs = step(doc, name)["inputs"]
        for key, value in changes.items():
            if value is None:
                inputs.pop(key, None)
            else:
                inputs[key] = value

    return mutate


def _param(name: str, spec: dict[str, Any] | None) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        if spec is None:
            doc["parameters"].pop(name)
        else:
            doc["parameters"][name] = spec

    return mutate


def _cycle(doc: dict[str, Any]) -> None:
    doc["mainSteps"].insert(
        0,
        {
            "name": "LoopA",
            "action": "aws:sleep",
            "inputs": {"Duration": "PT1S"},
            "nextStep": "LoopB",
        },
    )
    doc["mainSteps"].insert(
        1, {"name": "LoopB", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}, "nextStep": "LoopA"}
    )


_SCRIPT = "def verify(events, context):\n    return {}\n"

# (id, mutation, step named in the finding or None, text the message contains)
BAD_CASES: list[tuple[str, Callable[[dict[str, Any]], None], str | None, str]] = [
    ("schema-missing-mainSteps", lambda d: d.pop("mainSteps"), None, "'mainSteps' is a required property"),
    ("schema-version", _set("schemaVersion", "2.2"), None, "schema: schemaVersion"),
    ("schema-unknown-step-field", _set("Fix.retries", 3), "Fix", "unknown field(s) retries"),
    ("schema-unknown-top-field", _set("mainstep", []), None, "unknown field(s) mainstep"),
    ("schema-onFailure-value", _set("Fix.onFailure", "Retry"), "Fix", "schema: onFailure"),
    ("schema-maxAttempts-type", _set("Verify.maxAttempts", "two"), "Verify", "schema: maxAttempts"),
    ("schema-output-type", _set("Fix.outputs", [{"Name": "X", "Selector": "$.A", "Type": "Float"}]), "Fix", "Type"),
    ("schema-api-inputs", _edit_inputs("Fix", Api=None), "Fix", "'Api' is a required property"),
    ("duplicate-step-name", _set("Rollback.name", "Fix"), "Fix", "used by more than one step"),
    ("invalid-step-name", _set("Rollback.name", "roll back"), "roll back", "step name"),
    ("unknown-nextStep", _set("Fix.nextStep", "Nowhere"), "Fix", "unknown step 'Nowhere' (nextStep)"),
    ("unknown-onFailure", _set("Fix.onFailure", "step:Nowhere"), "Fix", "unknown step 'Nowhere' (onFailure)"),
    ("unknown-onCancel", _set("Fix.onCancel", "step:Nowhere"), "Fix", "unknown step 'Nowhere' (onCancel)"),
    ("onCancel-to-approve", _set("Fix.onCancel", "step:Approve"), "Fix", "onCancel cannot go to Approve"),
    ("unknown-branch-target", _edit_inputs("Choose", Default="Nowhere"), "Choose", "unknown step 'Nowhere' (branch)"),
    (
        "unreachable",
        _append_step({"name": "Orphan", "action": "aws:sleep", "inputs": {"Duration": "PT1S"}}),
        "Orphan",
        "unreachable",
    ),
    ("cycle-without-exit", _cycle, "LoopA", "cycle with no way out"),
    ("unknown-parameter", _edit_inputs("Fix", Bucket="{{ Bucket }}"), "Fix", "{{ Bucket }} names no parameter"),
    (
        "unknown-variable",
        _edit_inputs("Fix", Bucket="{{ global:FOO }}"),
        "Fix",
        "{{ global:FOO }} is not a variable Automation provides",
    ),
    ("output-of-unknown-step", _edit_inputs("Fix", Bucket="{{ Nope.Out }}"), "Fix", "{{ Nope.Out }} names no step"),
    (
        "unknown-output",
        _edit_inputs("Rollback", Bucket="{{ Fix.Nope }}"),
        "Rollback",
        "step Fix has no output Nope",
    ),
    (
        "output-of-later-step",
        _edit_inputs("Fix", Bucket="{{ Verify.Bucket }}"),
        "Fix",
        "step Verify does not run before this step",
    ),
    (
        "string-parameter-unconstrained",
        _param("BucketName", {"type": "String"}),
        None,
        "parameter BucketName: a String parameter needs allowedPattern or allowedValues",
    ),
    (
        "default-not-matching-pattern",
        _param("BucketName", {"type": "String", "allowedPattern": "^[a-z]+$", "default": "UPPER"}),
        None,
        "default 'UPPER' does not match allowedPattern",
    ),
    (
        "default-not-allowed",
        _param("Mode", {"type": "String", "allowedValues": ["fix", "check"], "default": "both"}),
        None,
        "default 'both' is not one of allowedValues",
    ),
    (
        "bad-pattern",
        _param("BucketName", {"type": "String", "allowedPattern": "^[a-z"}),
        None,
        "allowedPattern is not a valid regular expression",
    ),
    (
        "default-with-reference",
        _param("Mode", {"type": "String", "allowedValues": ["fix"], "default": "{{ BucketName }}"}),
        None,
        "a default cannot reference",
    ),
    ("handler-missing", _edit_inputs("Verify", Handler="main"), "Verify", "Handler main is not a function"),
    (
        "handler-arguments",
        _edit_inputs("Verify", Script="def verify(events):\n    return {}\n"),
        "Verify",
        "must take two arguments",
    ),
    ("script-syntax", _edit_inputs("Verify", Script="def verify(:\n"), "Verify", "syntax error"),
    ("script-runtime", _edit_inputs("Verify", Runtime="nodejs18.x"), "Verify", "Runtime must be python3.x"),
    (
        "script-output-selector",
        _set("Verify.outputs", [{"Name": "Result", "Selector": "$.Result", "Type": "StringMap"}]),
        "Verify",
        "executeScript outputs select $.Payload",
    ),
    (
        "branch-unknown-operator",
        _edit_inputs("Choose", Choices=[{"NextStep": "Fix", "Variable": "{{ Mode }}", "StringMatches": "x"}]),
        "Choose",
        "unknown operator 'StringMatches'",
    ),
    (
        "branch-two-operators",
        _edit_inputs(
            "Choose", Choices=[{"NextStep": "Fix", "Variable": "{{ Mode }}", "StringEquals": "a", "Contains": "b"}]
        ),
        "Choose",
        "needs exactly one operator",
    ),
    (
        "branch-no-variable",
        _edit_inputs("Choose", Choices=[{"NextStep": "Fix", "StringEquals": "a"}]),
        "Choose",
        "StringEquals needs a Variable",
    ),
    (
        "branch-empty-and",
        _edit_inputs("Choose", Choices=[{"NextStep": "Fix", "And": []}]),
        "Choose",
        "And must be a non-empty list",
    ),
    ("approve-without-timeout", lambda d: step(d, "Approve").pop("timeoutSeconds"), "Approve", "needs timeoutSeconds"),
    ("approve-continues", _set("Approve.onFailure", "Continue"), "Approve", "must have onFailure Abort"),
    ("unknown-action", _set("Rollback.action", "aws:doMagic"), "Rollback", "unknown action aws:doMagic"),
    (
        "unsupported-selector",
        _set("Fix.outputs", [{"Name": "X", "Selector": "$.Items[?(@.a)]", "Type": "String"}]),
        "Fix",
        "unsupported syntax",
    ),
    ("document-output", _set("outputs", ["Verify.Nope"]), None, "document output Verify.Nope names no output"),
]


@pytest.mark.parametrize(("mutation", "step_name", "text"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_each_problem_is_reported_with_its_step(
    mutation: Callable[[dict[str, Any]], None], step_name: str | None, text: str
) -> None:
    doc = good()
    mutation(doc)
    findings = lint_document(doc, "runbooks/repair.yaml")
    matching = [f for f in findings if text in f.message]
    assert matching, f"no finding contains {text!r}: {[str(f) for f in findings]}"
    assert any(f.step == step_name for f in matching), [str(f) for f in matching]
    assert all(str(f).startswith("runbooks/repair.yaml: ") for f in findings)


def test_a_cycle_a_branch_can_leave_is_fine() -> None:
    doc = good()
    step(doc, "Rollback")["isEnd"] = False
    step(doc, "Rollback")["nextStep"] = "Choose"  # Choose may go to Verify, which ends
    assert lint_document(doc, "loop.yaml") == []


def test_a_finding_reads_file_step_message() -> None:
    assert str(LintFinding("a.yaml", "Fix", "broken")) == "a.yaml: step Fix: broken"
    assert str(LintFinding("a.yaml", None, "broken")) == "a.yaml: broken"


def test_unreadable_text_is_one_finding() -> None:
    assert [f.message for f in lint_text("", "e.yaml")] == ["file is empty"]
    (finding,) = lint_text("mainSteps: [\n", "broken.yaml")
    assert finding.message.startswith("not valid YAML at line")
    (finding,) = lint_text('{"schemaVersion": ', "broken.json")
    assert finding.message.startswith("not valid JSON at line 1")
    assert [f.message for f in lint_file("/nonexistent/runbook.yaml")] == ["file not found"]


# ------------------------------------------------------------------------------------ the CLI


def _write(tmp_path: Path, name: str, doc: Any) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_cli_exits_0_for_clean_runbooks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "good.yaml", good())
    assert main(["runbook", "lint", str(path)]) == 0
    assert "1 runbook(s) checked, 0 problem(s)" in capsys.readouterr().out


def test_cli_exits_1_and_names_file_and_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = good()
    step(doc, "Fix")["nextStep"] = "Nowhere"
    bad = _write(tmp_path, "bad.yaml", doc)
    _write(tmp_path, "good.yaml", good())
    assert main(["runbook", "lint", str(tmp_path)]) == 1  # a directory: every runbook below it
    captured = capsys.readouterr()
    assert f"{bad}: step Fix: goes to unknown step 'Nowhere' (nextStep)" in captured.out
    assert "2 runbook(s) checked, 1 problem(s)" in captured.err


def test_cli_exits_1_for_missing_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runbook", "lint", str(tmp_path / "absent.yaml")]) == 1
    assert "file not found" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["runbook", "lint", str(empty)]) == 1


def test_cli_lints_json_runbooks(tmp_path: Path) -> None:
    path = tmp_path / "good.json"
    import json

    path.write_text(json.dumps(good()), encoding="utf-8")
    assert main(["runbook", "lint", "-q", str(path)]) == 0


def test_cli_runs_as_a_module(tmp_path: Path) -> None:
    import subprocess
    import sys

    doc = good()
    step(doc, "Approve").pop("timeoutSeconds")
    path = _write(tmp_path, "approve.yaml", doc)
    proc = subprocess.run(
        [sys.executable, "-m", "drift_repair", "runbook", "lint", str(path)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "plugins"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert proc.returncode == 1
    assert f"{path}: step Approve: aws:approve needs timeoutSeconds" in proc.stdout
