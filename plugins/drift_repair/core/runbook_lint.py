"""Runbook lint: what a schemaVersion '0.3' runbook must satisfy before it may repair anything.

Two layers. The structure is checked against a JSON Schema kept in this package
(``schemas/ssm-automation-0.3.schema.json``; no maintained schema for Automation runbooks fits: cfn-lint's
only names schemaVersion). Then semantic checks a schema cannot express, the rules AWS enforces when a
document is created plus the project's conventions (CONVENTIONS.md, "AWS runbooks"):

* step names unique and valid; every nextStep / onFailure / onCancel / branch target names a step;
* every step reachable from the first; no cycle the normal flow cannot leave;
* every ``{{ }}`` resolves to a parameter, a system variable, an SSM parameter, or an output of a step that
  runs before the referring step;
* every String parameter has allowedPattern or allowedValues, and its default satisfies them;
* aws:executeScript: the handler is a function ``(events, context)`` of the script; outputs select
  ``$.Payload``; selectors use the JSONPath subset runbooks support;
* aws:branch: known operators, well-formed And / Or / Not;
* aws:approve: an explicit timeoutSeconds and onFailure Abort (a timed-out or rejected approval must stop
  the repair).

Pure: reads runbook text or data, returns findings naming the file and the step.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from drift_repair.core.errors import InputError
from drift_repair.core.jsonfile import decode_text
from drift_repair.core.runbook import (
    AWS_ACTIONS,
    ON_FAILURE_ABORT,
    STEP_NAME_RE,
    Runbook,
    Step,
    branch_targets,
    iter_references,
    load_document_text,
    parse_runbook,
    reference_kind,
)
from drift_repair.core.runbook_eval import SelectorError, condition_problems, pattern_matches, validate_selector

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "ssm-automation-0.3.schema.json"
RUNBOOK_SUFFIXES = (".yaml", ".yml", ".json")
_PAYLOAD_SELECTOR_RE = re.compile(r"^\$\.Payload(?:$|[.\[])")
_API_ACTIONS = ("aws:executeAwsApi", "aws:assertAwsResourceProperty", "aws:waitForAwsResourceProperty")
# Actions onCancel may not go to (AWS's "Properties shared by all actions": the cancellation workflow runs
# for at most two minutes and cannot wait for people or long operations).
NOT_ON_CANCEL = frozenset(
    {
        "aws:approve",
        "aws:copyImage",
        "aws:createImage",
        "aws:createStack",
        "aws:createTags",
        "aws:loop",
        "aws:pause",
        "aws:runInstances",
        "aws:sleep",
    }
)


@dataclass(frozen=True, order=True)
class LintFinding:
    """One problem: the file, the step it is in (None for document-level problems) and what is wrong."""

    source: str
    step: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}: step {self.step}" if self.step else self.source
        return f"{where}: {self.message}"


@cache
def runbook_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


# ---------------------------------------------------------------------------------------------- entry points


def iter_runbook_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files to lint: each file given, and every .yaml / .yml / .json below each directory given."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in RUNBOOK_SUFFIXES)
        else:
            yield path


def lint_file(path: str | Path) -> list[LintFinding]:
    source = str(path)
    try:
        text = decode_text(Path(path).read_bytes(), source)
    except FileNotFoundError:
        return [LintFinding(source, None, "file not found")]
    except OSError as exc:
        return [LintFinding(source, None, f"cannot be read: {exc.strerror}")]
    except InputError as exc:
        return [LintFinding(source, None, exc.problem)]
    return lint_text(text, source)


def lint_text(text: str, source: str = "<runbook>") -> list[LintFinding]:
    if not text.strip():
        return [LintFinding(source, None, "file is empty")]
    try:
        data = load_document_text(text, source)
    except InputError as exc:
        return [LintFinding(source, None, exc.problem)]
    return lint_document(data, source)


def lint_document(data: Any, source: str = "<runbook>") -> list[LintFinding]:
    """Every problem of a loaded runbook, schema problems first, each at most once, in a stable order."""
    findings = _schema_findings(data, source)
    try:
        runbook = parse_runbook(data, source)
    except InputError as exc:
        if not findings:
            findings.append(LintFinding(source, None, exc.problem))
        return findings
    checker = _Checker(runbook, source)
    checker.run()
    seen: set[LintFinding] = set()
    unique = []
    for finding in [*findings, *checker.findings]:
        if finding not in seen:
            seen.add(finding)
            unique.append(finding)
    return unique


def creation_problems(data: Any, source: str = "<runbook>") -> list[LintFinding]:
    """The subset AWS itself refuses at CreateDocument / UpdateDocument (InvalidDocumentContent).

    Unparseable runbooks, unknown actions, duplicate step names, steps that go to no step and malformed
    branch choices. Not the project's conventions, nor the full schema: a document AWS accepts must not be
    refused by the sandbox.
    """
    try:
        runbook = parse_runbook(data, source)
    except InputError as exc:
        return [LintFinding(source, None, exc.problem)]
    checker = _Checker(runbook, source)
    checker.check_names()
    checker.check_targets()
    for step in runbook.steps:
        if step.action not in AWS_ACTIONS:
            checker.add(step, f"unknown action {step.action}")
        elif step.action == "aws:branch":
            checker.check_branch(step)
    return [f for f in checker.findings if not f.message.startswith("step name must be")]


# ---------------------------------------------------------------------------------------------- schema


def _schema_findings(data: Any, source: str) -> list[LintFinding]:
    validator = jsonschema.Draft202012Validator(runbook_schema())
    findings = []
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        path = list(error.absolute_path)
        step = None
        if len(path) >= 2 and path[0] == "mainSteps" and isinstance(path[1], int) and isinstance(data, Mapping):
            steps = data.get("mainSteps")
            raw = steps[path[1]] if isinstance(steps, list) and path[1] < len(steps) else None
            step = raw.get("name") if isinstance(raw, Mapping) and isinstance(raw.get("name"), str) else None
            step = step or f"mainSteps[{path[1]}]"
            path = path[2:]
        where = "/".join(str(p) for p in path)
        prefix = f"schema: {where}: " if where else "schema: "
        findings.append(LintFinding(source, step, prefix + _schema_message(error)))
    return findings


def _schema_message(error: jsonschema.ValidationError) -> str:
    schema = error.schema
    if (
        error.validator == "additionalProperties"
        and isinstance(error.instance, Mapping)
        and isinstance(schema, Mapping)
    ):
        allowed = set(schema.get("properties", {}))
        extra = sorted(str(k) for k in error.instance if k not in allowed)
        return f"unknown field(s) {', '.join(extra)}"
    if error.validator in ("anyOf", "oneOf") and error.context:
        best = min(error.context, key=lambda e: len(list(e.relative_path)))
        return best.message
    return error.message


# ---------------------------------------------------------------------------------------------- semantics


class _Checker:
    """The semantic checks of one parsed runbook."""

    def __init__(self, runbook: Runbook, source: str) -> None:
        self.runbook = runbook
        self.source = source
        self.findings: list[LintFinding] = []
        self.names = {s.name for s in runbook.steps}

    def add(self, step: Step | str | None, message: str) -> None:
        name = step.name if isinstance(step, Step) else step
        self.findings.append(LintFinding(self.source, name, message))

    def run(self) -> None:
        self.check_names()
        self.check_targets()
        if not any(f.message.startswith("goes to unknown step") for f in self.findings):
            self.check_reachability()
            self.check_cycles()
        self.check_parameters()
        self.check_references()
        for step in self.runbook.steps:
            self.check_action(step)

    # -------------------------------------------------------------------------------- names and targets

    def check_names(self) -> None:
        seen: set[str] = set()
        for step in self.runbook.steps:
            if not STEP_NAME_RE.match(step.name):
                self.add(step, "step name must be 1-128 letters, digits, '_' or '-'")
            if step.name in seen:
                self.add(step, "step name is used by more than one step")
            seen.add(step.name)

    def check_targets(self) -> None:
        for step in self.runbook.steps:
            targets = [("nextStep", step.next_step), ("onFailure", step.on_failure_step)]
            targets.append(("onCancel", step.on_cancel_step))
            if step.action == "aws:branch":
                targets += [("branch", t) for t in branch_targets(step.inputs)]
            for what, target in targets:
                if target is not None and target not in self.names:
                    self.add(step, f"goes to unknown step {target!r} ({what})")
                if target == step.name and what in ("onFailure", "onCancel"):
                    self.add(step, f"{what} goes to the step itself")
            cancel_target = self.runbook.step(step.on_cancel_step) if step.on_cancel_step else None
            if cancel_target is not None and cancel_target.action in NOT_ON_CANCEL:
                self.add(step, f"onCancel cannot go to {cancel_target.name}: {cancel_target.action} steps cannot run")

    def check_reachability(self) -> None:
        reached = self._reachable_from(self.runbook.steps[0].name)
        for step in self.runbook.steps:
            if step.name not in reached:
                self.add(step, "is unreachable: no step goes to it and it is not the first step")

    def _reachable_from(self, start: str) -> set[str]:
        reached: set[str] = set()
        todo = [start]
        while todo:
            name = todo.pop()
            step = self.runbook.step(name)
            if name in reached or step is None:
                continue
            reached.add(name)
            todo.extend(self.runbook.all_targets(step))
        return reached

    def check_cycles(self) -> None:
        for component in _strongly_connected(self.runbook):
            steps = [s for s in self.runbook.steps if s.name in component]
            first = steps[0]
            looping = len(component) > 1 or first.name in self.runbook.flow_targets(first)
            if not looping:
                continue
            exits = any(self.runbook.can_end(s) for s in steps) or any(
                t not in component for s in steps for t in self.runbook.flow_targets(s)
            )
            if not exits:
                names = ", ".join(s.name for s in steps)
                self.add(first, f"steps {names} form a cycle with no way out (no branch leaves it, no step ends)")

    # -------------------------------------------------------------------------------- parameters

    def check_parameters(self) -> None:
        for spec in self.runbook.parameters.values():
            where = f"parameter {spec.name}"
            if spec.type == "String" and spec.allowed_pattern is None and spec.allowed_values is None:
                self.add(None, f"{where}: a String parameter needs allowedPattern or allowedValues")
            if spec.allowed_pattern is not None:
                try:
                    re.compile(spec.allowed_pattern)
                except re.error as exc:
                    self.add(None, f"{where}: allowedPattern is not a valid regular expression: {exc}")
                    continue
            if spec.has_default and spec.default is not None:
                self._check_default(where, spec.default, spec.allowed_pattern, spec.allowed_values)
            if spec.has_default and list(iter_references(spec.default)):
                self.add(None, f"{where}: a default cannot reference other values ({{{{ }}}})")

    def _check_default(self, where: str, default: Any, pattern: str | None, values: tuple[str, ...] | None) -> None:
        items = default if isinstance(default, list) else [default]
        for item in items:
            if isinstance(item, (dict, list)):
                continue
            text = "true" if item is True else "false" if item is False else str(item)
            if values is not None and text not in values:
                self.add(None, f"{where}: default {text!r} is not one of allowedValues")
            if pattern is not None and not pattern_matches(pattern, text):
                self.add(None, f"{where}: default {text!r} does not match allowedPattern")

    # -------------------------------------------------------------------------------- references

    def check_references(self) -> None:
        ancestors = self._ancestors()
        for name in iter_references(self.runbook.assume_role or ""):
            self._check_reference(None, name, set())
        for step in self.runbook.steps:
            for name in iter_references(dict(step.inputs)):
                self._check_reference(step, name, ancestors[step.name])
        for ref in self.runbook.outputs:
            step_name, _, output = ref.partition(".")
            producer = self.runbook.step(step_name)
            if producer is None or output not in producer.output_names:
                self.add(None, f"document output {ref} names no output of a step")

    def _check_reference(self, step: Step | None, name: str, before: set[str]) -> None:
        kind = reference_kind(name)
        shown = f"{{{{ {name} }}}}"
        if kind == "parameter" and name not in self.runbook.parameters:
            self.add(step, f"{shown} names no parameter")
        elif kind == "unknown-variable":
            self.add(step, f"{shown} is not a variable Automation provides")
        elif kind == "output":
            step_name, _, output = name.partition(".")
            producer = self.runbook.step(step_name)
            if producer is None:
                self.add(step, f"{shown} names no step")
            elif output not in producer.output_names:
                self.add(step, f"{shown}: step {step_name} has no output {output}")
            elif step_name not in before:
                self.add(step, f"{shown}: step {step_name} does not run before this step")

    def _ancestors(self) -> dict[str, set[str]]:
        """For each step, the steps that can run before it (strictly: a step is its own ancestor only in a loop)."""
        ancestors: dict[str, set[str]] = {s.name: set() for s in self.runbook.steps}
        for step in self.runbook.steps:
            for later in self._reachable_after(step):
                ancestors.setdefault(later, set()).add(step.name)
        return ancestors

    def _reachable_after(self, step: Step) -> set[str]:
        reached: set[str] = set()
        todo = list(self.runbook.all_targets(step))
        while todo:
            name = todo.pop()
            nxt = self.runbook.step(name)
            if name in reached or nxt is None:
                continue
            reached.add(name)
            todo.extend(self.runbook.all_targets(nxt))
        return reached

    # -------------------------------------------------------------------------------- actions

    def check_action(self, step: Step) -> None:
        if step.action not in AWS_ACTIONS:
            self.add(step, f"unknown action {step.action}")
        for output in step.outputs:
            self._check_selector(step, f"output {output.name}", output.selector)
        if step.action in _API_ACTIONS:
            selector = step.inputs.get("PropertySelector")
            if isinstance(selector, str):
                self._check_selector(step, "PropertySelector", selector)
        if step.action == "aws:executeScript":
            self.check_script(step)
        elif step.action == "aws:branch":
            self.check_branch(step)
        elif step.action == "aws:approve":
            self.check_approve(step)

    def _check_selector(self, step: Step, what: str, selector: str) -> None:
        try:
            validate_selector(selector)
        except SelectorError as exc:
            self.add(step, f"{what}: {exc}")

    def check_script(self, step: Step) -> None:
        for output in step.outputs:
            if not _PAYLOAD_SELECTOR_RE.match(output.selector):
                self.add(step, f"output {output.name}: executeScript outputs select $.Payload, not {output.selector}")
        runtime = step.inputs.get("Runtime")
        script, handler = step.inputs.get("Script"), step.inputs.get("Handler")
        if not isinstance(runtime, str) or not runtime.startswith("python3."):
            if isinstance(runtime, str) and runtime.startswith("PowerShell"):
                return  # PowerShell scripts live in attachments; nothing to parse here
            self.add(step, f"Runtime must be python3.x, not {runtime!r}")
        if not isinstance(script, str) or not isinstance(handler, str):
            return  # the schema reports a missing Script / Handler; an Attachment cannot be read here
        try:
            tree = ast.parse(script)
        except SyntaxError as exc:
            self.add(step, f"Script has a syntax error at line {exc.lineno}: {exc.msg}")
            return
        function = next(
            (n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == handler),
            None,
        )
        if function is None:
            self.add(step, f"Handler {handler} is not a function defined in Script")
        elif len(function.args.args) + len(function.args.posonlyargs) != 2:
            self.add(step, f"Handler {handler} must take two arguments (events, context)")

    def check_branch(self, step: Step) -> None:
        choices = step.inputs.get("Choices")
        if not isinstance(choices, list):
            return  # reported by the schema
        for i, choice in enumerate(choices):
            if not isinstance(choice, Mapping):
                continue
            condition = {k: v for k, v in choice.items() if k != "NextStep"}
            for problem in condition_problems(condition, f"Choices[{i}]"):
                self.add(step, problem)

    def check_approve(self, step: Step) -> None:
        if step.timeout_seconds is None:
            self.add(step, "aws:approve needs timeoutSeconds (otherwise it waits 7 days)")
        if step.on_failure != ON_FAILURE_ABORT:
            self.add(step, f"aws:approve must have onFailure Abort, not {step.on_failure}")


def _strongly_connected(runbook: Runbook) -> list[set[str]]:
    """Strongly connected components of the normal-flow graph (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0
    for root in (s.name for s in runbook.steps):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = []
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work.append((root, iter(_flow(runbook, root))))
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(_flow(runbook, child))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _flow(runbook: Runbook, name: str) -> list[str]:
    step = runbook.step(name)
    if step is None:
        return []
    return [t for t in runbook.flow_targets(step) if runbook.step(t) is not None]
