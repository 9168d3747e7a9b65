"""SelectResourceConfig: the subset of AWS Config's advanced-query SQL that the project uses.

Supported: ``SELECT property[, property...] [WHERE condition]`` where a condition is ``property = literal``
or ``property IN (literal, ...)`` combined with ``AND`` / ``OR`` and parentheses. Properties are the
advanced-query names (``resourceId``, ``resourceType``, ``configuration.x.y``,
``supplementaryConfiguration.X.y``, ``tags.key``...); a property that crosses an array matches when any
element matches, and selecting it returns the array with just the selected fields, as AWS does.

Anything else (aggregates, GROUP BY / ORDER BY, LIKE, BETWEEN, NOT, ``*``, comparisons other than ``=``)
is refused with ``InvalidExpressionException``, the error AWS gives for an expression it cannot run: the
sandbox never silently answers a query it does not understand.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sandbox.server import AwsError

MAX_LIMIT = 100

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?\d+(?:\.\d+)?)(?![\w.])
      | (?P<op><=|>=|!=|<>|[=,()*<>])
      | (?P<word>[A-Za-z_][\w.:-]*)
    )""",
    re.VERBOSE,
)
_UNSUPPORTED_WORDS = {
    "GROUP",
    "ORDER",
    "BY",
    "LIKE",
    "BETWEEN",
    "NOT",
    "COUNT",
    "MIN",
    "MAX",
    "SUM",
    "AVG",
    "DISTINCT",
    "FROM",
    "JOIN",
    "LIMIT",
    "HAVING",
    "AS",
    "IS",
    "NULL",
}


def invalid(message: str) -> AwsError:
    return AwsError("InvalidExpressionException", message)


@dataclass(frozen=True)
class Token:
    kind: str  # string | number | op | word | end
    text: str
    value: Any = None


def tokenize(expression: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    text = expression.rstrip().rstrip(";")
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise invalid(f"Invalid expression: unexpected character at position {pos}: {text[pos : pos + 10]!r}")
        pos = match.end()
        if match["string"] is not None:
            tokens.append(Token("string", match["string"], match["string"][1:-1].replace("''", "'")))
        elif match["number"] is not None:
            raw = match["number"]
            tokens.append(Token("number", raw, float(raw) if "." in raw else int(raw)))
        elif match["op"] is not None:
            tokens.append(Token("op", match["op"]))
        else:
            tokens.append(Token("word", match["word"]))
    tokens.append(Token("end", ""))
    return tokens


# A condition tree: ("or", [..]) | ("and", [..]) | ("in", path, [values]) (= is IN with one value)
Condition = tuple[Any, ...]


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    where: Condition | None


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token.kind == "word" and token.text.upper() == word:
            self.pos += 1
            return True
        return False

    def expect_op(self, op: str) -> None:
        token = self.take()
        if token.kind != "op" or token.text != op:
            raise invalid(f"Invalid expression: expected {op!r} near {token.text or 'end of expression'!r}")

    def path(self) -> str:
        token = self.take()
        if token.kind == "op" and token.text == "*":
            raise invalid("Invalid expression: SELECT * is not supported; name the properties to select")
        if token.kind != "word":
            raise invalid(f"Invalid expression: expected a property name near {token.text or 'end'!r}")
        self._refuse(token)
        if token.text.upper() in ("SELECT", "WHERE", "AND", "OR", "IN"):
            raise invalid(f"Invalid expression: expected a property name, found {token.text!r}")
        return token.text

    @staticmethod
    def _refuse(token: Token) -> None:
        if token.kind == "word" and token.text.upper() in _UNSUPPORTED_WORDS:
            raise invalid(f"Invalid expression: {token.text.upper()} is not supported by this sandbox's advanced query")

    def literal(self) -> Any:
        token = self.take()
        if token.kind in ("string", "number"):
            return token.value
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        self._refuse(token)
        raise invalid(f"Invalid expression: expected a value near {token.text or 'end'!r}")

    def parse(self) -> Query:
        if not self.keyword("SELECT"):
            raise invalid("Invalid expression: the query must start with SELECT")
        fields = [self.path()]
        while self.peek().kind == "op" and self.peek().text == ",":
            self.take()
            fields.append(self.path())
        where = None
        if self.keyword("WHERE"):
            where = self.disjunction()
        token = self.peek()
        if token.kind != "end":
            self._refuse(token)
            raise invalid(f"Invalid expression: unexpected {token.text!r}")
        return Query(tuple(fields), where)

    def disjunction(self) -> Condition:
        parts = [self.conjunction()]
        while self.keyword("OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else ("or", parts)

    def conjunction(self) -> Condition:
        parts = [self.factor()]
        while self.keyword("AND"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else ("and", parts)

    def factor(self) -> Condition:
        token = self.peek()
        if token.kind == "op" and token.text == "(":
            self.take()
            inner = self.disjunction()
            self.expect_op(")")
            return inner
        self._refuse(token)
        path = self.path()
        op = self.take()
        if op.kind == "op" and op.text == "=":
            return ("in", path, [self.literal()])
        if op.kind == "word" and op.text.upper() == "IN":
            self.expect_op("(")
            values = [self.literal()]
            while self.peek().kind == "op" and self.peek().text == ",":
                self.take()
                values.append(self.literal())
            self.expect_op(")")
            return ("in", path, values)
        self._refuse(op)
        raise invalid(f"Invalid expression: operator {op.text!r} is not supported (use = or IN)")


def parse(expression: str) -> Query:
    if not expression or not expression.strip():
        raise invalid("Invalid expression: the expression is empty")
    return _Parser(tokenize(expression)).parse()


# --------------------------------------------------------------------------- evaluation


def values_at(doc: Any, path: str) -> list[Any]:
    """Every value at a dotted path, looking through arrays (advanced query flattens them)."""
    current = [doc]
    for part in path.split("."):
        nxt: list[Any] = []
        for value in current:
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, dict) and part in v:
                    nxt.append(v[part])
        current = nxt
    flat: list[Any] = []
    for value in current:
        flat.extend(value if isinstance(value, list) else [value])
    return flat


def _same(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return str(actual).lower() == str(wanted).lower()
    if isinstance(actual, (int, float)) and isinstance(wanted, (int, float)):
        return float(actual) == float(wanted)
    return str(actual) == str(wanted)


def matches(doc: dict[str, Any], condition: Condition | None) -> bool:
    if condition is None:
        return True
    kind = condition[0]
    if kind == "or":
        return any(matches(doc, c) for c in condition[1])
    if kind == "and":
        return all(matches(doc, c) for c in condition[1])
    _, path, wanted = condition
    found = values_at(doc, path)
    return any(_same(v, w) for v in found for w in wanted)


def _project(value: Any, parts: list[str]) -> Any:
    if not parts:
        return value
    if isinstance(value, list):
        out = [_project(v, parts) for v in value]
        return [v for v in out if v is not _MISSING]
    if isinstance(value, dict) and parts[0] in value:
        inner = _project(value[parts[0]], parts[1:])
        return _MISSING if inner is _MISSING else {parts[0]: inner}
    return _MISSING


_MISSING = object()


def _merge(into: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if key in into and isinstance(into[key], dict) and isinstance(value, dict):
            _merge(into[key], value)
        elif key in into and isinstance(into[key], list) and isinstance(value, list) and len(into[key]) == len(value):
            for a, b in zip(into[key], value, strict=True):
                if isinstance(a, dict) and isinstance(b, dict):
                    _merge(a, b)
        else:
            into[key] = value


def select(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in fields:
        part = _project(doc, field.split("."))
        if part is not _MISSING:
            _merge(out, part)
    return out


# --------------------------------------------------------------------------- paging


def _fingerprint(expression: str) -> str:
    return hashlib.sha256(expression.encode()).hexdigest()[:16]


def encode_token(expression: str, offset: int) -> str:
    raw = json.dumps({"o": offset, "q": _fingerprint(expression)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(expression: str, token: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        if data["q"] != _fingerprint(expression) or not isinstance(data["o"], int) or data["o"] < 0:
            raise ValueError
        return int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise AwsError(
            "InvalidNextTokenException", "The specified next token is invalid. Specify a valid next token."
        ) from None


def check_limit(limit: Any, maximum: int = MAX_LIMIT, name: str = "limit") -> int:
    """The page size: 0 or absent means the maximum; above it, InvalidLimitException as AWS answers."""
    if limit is None or limit == 0:
        return maximum
    if not isinstance(limit, int) or limit < 0 or limit > maximum:
        raise AwsError(
            "InvalidLimitException",
            f"Value '{limit}' at '{name}' failed to satisfy constraint: Member must have value less than or equal "
            f"to {maximum}",
        )
    return limit


def run(expression: str, documents: list[dict[str, Any]], limit: Any, next_token: str | None) -> dict[str, Any]:
    """The SelectResourceConfig response: Results (JSON strings), QueryInfo, NextToken."""
    query = parse(expression)
    page = check_limit(limit)
    offset = decode_token(expression, next_token) if next_token else 0
    hits = [select(d, query.fields) for d in documents if matches(d, query.where)]
    chunk = hits[offset : offset + page]
    out: dict[str, Any] = {
        "Results": [json.dumps(h, separators=(",", ":")) for h in chunk],
        "QueryInfo": {"SelectFields": [{"Name": f} for f in query.fields]},
    }
    if offset + page < len(hits):
        out["NextToken"] = encode_token(expression, offset + page)
    return out
