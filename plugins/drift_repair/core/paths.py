"""Attribute paths in mappings: JSONPath as parsed by jsonpath-ng, evaluated by a small fast walker.

Mappings write paths such as ``rule[0].apply_server_side_encryption_by_default[0].sse_algorithm`` or
``ipPermissions[*]``. jsonpath-ng parses and validates them; the common subset (fields, indices, ``[*]``)
is then compiled into a tuple of steps, because compare evaluates a path about a million times on a large
estate and jsonpath-ng's ``find`` costs several microseconds a call. Anything outside the subset falls back
to jsonpath-ng itself, so every valid JSONPath still works.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonpath_ng import jsonpath
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as _parse

from drift_repair.core.models import SENSITIVE_VALUE, UNKNOWN_VALUE

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>", "__bool__": lambda self: False})()

_WILDCARD = object()


def _flatten(node: Any) -> list[Any] | None:
    """jsonpath-ng AST → list of steps (str field, int index, _WILDCARD) or None when outside the subset."""
    if isinstance(node, jsonpath.Root):
        return []
    if isinstance(node, jsonpath.Child):
        left, right = _flatten(node.left), _flatten(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, jsonpath.Fields) and len(node.fields) == 1:
        return [_WILDCARD if node.fields[0] == "*" else node.fields[0]]
    if isinstance(node, jsonpath.Index) and len(node.indices) == 1:
        return [node.indices[0]]
    if isinstance(node, jsonpath.Slice) and node.start is None and node.end is None and node.step is None:
        return [_WILDCARD]
    if isinstance(node, jsonpath.Wildcard):
        return [_WILDCARD]
    return None


@dataclass(frozen=True, slots=True)
class Path:
    """A compiled attribute path. ``get`` returns the value, a list for wildcard paths, or MISSING."""

    text: str
    steps: tuple[Any, ...] | None
    expr: Any
    has_wildcard: bool

    def get(self, document: Any) -> Any:
        if self.steps is None:
            matches = [m.value for m in self.expr.find(document)]
            if not matches:
                return MISSING
            return matches if self.has_wildcard or len(matches) > 1 else matches[0]
        if self.has_wildcard:
            return _walk(document, self.steps, 0)
        return _walk_plain(document, self.steps)

    def __str__(self) -> str:
        return self.text


def _walk_wildcard(node: Any, steps: tuple[Any, ...], pos: int) -> Any:
    if isinstance(node, list):
        items = node
    elif isinstance(node, dict):
        items = list(node.values())
    else:
        return MISSING
    values = (_walk(item, steps, pos + 1) for item in items)
    return [v for v in values if v is not MISSING]


def _walk_plain(node: Any, steps: tuple[Any, ...]) -> Any:
    """Fields and indices only (the common case): one tight loop, no recursion."""
    for step in steps:
        if node.__class__ is dict:
            if step.__class__ is not str:
                return MISSING
            node = node.get(step, MISSING)
            if node is MISSING:
                return MISSING
        elif node.__class__ is list and step.__class__ is int:
            if not -len(node) <= step < len(node):
                return MISSING
            node = node[step]
        elif node is UNKNOWN_VALUE or node is SENSITIVE_VALUE:
            return node
        else:
            return MISSING
    return node


def _walk(node: Any, steps: tuple[Any, ...], i: int) -> Any:
    for pos in range(i, len(steps)):
        if node is UNKNOWN_VALUE or node is SENSITIVE_VALUE:
            return node  # below an unknown (or sensitive) block everything is unknown (or sensitive) too
        step = steps[pos]
        if step is _WILDCARD:
            return _walk_wildcard(node, steps, pos)
        if isinstance(step, str):
            node = node.get(step, MISSING) if isinstance(node, dict) else MISSING
        elif isinstance(node, list) and -len(node) <= step < len(node):
            node = node[step]
        else:
            return MISSING
        if node is MISSING:
            return MISSING
    return node


@lru_cache(maxsize=4096)
def compile_path(text: str) -> Path:
    """Parse a JSONPath once; raises ValueError with the path in the message when it is invalid."""
    try:
        expr = _parse(text)
    except (JsonPathLexerError, JsonPathParserError, Exception) as exc:  # jsonpath-ng raises bare Exception too
        raise ValueError(f"invalid attribute path {text!r}: {exc}") from None
    steps = _flatten(expr)
    has_wildcard = "*" in text or (steps is not None and _WILDCARD in steps)
    return Path(text=text, steps=tuple(steps) if steps is not None else None, expr=expr, has_wildcard=has_wildcard)
