"""Evaluating runbook data the way SSM Automation does: parameters, selectors, output types, branch choices.

These are the rules a runbook author relies on and that are easy to get subtly wrong, kept pure so the lint,
the sandbox's engine and unit tests share one implementation:

* parameter values arrive as ``{name: [strings]}`` (StartAutomationExecution's shape) and are checked against
  the parameter's type, ``allowedValues``, ``allowedPattern`` and size limits before anything runs;
* output ``Selector`` and ``PropertySelector`` are JSONPath, in the subset AWS documents for runbooks;
* output ``Type`` conversions follow "Using action outputs as inputs" (String <-> Integer/Boolean/StringList,
  one-element lists to scalars);
* ``aws:branch`` operators and their And / Or / Not combinations;
* ``DesiredValues`` are compared with the property's Python string form (a boolean reads ``True`` / ``False``),
  which is how AWS's own failure message renders it: ``Property value 'False' from the API output is not in
  the desired values. Desired values: ['True'].``
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from drift_repair.core.errors import DriftRepairError
from drift_repair.core.runbook import ParameterSpec, text_form


class ParameterError(DriftRepairError, ValueError):
    """A parameter value the runbook refuses; the message is what StartAutomationExecution answers."""


class SelectorError(DriftRepairError, ValueError):
    """A selector outside the JSONPath subset runbooks support."""


class OutputTypeError(DriftRepairError, ValueError):
    """A selected value that cannot be converted to the output's declared Type."""


class BranchError(DriftRepairError, ValueError):
    """An aws:branch choice that cannot be evaluated (unknown operator, non-numeric value, ...)."""


# ---------------------------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class BoundParameters:
    """Parameter values after checking: ``values`` typed for the engine, ``display`` as the API shows them."""

    values: dict[str, Any]
    display: dict[str, list[str]]


_INT_RE = re.compile(r"^[+-]?\d+$")


def bind_parameters(specs: Mapping[str, ParameterSpec], given: Mapping[str, Sequence[str]]) -> BoundParameters:
    """Check the caller's values against the runbook's parameters and fill in defaults.

    Raises ParameterError with the message StartAutomationExecution gives for the first problem.
    """
    for name in given:
        if name not in specs:
            raise ParameterError(f'Parameter "{name}" is not defined in the document.')
    values: dict[str, Any] = {}
    display: dict[str, list[str]] = {}
    for name, spec in specs.items():
        if name in given:
            raw = given[name]
            if isinstance(raw, str) or not all(isinstance(v, str) for v in raw):
                raise ParameterError(f'Parameter "{name}" must be a list of strings.')
            value = _from_strings(spec, list(raw))
            _check_constraints(spec, value)
        elif spec.has_default:
            value = _from_default(spec)
        else:
            raise ParameterError(f"Missing required parameter: {name} in user inputs.")
        values[name] = value
        display[name] = display_values(value)
    return BoundParameters(values, display)


def _from_strings(spec: ParameterSpec, raw: list[str]) -> Any:
    name, ptype = spec.name, spec.type
    if spec.is_list:
        if ptype == "MapList":
            return [_json_map(name, item) for item in raw]
        return raw
    if len(raw) != 1:
        raise ParameterError(f'Parameter "{name}" of type {ptype} takes exactly one value, not {len(raw)}.')
    text = raw[0]
    if ptype == "Integer":
        if not _INT_RE.match(text.strip()):
            raise ParameterError(f'Parameter "{name}" has value "{text}" which is not a valid Integer.')
        return int(text)
    if ptype == "Boolean":
        if text.strip().lower() not in ("true", "false"):
            raise ParameterError(f'Parameter "{name}" has value "{text}" which is not a valid Boolean.')
        return text.strip().lower() == "true"
    if ptype == "StringMap":
        return _json_map(name, text)
    return text


def _json_map(name: str, text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise ParameterError(f'Parameter "{name}" has value "{text}" which is not a JSON object.')
    return parsed


def _from_default(spec: ParameterSpec) -> Any:
    """Defaults are written in the runbook with YAML types; bring them to the parameter's type."""
    default = spec.default
    if spec.is_list:
        if default is None or default == "":
            return []
        return list(default) if isinstance(default, list) else [default]
    if spec.type == "Integer":
        if isinstance(default, bool) or default is None:
            return default
        return int(default) if isinstance(default, (int, str)) and _INT_RE.match(str(default)) else default
    if spec.type == "Boolean":
        if isinstance(default, str):
            return default.strip().lower() == "true"
        return bool(default)
    if spec.type == "StringMap":
        return default if isinstance(default, dict) else {}
    return "" if default is None else str(default) if not isinstance(default, str) else default


def _check_constraints(spec: ParameterSpec, value: Any) -> None:
    items = value if isinstance(value, list) else [value]
    name = spec.name
    if spec.is_list:
        if spec.min_items is not None and len(items) < spec.min_items:
            raise ParameterError(f'Parameter "{name}" must have at least {spec.min_items} items.')
        if spec.max_items is not None and len(items) > spec.max_items:
            raise ParameterError(f'Parameter "{name}" can have at most {spec.max_items} items.')
    for item in items:
        if isinstance(item, dict):
            continue
        text = text_form(item)
        if spec.allowed_values is not None and text not in spec.allowed_values:
            allowed = ", ".join(spec.allowed_values)
            raise ParameterError(f'Parameter "{name}" has value "{text}" not found in [{allowed}].')
        if spec.allowed_pattern is not None and not _pattern_matches(spec.allowed_pattern, text):
            raise ParameterError(f'Parameter "{name}" has value "{text}" not matching "{spec.allowed_pattern}".')
        if spec.min_chars is not None and len(text) < spec.min_chars:
            raise ParameterError(f'Parameter "{name}" must have at least {spec.min_chars} characters.')
        if spec.max_chars is not None and len(text) > spec.max_chars:
            raise ParameterError(f'Parameter "{name}" can have at most {spec.max_chars} characters.')


def _pattern_matches(pattern: str, text: str) -> bool:
    """AWS matches the whole value (Java's ``Matcher.matches``); runbook patterns are anchored anyway."""
    try:
        return re.fullmatch(pattern, text, flags=re.DOTALL) is not None
    except re.error as exc:
        raise ParameterError(f'allowedPattern "{pattern}" is not a valid regular expression: {exc}') from None


def pattern_matches(pattern: str, text: str) -> bool:
    """Public form of the allowedPattern check (the lint checks defaults with it)."""
    return _pattern_matches(pattern, text)


def display_values(value: Any) -> list[str]:
    """A typed value as the API's ``{name: [strings]}`` shows it (maps as JSON, booleans lower-case)."""
    if isinstance(value, list):
        return [text_form(v) for v in value]
    return [text_form(value)]


# ---------------------------------------------------------------------------------------------- JSONPath subset

_TOKEN_RE = re.compile(
    r"""
    \.\.(?P<deep>[A-Za-z0-9_\-$@]+|\*)       # ..name  recursive descent
  | \.(?P<name>[A-Za-z0-9_\-$@]+|\*)          # .name   child, .* wildcard
  | \[\s*(?P<index>-?\d+)\s*\]                # [0]     index
  | \[\s*\*\s*\]                              # [*]     wildcard
  | \[\s*'(?P<sq>[^']*)'\s*\]                 # ['name']
  | \[\s*"(?P<dq>[^"]*)"\s*\]                 # ["name"]
    """,
    re.VERBOSE,
)


def _tokens(selector: str) -> list[tuple[str, Any]]:
    text = selector.strip()
    if not text.startswith("$"):
        raise SelectorError(f"selector {selector!r} must start with $")
    pos, tokens = 1, []
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            raise SelectorError(
                f"selector {selector!r}: unsupported syntax at {text[pos:]!r} "
                "(runbook selectors use $, .name, ..name, [n], [*] and ['name'])"
            )
        if match.group("deep") is not None:
            tokens.append(("deep", match.group("deep")))
        elif match.group("name") is not None:
            tokens.append(("wild", None) if match.group("name") == "*" else ("key", match.group("name")))
        elif match.group("index") is not None:
            tokens.append(("index", int(match.group("index"))))
        elif match.group("sq") is not None or match.group("dq") is not None:
            tokens.append(("key", match.group("sq") if match.group("sq") is not None else match.group("dq")))
        else:
            tokens.append(("wild", None))
        pos = match.end()
    return tokens


def is_multi_selector(selector: str) -> bool:
    """Whether the selector can match several values (wildcards, recursive descent): its result is a list."""
    return any(kind in ("wild", "deep") for kind, _ in _tokens(selector))


def validate_selector(selector: str) -> None:
    _tokens(selector)


def select(data: Any, selector: str) -> list[Any]:
    """Every value ``selector`` matches in ``data``, in document order."""
    current = [data]
    for kind, arg in _tokens(selector):
        nxt: list[Any] = []
        for node in current:
            nxt.extend(_step(node, kind, arg))
        current = nxt
    return current


def _step(node: Any, kind: str, arg: Any) -> list[Any]:
    if kind == "key":
        return [node[arg]] if isinstance(node, Mapping) and arg in node else []
    if kind == "index":
        if isinstance(node, list) and -len(node) <= arg < len(node):
            return [node[arg]]
        return []
    if kind == "wild":
        if isinstance(node, Mapping):
            return list(node.values())
        return list(node) if isinstance(node, list) else []
    return _deep(node, arg)


def _deep(node: Any, name: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(node, Mapping):
        for key, value in node.items():
            if name in ("*", key):
                found.append(value)
            found.extend(_deep(value, name))
    elif isinstance(node, list):
        for item in node:
            if name == "*":
                found.append(item)
            found.extend(_deep(item, name))
    return found


def select_one(data: Any, selector: str) -> tuple[bool, Any]:
    """(found, value): a single value for a plain path, the list of matches for a multi-value selector."""
    matches = select(data, selector)
    if is_multi_selector(selector):
        return bool(matches), matches
    if not matches:
        return False, None
    return True, matches[0]


# ---------------------------------------------------------------------------------------------- output types


def convert_output(value: Any, out_type: str) -> Any:
    """Convert a selected value to the output's Type as Automation does, or raise OutputTypeError."""
    converter = _CONVERTERS.get(out_type)
    if converter is None:
        raise OutputTypeError(f"unknown output type {out_type}")
    return converter(value)


def _unwrap_single(value: Any, out_type: str) -> Any:
    if isinstance(value, list):
        if len(value) == 1:
            return value[0]
        raise OutputTypeError(f"a list of {len(value)} values cannot be converted to {out_type}")
    return value


def _to_string(value: Any) -> str:
    value = _unwrap_single(value, "String")
    if isinstance(value, (str, int, float, bool)):
        return text_form(value)
    raise OutputTypeError(f"a {_kind(value)} cannot be converted to String")


def _to_integer(value: Any) -> int:
    value = _unwrap_single(value, "Integer")
    if isinstance(value, bool):
        raise OutputTypeError("a Boolean cannot be converted to Integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        return int(value)
    raise OutputTypeError(f"{_shown(value)} cannot be converted to Integer")


def _to_boolean(value: Any) -> bool:
    value = _unwrap_single(value, "Boolean")
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise OutputTypeError(f"{_shown(value)} cannot be converted to Boolean")


def _to_string_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if any(isinstance(i, (dict, list)) for i in items):
        raise OutputTypeError("a list of maps or lists cannot be converted to StringList")
    return [text_form(i) for i in items]


def _to_string_map(value: Any) -> dict[str, Any]:
    value = _unwrap_single(value, "StringMap") if isinstance(value, list) else value
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    raise OutputTypeError(f"{_shown(value)} cannot be converted to StringMap")


def _to_map_list(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    if all(isinstance(i, dict) for i in items):
        return list(items)
    raise OutputTypeError("only a list of maps can be converted to MapList")


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "String": _to_string,
    "Integer": _to_integer,
    "Boolean": _to_boolean,
    "StringList": _to_string_list,
    "StringMap": _to_string_map,
    "MapList": _to_map_list,
}


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _shown(value: Any) -> str:
    text = text_form(value)
    return f"value {text[:80]!r}"


# ---------------------------------------------------------------------------------------------- aws:branch

STRING_OPERATORS = ("StringEquals", "EqualsIgnoreCase", "StartsWith", "EndsWith", "Contains")
NUMERIC_OPERATORS = (
    "NumericEquals",
    "NumericGreater",
    "NumericLesser",
    "NumericGreaterOrEquals",
    "NumericLesserOrEquals",
)
BOOLEAN_OPERATORS = ("BooleanEquals",)
BRANCH_OPERATORS: tuple[str, ...] = STRING_OPERATORS + NUMERIC_OPERATORS + BOOLEAN_OPERATORS
LOGICAL_OPERATORS = ("And", "Or", "Not")


def _number(value: Any, operator: str) -> float:
    if isinstance(value, bool):
        raise BranchError(f"{operator}: {text_form(value)!r} is not a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise BranchError(f"{operator}: {text_form(value)!r} is not a number")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BranchError(f"BooleanEquals: {text_form(value)!r} is not a boolean")


def _contains(variable: Any, operand: Any) -> bool:
    if isinstance(variable, list):
        return text_form(operand) in [text_form(v) for v in variable]
    return text_form(operand) in text_form(variable)


_OPERATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "StringEquals": lambda v, o: text_form(v) == text_form(o),
    "EqualsIgnoreCase": lambda v, o: text_form(v).lower() == text_form(o).lower(),
    "StartsWith": lambda v, o: text_form(v).startswith(text_form(o)),
    "EndsWith": lambda v, o: text_form(v).endswith(text_form(o)),
    "Contains": _contains,
    "NumericEquals": lambda v, o: _number(v, "NumericEquals") == _number(o, "NumericEquals"),
    "NumericGreater": lambda v, o: _number(v, "NumericGreater") > _number(o, "NumericGreater"),
    "NumericLesser": lambda v, o: _number(v, "NumericLesser") < _number(o, "NumericLesser"),
    "NumericGreaterOrEquals": lambda v, o: _number(v, "NumericGreaterOrEquals") >= _number(o, "NumericGreaterOrEquals"),
    "NumericLesserOrEquals": lambda v, o: _number(v, "NumericLesserOrEquals") <= _number(o, "NumericLesserOrEquals"),
    "BooleanEquals": lambda v, o: _boolean(v) == _boolean(o),
}


def condition_problems(condition: Any, where: str = "choice") -> list[str]:
    """What is wrong with a branch condition's shape (empty when it is well formed)."""
    if not isinstance(condition, Mapping):
        return [f"{where} is not a mapping"]
    logical = [k for k in LOGICAL_OPERATORS if k in condition]
    operators = [k for k in condition if k in BRANCH_OPERATORS]
    unknown = [k for k in condition if k not in (*BRANCH_OPERATORS, *LOGICAL_OPERATORS, "Variable", "NextStep")]
    problems = [f"{where}: unknown operator {k!r}" for k in unknown]
    if len(logical) + len(operators) != 1:
        found = ", ".join(logical + operators) or "none"
        problems.append(f"{where} needs exactly one operator (found {found})")
        return problems
    if logical:
        key = logical[0]
        inner = condition[key]
        if key == "Not":
            problems += condition_problems(inner, f"{where}.Not")
        elif not isinstance(inner, list) or not inner:
            problems.append(f"{where}.{key} must be a non-empty list of conditions")
        else:
            for i, sub in enumerate(inner):
                problems += condition_problems(sub, f"{where}.{key}[{i}]")
        if "Variable" in condition:
            problems.append(f"{where}: Variable belongs inside the {key} conditions")
    elif "Variable" not in condition:
        problems.append(f"{where}: {operators[0]} needs a Variable")
    return problems


def evaluate_condition(condition: Mapping[str, Any], resolve: Callable[[Any], Any]) -> bool:
    """Evaluate one branch condition; ``resolve`` turns ``{{ }}`` references into values."""
    problems = condition_problems(condition)
    if problems:
        raise BranchError("; ".join(problems))
    if "And" in condition:
        return all(evaluate_condition(c, resolve) for c in condition["And"])
    if "Or" in condition:
        return any(evaluate_condition(c, resolve) for c in condition["Or"])
    if "Not" in condition:
        return not evaluate_condition(condition["Not"], resolve)
    operator = next(k for k in condition if k in BRANCH_OPERATORS)
    variable = resolve(condition["Variable"])
    operand = resolve(condition[operator])
    return _OPERATIONS[operator](variable, operand)


def choose_branch(inputs: Mapping[str, Any], resolve: Callable[[Any], Any]) -> str | None:
    """The NextStep of the first true choice, else the Default, else None (the next step runs)."""
    choices = inputs.get("Choices")
    if not isinstance(choices, list) or not choices:
        raise BranchError("Choices must be a non-empty list")
    for i, choice in enumerate(choices):
        if not isinstance(choice, Mapping) or not isinstance(choice.get("NextStep"), str):
            raise BranchError(f"Choices[{i}] needs a NextStep")
        condition = {k: v for k, v in choice.items() if k != "NextStep"}
        if evaluate_condition(condition, resolve):
            return str(choice["NextStep"])
    default = inputs.get("Default")
    return str(default) if isinstance(default, str) and default else None


# ---------------------------------------------------------------------------------------------- time

_DURATION_RE = re.compile(
    r"^P(?:(?P<years>\d+(?:\.\d+)?)Y)?(?:(?P<months>\d+(?:\.\d+)?)M)?(?:(?P<weeks>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_SECONDS = {
    "years": 365 * 86400.0,
    "months": 30 * 86400.0,
    "weeks": 7 * 86400.0,
    "days": 86400.0,
    "hours": 3600.0,
    "minutes": 60.0,
    "seconds": 1.0,
}
MAX_SLEEP_SECONDS = 604800  # aws:sleep: "Automation supports a maximum delay of 604800 seconds (7 days)"


def parse_duration(text: str) -> float:
    """Seconds in an ISO 8601 duration (``PT10M``, ``P1DT2H``, ``PT0.5S``); negative durations are refused."""
    match = _DURATION_RE.match(text.strip()) if isinstance(text, str) else None
    if match is None or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration (for example PT10M)")
    return sum(float(v) * _UNIT_SECONDS[k] for k, v in match.groupdict().items() if v is not None)


def parse_timestamp(text: str) -> dt.datetime:
    """An ISO 8601 timestamp (``2020-01-01T01:00:00Z``), as an aware UTC datetime."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 timestamp (for example 2020-01-01T01:00:00Z)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


# ---------------------------------------------------------------------------------------------- DesiredValues


def property_text(value: Any) -> str:
    """A property's string form for DesiredValues: Python's ``str`` (``True``, ``False``, ``7``)."""
    return str(value)


def desired_texts(desired: Any) -> list[str]:
    values = desired if isinstance(desired, list) else [desired]
    return [property_text(v) for v in values]


def property_matches(selector: str, response: Any, desired: Any) -> tuple[bool, str]:
    """Whether the property selected from ``response`` is one of ``desired``; also the message AWS gives.

    For a selector matching several values (``[*]``), every value must be a desired one.
    """
    wanted = desired_texts(desired)
    found, value = select_one(response, selector)
    if not found:
        return False, f"Property {selector} is not found in the API output. Desired values: {wanted!r}."
    values = value if is_multi_selector(selector) else [value]
    if all(property_text(v) in wanted for v in values):
        return True, ""
    shown = property_text(value)
    return (
        False,
        f"Property value '{shown}' from the API output is not in the desired values. Desired values: {wanted!r}.",
    )
