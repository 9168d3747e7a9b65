"""compare(expected, actual) -> DiffRows: attribute by attribute, through the declarative mappings.

Verdict rules (DESIGN.md decision 4): ``OK`` only when both sides are known and equal after normalisation;
``NG`` when both are known and differ; ``UNKNOWN`` otherwise (not recorded by Config, Config could not
evaluate, no value in the item and no AWS default, a value Terraform knows only after apply, a sensitive
value, a value a normaliser does not understand). Nothing here knows a resource type: adding one is adding
a mapping file.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from drift_repair.core import normalise
from drift_repair.core.config_items import ActualIndex, ConfigItem
from drift_repair.core.mappings import AttributeMapping, MappingSet, ResourceMapping
from drift_repair.core.models import SENSITIVE_VALUE, UNKNOWN_VALUE, DiffRow, ExpectedValue, Verdict
from drift_repair.core.paths import MISSING, compile_path
from drift_repair.core.terraform import TerraformDocument, TerraformResource

EXISTS_ATTRIBUTE = "(exists)"
DELETED_VALUE = "(deleted)"

# Rule evaluation outcomes that mean "Config could not tell" (ERROR: the evaluation itself failed).
INCONCLUSIVE_COMPLIANCE = frozenset({"INSUFFICIENT_DATA", "ERROR"})


@dataclass(frozen=True, slots=True)
class Target:
    """One AWS resource as the design sees it: its Config key and the Terraform resources describing it."""

    mapping: ResourceMapping
    id_value: Any  # str, or UNKNOWN_VALUE when Terraform knows it only after apply
    resources: tuple[TerraformResource, ...]

    @property
    def config_resource_type(self) -> str:
        return self.mapping.config_resource_type

    @property
    def id_field(self) -> str:
        return self.mapping.config_id

    @property
    def primary_address(self) -> str:
        return self.resources[0].address


@dataclass(frozen=True, slots=True)
class Lookup:
    """What the fetcher must get from AWS Config: ids (or names) per resource type."""

    config_resource_type: str
    id_field: str
    values: frozenset[str]


@dataclass
class CompareResult:
    rows: list[DiffRow]
    resources: int = 0
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ng_rows(self) -> list[DiffRow]:
        return [r for r in self.rows if r.verdict is Verdict.NG]

    @property
    def has_drift(self) -> bool:
        return any(r.verdict is Verdict.NG for r in self.rows)


def _contains_marker(value: Any) -> Any:
    """The first sentinel inside a value (None when there is none)."""
    if value is UNKNOWN_VALUE or value is SENSITIVE_VALUE:
        return value
    if isinstance(value, dict):
        for v in value.values():
            found = _contains_marker(v)
            if found is not None:
                return found
    elif isinstance(value, list):
        for v in value:
            found = _contains_marker(v)
            if found is not None:
                return found
    return None


def _resource_id(resource: TerraformResource, spec: tuple[str, str], context: Mapping[str, str]) -> Any:
    kind, text = spec
    if kind == "template":
        try:
            return text.format_map(context)
        except KeyError as exc:
            raise ValueError(
                f"{resource.address}: id template {text!r} needs {exc.args[0]!r} (environment setting)"
            ) from None
    value = compile_path(text).get(resource.values)
    if value is UNKNOWN_VALUE:
        return UNKNOWN_VALUE
    if value is MISSING or value is None or value is SENSITIVE_VALUE or not isinstance(value, (str, int)):
        return None
    return str(value)


def build_targets(
    document: TerraformDocument, mappings: MappingSet, context: Mapping[str, str] | None = None
) -> list[Target]:
    """Group the plan's resources by the AWS resource they describe (a bucket and its split resources)."""
    ctx = dict(context or {})
    groups: dict[tuple[str, Any], list[TerraformResource]] = defaultdict(list)
    order: list[tuple[str, Any]] = []
    mapping_of: dict[str, ResourceMapping] = {}
    for resource in document.resources:
        mapping = mappings.by_terraform_type.get(resource.type)
        if mapping is None:
            continue
        rid = _resource_id(resource, mapping.terraform_ids[resource.type], ctx)
        # Unknown ids cannot be grouped with anything: keep each such resource on its own.
        key = (mapping.config_resource_type, rid if isinstance(rid, str) else f"?{resource.address}")
        if key not in groups:
            order.append(key)
        groups[key].append(resource)
        mapping_of[key[0]] = mapping
    targets = []
    for key in order:
        resources = groups[key]
        mapping = mapping_of[key[0]]
        # The resource that owns the id (listed first under `terraform:`) leads the group.
        type_rank = {t: i for i, t in enumerate(mapping.terraform_ids)}
        resources.sort(key=lambda r: (type_rank[r.type], r.address))
        rid = key[1]
        if rid.startswith("?"):
            first = resources[0]
            raw = _resource_id(first, mapping.terraform_ids[first.type], ctx)
            id_value: Any = UNKNOWN_VALUE if raw is UNKNOWN_VALUE else None
        else:
            id_value = rid
        targets.append(Target(mapping=mapping, id_value=id_value, resources=tuple(resources)))
    return targets


def lookups(targets: Iterable[Target]) -> list[Lookup]:
    """Ids (or names) to fetch, per Config resource type, deduplicated."""
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for t in targets:
        if isinstance(t.id_value, str) and t.mapping.needs_config_items:
            wanted[(t.config_resource_type, t.id_field)].add(t.id_value)
    return [Lookup(rt, f, frozenset(v)) for (rt, f), v in sorted(wanted.items())]


def _expected(target: Target, attribute: AttributeMapping) -> tuple[Any, TerraformResource] | None:
    for source in attribute.terraform:
        for resource in target.resources:
            if resource.type != source.type:
                continue
            configured = resource.configured
            if source.only_if_configured and configured is not None and source.argument not in configured:
                continue
            value = source.path.get(resource.values)
            if value is MISSING or value is None:
                continue
            return value, resource
    return None


def design_values(targets: Iterable[Target]) -> list[ExpectedValue]:
    """The designed value of every mapped attribute (the parameter sheet), unknown and sensitive included."""
    out: list[ExpectedValue] = []
    for target in targets:
        for attribute in target.mapping.attributes:
            found = _expected(target, attribute)
            if found is None:
                continue
            value, resource = found
            out.append(
                ExpectedValue(
                    resource_address=resource.address,
                    terraform_type=resource.type,
                    attribute=attribute.name,
                    value=value,
                    source=resource.source,
                    resource_id=target.id_value if isinstance(target.id_value, str) else None,
                )
            )
    return out


def _normalise(name: str, value: Any, resource_id: str | None) -> Any:
    if name == "sg_rules_config":  # the only normaliser that needs to know whose rules these are ("self")
        return normalise.sg_rules_config(value, resource_id)
    return normalise.REGISTRY[name](value)


@dataclass(frozen=True, slots=True)
class _Actual:
    value: Any
    reason: str = ""
    known: bool = True


def _actual(
    item: ConfigItem | None,
    item_doc: Any,
    target: Target,
    attribute: AttributeMapping,
    compliance: Mapping[tuple[str, str], str] | None,
) -> _Actual:
    if attribute.compliance_source is not None:
        rule, when_compliant, when_not = attribute.compliance_source
        state = (compliance or {}).get((rule, str(target.id_value)))
        if state == "COMPLIANT":
            return _Actual(when_compliant, f"from Config rule {rule}: COMPLIANT")
        if state == "NON_COMPLIANT":
            return _Actual(when_not, f"from Config rule {rule}: NON_COMPLIANT")
        return _Actual(None, f"Config rule {rule} reports {state or 'no evaluation'}", known=False)
    if item is None:
        return _Actual(None, "not recorded by AWS Config", known=False)
    if not item.is_recorded:
        return _Actual(None, f"AWS Config item status {item.status}", known=False)
    if attribute.config_rule and compliance is not None:
        state = compliance.get((attribute.config_rule, item.resource_id))
        if state in INCONCLUSIVE_COMPLIANCE:
            return _Actual(None, f"Config rule {attribute.config_rule} reports {state}", known=False)
    if attribute.config_path is None:  # pragma: no cover - the schema requires path or compliance
        return _Actual(None, "mapping has no config path", known=False)
    value = attribute.config_path.get(item_doc)
    if value is MISSING or value is None or value == []:
        if attribute.has_config_default:
            return _Actual(attribute.config_default, "absent from the Config item; AWS default applies")
        return _Actual(None, f"{attribute.config_path} absent from the Config item", known=False)
    return _Actual(value)


def _row(target: Target, resource_address: str, resource_type: str, **kwargs: Any) -> DiffRow:
    return DiffRow(
        resource_address=resource_address,
        resource_type=resource_type,
        resource_id=target.id_value if isinstance(target.id_value, str) else None,
        config_resource_type=target.config_resource_type,
        **kwargs,
    )


def _judge(
    target: Target,
    attribute: AttributeMapping,
    expected: Any,
    item: ConfigItem | None,
    item_doc: Any,
    compliance: Mapping[tuple[str, str], str] | None,
) -> tuple[Verdict, Any, Any, str]:
    """(verdict, expected shown, actual shown, reason) for one designed attribute."""
    if target.id_value is UNKNOWN_VALUE:
        return Verdict.UNKNOWN, expected, None, "resource id known only after apply"
    if target.id_value is None:
        return Verdict.UNKNOWN, expected, None, "no resource id in Terraform"
    marker = _contains_marker(expected)
    if marker is SENSITIVE_VALUE:
        return Verdict.UNKNOWN, SENSITIVE_VALUE, None, "sensitive in Terraform; not compared"
    if marker is UNKNOWN_VALUE:
        return Verdict.UNKNOWN, expected, None, "value known only after apply"
    actual = _actual(item, item_doc, target, attribute, compliance)
    if not actual.known:
        return Verdict.UNKNOWN, expected, None, actual.reason
    try:
        left = _normalise(attribute.normalise_terraform, expected, target.id_value)
        right = _normalise(attribute.normalise_config, actual.value, target.id_value)
    except (normalise.NormaliseError, KeyError, TypeError) as exc:
        return Verdict.UNKNOWN, expected, actual.value, f"cannot normalise: {exc}"
    if left == right:
        return Verdict.OK, left, right, actual.reason
    reason = actual.reason
    if isinstance(left, frozenset) and isinstance(right, frozenset):
        reason = _set_difference(left, right)
    return Verdict.NG, left, right, reason


def _set_difference(expected: frozenset[Any], actual: frozenset[Any]) -> str:
    parts = []
    if actual - expected:
        parts.append("in AWS only: " + ", ".join(sorted(map(str, actual - expected))))
    if expected - actual:
        parts.append("missing in AWS: " + ", ".join(sorted(map(str, expected - actual))))
    return "; ".join(parts)


def compare_target(
    target: Target,
    item: ConfigItem | None,
    compliance: Mapping[tuple[str, str], str] | None = None,
) -> list[DiffRow]:
    """DiffRows for every designed attribute of one target (one row when Config says it was deleted)."""
    lead = target.resources[0]
    if item is not None and item.is_deleted:
        return [
            _row(
                target,
                lead.address,
                lead.type,
                attribute=EXISTS_ATTRIBUTE,
                expected=True,
                actual=DELETED_VALUE,
                verdict=Verdict.NG,
                reason=f"AWS Config reports the resource deleted ({item.status})",
            )
        ]
    rows: list[DiffRow] = []
    item_doc = item.document() if item is not None else None
    for attribute in target.mapping.attributes:
        found = _expected(target, attribute)
        if found is None:
            continue  # not part of the design: Terraform does not set it
        expected, resource = found
        rule = target.mapping.rules.get(attribute.config_rule) if attribute.config_rule else None
        verdict, shown_expected, shown_actual, reason = _judge(target, attribute, expected, item, item_doc, compliance)
        rows.append(
            _row(
                target,
                resource.address,
                resource.type,
                attribute=attribute.name,
                expected=shown_expected,
                actual=shown_actual,
                verdict=verdict,
                reason=reason,
                config_rule=attribute.config_rule,
                runbook=rule.remediation.runbook if rule and rule.remediation else None,
            )
        )
    return rows


def compliance_rules(targets: Iterable[Target]) -> list[str]:
    """Config rules whose compliance results are actual values (settings with no configuration item)."""
    names = {a.compliance_source[0] for t in targets for a in t.mapping.attributes if a.compliance_source is not None}
    return sorted(names)


def summarise(rows: Iterable[DiffRow]) -> dict[str, Any]:
    """Counts per verdict and per resource type, and the resources with NG attributes (one pass)."""
    rows = rows if isinstance(rows, list) else list(rows)
    per_type: Counter[tuple[str, Verdict]] = Counter(
        (r.config_resource_type or r.resource_type, r.verdict) for r in rows
    )
    verdicts = {v.value: 0 for v in Verdict}
    by_type: dict[str, dict[str, int]] = {}
    for (rtype, verdict), n in per_type.items():
        verdicts[verdict.value] += n
        by_type.setdefault(rtype, {v.value: 0 for v in Verdict})[verdict.value] = n
    return {
        "attributes": sum(verdicts.values()),
        "verdicts": verdicts,
        "by_resource_type": dict(sorted(by_type.items())),
        "ng_resources": sorted({r.resource_address for r in rows if r.verdict is Verdict.NG}),
    }


def compare(
    targets: Iterable[Target],
    actual: ActualIndex,
    compliance: Mapping[tuple[str, str], str] | None = None,
) -> CompareResult:
    """Compare every mapped attribute of every target against its Config item."""
    rows: list[DiffRow] = []
    count = 0
    for target in targets:
        count += 1
        item = None
        if isinstance(target.id_value, str):
            item = actual.get(target.config_resource_type, target.id_value, target.id_field)
        rows.extend(compare_target(target, item, compliance))
    return CompareResult(rows=rows, resources=count, summary=summarise(rows))


def detect(
    document: TerraformDocument,
    mappings: MappingSet,
    actual: ActualIndex,
    context: Mapping[str, str] | None = None,
    compliance: Mapping[tuple[str, str], str] | None = None,
) -> CompareResult:
    """Convenience: build targets from the document and compare them."""
    return compare(build_targets(document, mappings, context), actual, compliance)
