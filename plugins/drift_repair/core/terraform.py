"""Expected values: the JSON of ``terraform show -json`` for a plan or a state.

A plan gives the designed values in ``resource_changes[].change.after`` (with ``after_unknown`` and
``after_sensitive``) and ``planned_values``; a state gives them in ``values``. Values that Terraform does not
know yet, or marks sensitive, become :data:`UNKNOWN_VALUE` / :data:`SENSITIVE_VALUE` so that compare can
never turn them into a guess. The whole document is validated before anything is returned: callers never see
half-parsed input.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from drift_repair.core.errors import InputError
from drift_repair.core.jsonfile import decode_text, loads_json, read_json
from drift_repair.core.models import SENSITIVE_VALUE, UNKNOWN_VALUE

SUPPORTED_FORMAT_MAJOR = "1"

# Actions whose "after" is not a designed value: the resource is going away, or the entry is a data source.
_GONE_ACTIONS = frozenset({("delete",), ("forget",)})


@dataclass(frozen=True, slots=True)
class TerraformResource:
    """One managed resource instance as Terraform designs it."""

    address: str
    type: str
    name: str
    module_address: str
    index: Any  # None, an int (count) or a str (for_each)
    values: Mapping[str, Any]
    source: str
    actions: tuple[str, ...] = ("no-op",)
    # Top-level arguments and blocks written in the configuration; None when the document has no
    # ``configuration`` section (a state). Optional+computed attributes the user did not write come back
    # from the refreshed state, i.e. they are actual values, not design: mappings can skip them.
    configured: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class TerraformDocument:
    """A parsed ``terraform show -json`` document."""

    kind: str  # "plan" or "state"
    terraform_version: str
    resources: tuple[TerraformResource, ...]
    source: str

    def by_address(self) -> dict[str, TerraformResource]:
        return {r.address: r for r in self.resources}


_ADDRESS_RE = re.compile(
    r"""^(?P<module>(?:module\.[A-Za-z_][\w-]*(?:\[(?:\d+|"(?:[^"\\]|\\.)*")\])?\.)*)
        (?:(?P<data>data)\.)?
        (?P<type>[A-Za-z_][\w-]*)\.(?P<name>[A-Za-z_][\w-]*)
        (?:\[(?P<index>\d+|"(?:[^"\\]|\\.)*")\])?$""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Address:
    """A resource instance address such as ``module.net.aws_s3_bucket.logs["a"]``."""

    module: str
    mode: str
    type: str
    name: str
    index: int | str | None

    @classmethod
    def parse(cls, address: str) -> Address:
        match = _ADDRESS_RE.match(address)
        if not match:
            raise ValueError(f"not a Terraform resource address: {address!r}")
        raw_index = match["index"]
        index: int | str | None
        if raw_index is None:
            index = None
        elif raw_index.startswith('"'):
            index = raw_index[1:-1].encode().decode("unicode_escape")
        else:
            index = int(raw_index)
        return cls(
            module=match["module"].rstrip("."),
            mode="data" if match["data"] else "managed",
            type=match["type"],
            name=match["name"],
            index=index,
        )


def overlay_markers(values: Any, unknown: Any, sensitive: Any) -> Any:
    """Return ``values`` with unknown and sensitive leaves replaced by the sentinels.

    ``unknown`` / ``sensitive`` mirror the shape of ``values`` (``true`` at a marked node, nested
    objects/lists below it, ``false`` or absent elsewhere), as in ``after_unknown`` / ``after_sensitive``.
    Unknown values are absent from ``values`` in Terraform's JSON: they are inserted here.
    """
    if sensitive is True:
        return SENSITIVE_VALUE
    if unknown is True:
        return UNKNOWN_VALUE
    if not unknown and not sensitive:
        return values
    if isinstance(values, dict) or isinstance(unknown, dict) or isinstance(sensitive, dict):
        base = values if isinstance(values, dict) else {}
        u = unknown if isinstance(unknown, dict) else {}
        s = sensitive if isinstance(sensitive, dict) else {}
        return {key: overlay_markers(base.get(key), u.get(key), s.get(key)) for key in {*base, *u, *s}}
    if isinstance(values, list) or isinstance(unknown, list) or isinstance(sensitive, list):
        base_list = values if isinstance(values, list) else []
        u_list = unknown if isinstance(unknown, list) else []
        s_list = sensitive if isinstance(sensitive, list) else []
        length = max(len(base_list), len(u_list), len(s_list))
        return [
            overlay_markers(
                base_list[i] if i < len(base_list) else None,
                u_list[i] if i < len(u_list) else None,
                s_list[i] if i < len(s_list) else None,
            )
            for i in range(length)
        ]
    return values


def _require(condition: bool, source: str, problem: str) -> None:
    if not condition:
        raise InputError(source, problem)


def _walk_modules(module: Mapping[str, Any], source: str, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield ``(module_address, resource)`` for a module and its nested child modules."""
    _require(isinstance(module, dict), source, f"{where} is not an object")
    resources = module.get("resources", [])
    _require(isinstance(resources, list), source, f"{where}.resources is not a list")
    for i, resource in enumerate(resources):
        _require(isinstance(resource, dict), source, f"{where}.resources[{i}] is not an object")
        yield module.get("address", ""), resource
    children = module.get("child_modules", [])
    _require(isinstance(children, list), source, f"{where}.child_modules is not a list")
    for i, child in enumerate(children):
        yield from _walk_modules(child, source, f"{where}.child_modules[{i}]")


def _check_resource_fields(resource: Mapping[str, Any], source: str, where: str) -> None:
    for key in ("address", "type", "name"):
        _require(isinstance(resource.get(key), str), source, f"{where} has no string {key!r}")


def _module_of(address: str) -> str:
    try:
        return Address.parse(address).module
    except ValueError:
        return ""


def _from_values_module(root: Mapping[str, Any], source: str, where: str, label: str) -> list[TerraformResource]:
    out: list[TerraformResource] = []
    for module_address, resource in _walk_modules(root, source, where):
        _check_resource_fields(resource, source, f"{where} resource {resource.get('address')!r}")
        if resource.get("mode", "managed") != "managed":
            continue
        values = resource.get("values", {})
        _require(isinstance(values, dict), source, f"resource {resource['address']}: values is not an object")
        out.append(
            TerraformResource(
                address=resource["address"],
                type=resource["type"],
                name=resource["name"],
                module_address=module_address or _module_of(resource["address"]),
                index=resource.get("index"),
                values=overlay_markers(values, None, resource.get("sensitive_values")),
                source=label,
            )
        )
    return out


def _from_resource_changes(doc: Mapping[str, Any], source: str) -> list[TerraformResource]:
    changes = doc.get("resource_changes", [])
    _require(isinstance(changes, list), source, "resource_changes is not a list")
    out: list[TerraformResource] = []
    for i, rc in enumerate(changes):
        where = f"resource_changes[{i}]"
        _require(isinstance(rc, dict), source, f"{where} is not an object")
        _check_resource_fields(rc, source, where)
        change = rc.get("change")
        _require(isinstance(change, dict), source, f"{where} ({rc['address']}) has no change object")
        actions = change.get("actions", [])
        _require(
            isinstance(actions, list) and all(isinstance(a, str) for a in actions),
            source,
            f"{where} ({rc['address']}) change.actions is not a list of strings",
        )
        if rc.get("mode", "managed") != "managed" or tuple(actions) in _GONE_ACTIONS:
            continue
        if rc.get("deposed"):
            continue
        after = change.get("after")
        after_unknown = change.get("after_unknown")
        _require(
            isinstance(after, dict) or (after is None and after_unknown is True),
            source,
            f"{where} ({rc['address']}) change.after is not an object",
        )
        out.append(
            TerraformResource(
                address=rc["address"],
                type=rc["type"],
                name=rc["name"],
                module_address=rc.get("module_address") or _module_of(rc["address"]),
                index=rc.get("index"),
                values=overlay_markers(after or {}, after_unknown, change.get("after_sensitive")),
                source="plan:resource_changes.after",
                actions=tuple(actions),
            )
        )
    return out


_MODULE_CALL_RE = re.compile(r"module\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])?")


def _configured_keys(doc: Mapping[str, Any]) -> dict[tuple[tuple[str, ...], str], frozenset[str]]:
    """(module call path, "type.name") -> argument names written in the configuration section of a plan."""
    out: dict[tuple[tuple[str, ...], str], frozenset[str]] = {}

    def visit(module: Any, path: tuple[str, ...]) -> None:
        if not isinstance(module, Mapping):
            return
        for res in module.get("resources", []) or []:
            if isinstance(res, Mapping) and isinstance(res.get("expressions"), Mapping):
                out[(path, f"{res.get('type')}.{res.get('name')}")] = frozenset(res["expressions"])
        for name, call in (module.get("module_calls") or {}).items():
            if isinstance(call, Mapping):
                visit(call.get("module"), (*path, name))

    configuration = doc.get("configuration")
    if isinstance(configuration, Mapping):
        visit(configuration.get("root_module"), ())
    return out


def _attach_configured(
    resources: list[TerraformResource], configured: dict[tuple[tuple[str, ...], str], frozenset[str]]
) -> list[TerraformResource]:
    out = []
    for r in resources:
        call_path = tuple(_MODULE_CALL_RE.findall(r.module_address)) if r.module_address else ()
        keys = configured.get((call_path, f"{r.type}.{r.name}"), frozenset())
        out.append(dataclasses.replace(r, configured=keys))
    return out


def parse_document(doc: Any, source: str | Path = "<terraform json>") -> TerraformDocument:
    """Parse an already-loaded ``terraform show -json`` document (plan or state)."""
    src = str(source)
    _require(isinstance(doc, dict), src, "top level is not a JSON object; expected `terraform show -json` output")
    version = doc.get("format_version")
    _require(
        isinstance(version, str),
        src,
        "no format_version; expected the output of `terraform show -json` (plan or state)",
    )
    _require(
        version.split(".")[0] == SUPPORTED_FORMAT_MAJOR,
        src,
        f"unsupported format_version {version!r}; this tool reads version {SUPPORTED_FORMAT_MAJOR}.x",
    )
    tf_version = str(doc.get("terraform_version", ""))
    is_plan = "planned_values" in doc or "resource_changes" in doc
    if is_plan:
        resources = _from_resource_changes(doc, src)
        planned = doc.get("planned_values")
        if planned is not None and not doc.get("resource_changes"):
            # A plan without change entries (hand-trimmed, or very old Terraform): designed values are
            # in planned_values. Terraform 0.12+ lists every instance in resource_changes, no-ops included.
            _require(isinstance(planned, dict), src, "planned_values is not an object")
            root = planned.get("root_module", {})
            resources.extend(_from_values_module(root, src, "planned_values.root_module", "plan:planned_values"))
        if isinstance(doc.get("configuration"), Mapping):
            resources = _attach_configured(resources, _configured_keys(doc))
        kind = "plan"
    elif "values" in doc:
        values = doc["values"]
        _require(isinstance(values, dict), src, "values is not an object")
        resources = _from_values_module(values.get("root_module", {}), src, "values.root_module", "state")
        kind = "state"
    else:
        # `terraform show -json` of an empty state has only format_version (and terraform_version).
        _require(
            set(doc) <= {"format_version", "terraform_version"},
            src,
            "neither a plan (planned_values / resource_changes) nor a state (values)",
        )
        resources, kind = [], "state"
    duplicates = sorted(a for a, n in Counter(r.address for r in resources).items() if n > 1)
    _require(not duplicates, src, f"resource address listed twice: {', '.join(duplicates[:5])}")
    return TerraformDocument(kind=kind, terraform_version=tf_version, resources=tuple(resources), source=src)


class _NotRecognised(Exception):
    pass


class _FastChange(msgspec.Struct):
    actions: Any = None
    after: Any = None
    after_unknown: Any = None
    after_sensitive: Any = None


class _FastChangeEntry(msgspec.Struct):
    address: Any = None
    module_address: Any = None
    mode: Any = None
    type: Any = None
    name: Any = None
    index: Any = None
    deposed: Any = None
    change: _FastChange | None = None


class _FastDocument(msgspec.Struct):
    """The parts of a plan/state compare needs. ``before``, ``prior_state`` and (normally) ``planned_values``
    are redundant copies of the same resources: skipping them without building objects makes a large plan
    parse several times faster and in a fraction of the memory."""

    format_version: Any = None
    terraform_version: Any = None
    resource_changes: list[_FastChangeEntry] | None = None
    planned_values: msgspec.Raw = msgspec.Raw()  # empty when absent
    configuration: Any = None
    values: Any = None


def _without_none(struct: msgspec.Struct) -> dict[str, Any]:
    out = {}
    for name in struct.__struct_fields__:
        value = getattr(struct, name)
        if value is not None and not isinstance(value, msgspec.Raw):
            out[name] = value
    return out


def _fast_parse(data: bytes) -> dict[str, Any]:
    fast = msgspec.json.decode(data, type=_FastDocument)
    if fast.resource_changes is None and fast.values is None and not len(fast.planned_values):
        raise _NotRecognised  # let the careful path say what this document is not
    doc = _without_none(fast)
    if fast.resource_changes is not None:
        changes = []
        for entry in fast.resource_changes:
            rc = _without_none(entry)
            if entry.change is not None:
                rc["change"] = _without_none(entry.change)
            changes.append(rc)
        doc["resource_changes"] = changes
    if len(fast.planned_values):
        # Only needed when resource_changes does not list the resources (see parse_document).
        doc["planned_values"] = {} if fast.resource_changes else msgspec.json.decode(fast.planned_values)
    return doc


def load(path: str | Path) -> TerraformDocument:
    """Read and parse a plan or state JSON file (UTF-8, or UTF-16/32 with a byte-order mark).

    Well-formed documents take a fast path (msgspec, decoding only what compare uses); anything msgspec
    refuses is read again by the careful path, whose messages name the file and the problem precisely.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError:
        return parse_document(read_json(p), p)  # read_json words the error
    data = raw if raw[:1] == b"{" else decode_text(raw, p).encode("utf-8")
    try:
        doc = _fast_parse(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeError, _NotRecognised):
        return parse_document(read_json(p), p)
    return parse_document(doc, p)


def loads(text: str, source: str = "<terraform json>") -> TerraformDocument:
    return parse_document(loads_json(text, source), source)
