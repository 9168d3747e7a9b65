"""The schemaVersion '0.3' SSM Automation runbook model, shared by the runbook lint and the sandbox's engine.

Both read runbooks the same way, so a runbook that lints clean is a runbook the engine runs as written: this
module parses a runbook into steps and parameters, names every step a step can go to next (the control-flow
graph both the lint's reachability checks and the engine's scheduler follow), and finds and resolves
``{{ }}`` references. Pure: no boto3, no sandbox imports.

AWS's reference for the semantics: "Systems Manager Automation actions reference" (properties shared by all
actions) and "Automation system variables" in the AWS Systems Manager User Guide.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from drift_repair.core.errors import DriftRepairError, InputError

SCHEMA_VERSION = "0.3"

# Every action AWS accepts in an Automation runbook. The engine implements a subset (ENGINE_ACTIONS in the
# sandbox); a runbook may still name any of these and fail only when such a step runs, as on AWS.
AWS_ACTIONS: frozenset[str] = frozenset(
    {
        "aws:approve",
        "aws:assertAwsResourceProperty",
        "aws:branch",
        "aws:changeInstanceState",
        "aws:copyImage",
        "aws:createImage",
        "aws:createStack",
        "aws:createTags",
        "aws:deleteImage",
        "aws:deleteStack",
        "aws:executeAutomation",
        "aws:executeAwsApi",
        "aws:executeScript",
        "aws:executeStateMachine",
        "aws:invokeLambdaFunction",
        "aws:invokeWebhook",
        "aws:loop",
        "aws:pause",
        "aws:runCommand",
        "aws:runInstances",
        "aws:sleep",
        "aws:updateVariable",
        "aws:waitForAwsResourceProperty",
    }
)

# Outputs an action produces without an ``outputs`` section (aws:approve documents these two).
PREDEFINED_OUTPUTS: Mapping[str, tuple[str, ...]] = {"aws:approve": ("ApprovalStatus", "ApproverDecisions")}

OUTPUT_TYPES: tuple[str, ...] = ("String", "Integer", "Boolean", "StringList", "StringMap", "MapList")
BASIC_PARAMETER_TYPES: tuple[str, ...] = ("String", "StringList", "Integer", "Boolean", "MapList", "StringMap")
# AWS-specific parameter types (AWS::IAM::Role::Arn, List<AWS::EC2::Instance::Id>, ...) carry strings.
_AWS_TYPE_RE = re.compile(r"^(List<)?AWS::[A-Za-z0-9]+(::[A-Za-z0-9]+)+(>)?$")

# A step name becomes half of ``{{ step.output }}``: no dots, colons, spaces or braces.
STEP_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
REFERENCE_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# Variables the Automation service provides (the "Automation system variables" page).
SYSTEM_VARIABLES: frozenset[str] = frozenset(
    {
        "automation:EXECUTION_ID",
        "global:ACCOUNT_ID",
        "global:REGION",
        "global:AWS_PARTITION",
        "global:DATE",
        "global:DATE_TIME",
    }
)
SSM_PARAMETER_PREFIX = "ssm:"

ON_FAILURE_ABORT = "Abort"
ON_FAILURE_CONTINUE = "Continue"
STEP_PREFIX = "step:"


class UnresolvedReferenceError(DriftRepairError, KeyError):
    """A ``{{ name }}`` that names no parameter, variable or available step output."""

    def __init__(self, name: str, reason: str = "") -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"{{{{ {name} }}}}" + (f": {reason}" if reason else ""))

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class OutputSpec:
    """One entry of a step's ``outputs``: a name, a JSONPath selector into the action's result, a type."""

    name: str
    selector: str
    type: str = "String"


@dataclass(frozen=True)
class ParameterSpec:
    """One runbook parameter. A parameter without ``default`` is required."""

    name: str
    type: str
    description: str = ""
    has_default: bool = False
    default: Any = None
    allowed_values: tuple[str, ...] | None = None
    allowed_pattern: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    min_chars: int | None = None
    max_chars: int | None = None

    @property
    def required(self) -> bool:
        return not self.has_default

    @property
    def is_list(self) -> bool:
        """StringList, MapList and List<AWS::...> parameters take several values."""
        return self.type in ("StringList", "MapList") or self.type.startswith("List<")

    @property
    def is_string_like(self) -> bool:
        """String and the AWS-specific scalar types, which carry one string."""
        return self.type == "String" or (self.type.startswith("AWS::") and not self.is_list)


@dataclass(frozen=True)
class Step:
    """One entry of ``mainSteps`` with the shared properties resolved to AWS's defaults."""

    index: int
    name: str
    action: str
    inputs: Mapping[str, Any]
    outputs: tuple[OutputSpec, ...] = ()
    on_failure: str = ON_FAILURE_ABORT
    on_cancel: str | None = None
    next_step: str | None = None
    is_end: bool = False
    is_critical_explicit: bool | None = None
    max_attempts: int = 1
    timeout_seconds: int | None = None
    description: str = ""

    @property
    def is_critical(self) -> bool:
        """AWS: defaults to false when onFailure is Continue, true otherwise; honoured only when written."""
        if self.is_critical_explicit is not None:
            return self.is_critical_explicit
        return self.on_failure != ON_FAILURE_CONTINUE

    @property
    def on_failure_step(self) -> str | None:
        return _step_target(self.on_failure)

    @property
    def on_cancel_step(self) -> str | None:
        return _step_target(self.on_cancel)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs) + PREDEFINED_OUTPUTS.get(self.action, ())


def _step_target(value: str | None) -> str | None:
    if value and value.startswith(STEP_PREFIX):
        return value[len(STEP_PREFIX) :].strip()
    return None


@dataclass(frozen=True)
class Runbook:
    """A parsed schemaVersion '0.3' runbook."""

    steps: tuple[Step, ...]
    parameters: Mapping[str, ParameterSpec] = field(default_factory=dict)
    description: str = ""
    assume_role: str | None = None
    outputs: tuple[str, ...] = ()
    schema_version: str = SCHEMA_VERSION
    source: str = "<runbook>"
    _by_name: Mapping[str, Step] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {s.name: s for s in self.steps})

    def step(self, name: str) -> Step | None:
        return self._by_name.get(name)

    def following(self, step: Step) -> Step | None:
        """The step written after ``step`` (where execution goes when nothing else says)."""
        return self.steps[step.index + 1] if step.index + 1 < len(self.steps) else None

    def next_on_success(self, step: Step) -> str | None:
        """Where a successful non-branch step goes: nextStep, else the end if isEnd, else the next step."""
        if step.next_step:
            return step.next_step
        if step.is_end:
            return None
        after = self.following(step)
        return after.name if after else None

    def flow_targets(self, step: Step) -> list[str]:
        """Steps reached by normal (successful) flow, including every branch choice and the default."""
        if step.action == "aws:branch":
            targets = branch_targets(step.inputs)
            default = step.inputs.get("Default")
            if not (isinstance(default, str) and default) and not step.is_end:
                after = self.following(step)
                if after is not None:
                    targets.append(after.name)  # no choice true and no Default: the next step runs
            return targets
        nxt = self.next_on_success(step)
        return [nxt] if nxt else []

    def all_targets(self, step: Step) -> list[str]:
        """Every step that may run right after ``step``: normal flow, onFailure and onCancel."""
        targets = self.flow_targets(step)
        if step.on_failure_step:
            targets.append(step.on_failure_step)
        elif step.on_failure == ON_FAILURE_CONTINUE and not step.is_end:
            nxt = self.next_on_success(step)
            if nxt:
                targets.append(nxt)
        if step.on_cancel_step:
            targets.append(step.on_cancel_step)
        return targets

    def can_end(self, step: Step) -> bool:
        """Whether the execution can finish successfully right after ``step``."""
        if step.action == "aws:branch":
            if step.inputs.get("Default"):
                return False
            return step.is_end or self.following(step) is None
        return self.next_on_success(step) is None


def branch_targets(inputs: Mapping[str, Any]) -> list[str]:
    """The NextStep of every choice of an aws:branch step, plus its Default."""
    targets: list[str] = []
    choices = inputs.get("Choices")
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, Mapping) and isinstance(choice.get("NextStep"), str):
                targets.append(choice["NextStep"])
    default = inputs.get("Default")
    if isinstance(default, str) and default:
        targets.append(default)
    return targets


# ---------------------------------------------------------------------------------------------- parsing


def load_document_text(text: str, source: str = "<runbook>") -> Any:
    """Read runbook content written as YAML or JSON (JSON is YAML, but JSON errors read better as JSON)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(source, f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        raise InputError(source, f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None


def parse_runbook(content: Mapping[str, Any] | str, source: str = "<runbook>") -> Runbook:
    """Parse runbook content (text or already-loaded mapping); structural errors raise InputError.

    Only what the engine cannot run without is checked here; the lint reports everything else.
    """
    data = load_document_text(content, source) if isinstance(content, str) else content
    if not isinstance(data, Mapping):
        raise InputError(source, "a runbook is a mapping with schemaVersion and mainSteps")
    version = str(data.get("schemaVersion", ""))
    if version != SCHEMA_VERSION:
        raise InputError(source, f"schemaVersion must be '{SCHEMA_VERSION}' for an Automation runbook, not {version!r}")
    raw_steps = data.get("mainSteps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise InputError(source, "mainSteps must be a non-empty list of steps")
    steps = tuple(_parse_step(i, raw, source) for i, raw in enumerate(raw_steps))
    raw_params = data.get("parameters") or {}
    if not isinstance(raw_params, Mapping):
        raise InputError(source, "parameters must be a mapping of parameter name to definition")
    parameters = {str(name): _parse_parameter(str(name), spec, source) for name, spec in raw_params.items()}
    outputs = data.get("outputs") or []
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise InputError(source, "outputs must be a list of 'step.output' names")
    assume_role = data.get("assumeRole")
    return Runbook(
        steps=steps,
        parameters=parameters,
        description=str(data.get("description") or ""),
        assume_role=str(assume_role) if assume_role is not None else None,
        outputs=tuple(outputs),
        schema_version=version,
        source=source,
    )


def _parse_step(index: int, raw: Any, source: str) -> Step:
    if not isinstance(raw, Mapping):
        raise InputError(source, f"mainSteps[{index}] is not a mapping")
    name = raw.get("name")
    action = raw.get("action")
    if not isinstance(name, str) or not name:
        raise InputError(source, f"mainSteps[{index}] has no name")
    if not isinstance(action, str) or not action:
        raise InputError(source, f"step {name!r} has no action")
    inputs = raw.get("inputs")
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, Mapping):
        raise InputError(source, f"step {name!r}: inputs must be a mapping")
    outputs: list[OutputSpec] = []
    for j, out in enumerate(raw.get("outputs") or []):
        if not isinstance(out, Mapping) or not isinstance(out.get("Name"), str) or "Selector" not in out:
            raise InputError(source, f"step {name!r}: outputs[{j}] needs Name and Selector")
        outputs.append(OutputSpec(out["Name"], str(out["Selector"]), str(out.get("Type") or "String")))
    is_critical = raw.get("isCritical")
    return Step(
        index=index,
        name=name,
        action=action,
        inputs=inputs,
        outputs=tuple(outputs),
        on_failure=str(raw.get("onFailure") or ON_FAILURE_ABORT),
        on_cancel=str(raw["onCancel"]) if raw.get("onCancel") else None,
        next_step=str(raw["nextStep"]) if raw.get("nextStep") else None,
        is_end=_as_bool(raw.get("isEnd", False), source, f"step {name!r}: isEnd"),
        is_critical_explicit=None
        if is_critical is None
        else _as_bool(is_critical, source, f"step {name!r}: isCritical"),
        max_attempts=_as_int(raw.get("maxAttempts", 1), source, f"step {name!r}: maxAttempts", minimum=1),
        timeout_seconds=(
            None
            if raw.get("timeoutSeconds") is None
            else _as_int(raw["timeoutSeconds"], source, f"step {name!r}: timeoutSeconds", minimum=1)
        ),
        description=str(raw.get("description") or ""),
    )


def _parse_parameter(name: str, spec: Any, source: str) -> ParameterSpec:
    if not isinstance(spec, Mapping):
        raise InputError(source, f"parameter {name!r} must be a mapping with a type")
    ptype = str(spec.get("type") or "")
    if not is_parameter_type(ptype):
        raise InputError(source, f"parameter {name!r} has unknown type {ptype!r}")
    allowed = spec.get("allowedValues")
    return ParameterSpec(
        name=name,
        type=ptype,
        description=str(spec.get("description") or ""),
        has_default="default" in spec,
        default=spec.get("default"),
        allowed_values=tuple(str(v) for v in allowed) if isinstance(allowed, list) else None,
        allowed_pattern=str(spec["allowedPattern"]) if spec.get("allowedPattern") is not None else None,
        min_items=_opt_int(spec.get("minItems")),
        max_items=_opt_int(spec.get("maxItems")),
        min_chars=_opt_int(spec.get("minChars")),
        max_chars=_opt_int(spec.get("maxChars")),
    )


def is_parameter_type(ptype: str) -> bool:
    return ptype in BASIC_PARAMETER_TYPES or bool(_AWS_TYPE_RE.match(ptype))


def _as_bool(value: Any, source: str, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InputError(source, f"{what} must be true or false, not {value!r}")


def _as_int(value: Any, source: str, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InputError(source, f"{what} must be an integer, not {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise InputError(source, f"{what} must be an integer, not {value!r}") from None
    if number < minimum:
        raise InputError(source, f"{what} must be at least {minimum}, not {number}")
    return number


def _opt_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


# ---------------------------------------------------------------------------------------------- references


def iter_references(value: Any) -> Iterator[str]:
    """Every name written as ``{{ name }}`` anywhere inside ``value`` (strings, lists, mappings, keys too)."""
    if isinstance(value, str):
        for match in REFERENCE_RE.finditer(value):
            yield match.group(1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_references(key)
            yield from iter_references(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_references(item)


def whole_reference(value: str) -> str | None:
    """The name when ``value`` is exactly one reference (``"{{ X }}"``): it then keeps X's own type."""
    match = REFERENCE_RE.fullmatch(value.strip())
    return match.group(1) if match else None


def reference_kind(name: str) -> str:
    """'variable', 'ssm', 'output' (step.output) or 'parameter'."""
    if name in SYSTEM_VARIABLES:
        return "variable"
    if name.startswith(SSM_PARAMETER_PREFIX):
        return "ssm"
    if ":" in name:
        return "unknown-variable"
    if "." in name:
        return "output"
    return "parameter"


def resolve(value: Any, lookup: Callable[[str], Any]) -> Any:
    """Replace every ``{{ name }}`` in ``value`` by ``lookup(name)``.

    A string that is exactly one reference takes the referenced value with its type (an Integer stays an
    int, a StringList a list); inside a list, such a reference to a list is spliced in, which is how AWS reads
    ``InstanceIds: ["{{ InstanceIds }}"]``. References embedded in longer text are replaced by their text
    form. ``lookup`` raises UnresolvedReferenceError for a name it does not know.
    """
    if isinstance(value, str):
        name = whole_reference(value)
        if name is not None:
            return lookup(name)
        if "{{" not in value:
            return value
        return REFERENCE_RE.sub(lambda m: text_form(lookup(m.group(1))), value)
    if isinstance(value, Mapping):
        return {resolve(k, lookup) if isinstance(k, str) else k: resolve(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            resolved = resolve(item, lookup)
            if isinstance(item, str) and whole_reference(item) is not None and isinstance(resolved, list):
                out.extend(resolved)
            else:
                out.append(resolved)
        return out
    return value


def text_form(value: Any) -> str:
    """How a value reads inside text: strings as they are, booleans lower-case, structures as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), default=str)
