"""Declarative attribute mappings: one YAML file per AWS Config resource type under include/mappings/.

A mapping says, for one Config resource type, which Terraform resource types describe it and how their
address maps to the Config resource id, then per attribute: where Terraform keeps the designed value
(several sources, first present wins: split resources before the deprecated inline blocks), where the Config
item keeps the actual value (and AWS's default when the item omits it), how both sides are normalised, which
AWS managed Config rule watches it and which runbook repairs it. The file format is checked against
``MAPPING_SCHEMA`` (jsonschema) and every path and normaliser is compiled at load time, so a broken mapping
fails before any comparison runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drift_repair.core import normalise
from drift_repair.core.errors import MappingError
from drift_repair.core.paths import Path as AttrPath
from drift_repair.core.paths import compile_path
from drift_repair.core.schema import read_yaml, validate_document

DEFAULT_MAPPINGS_DIR = Path(__file__).resolve().parents[3] / "include" / "mappings"

_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9_.\-]+$"}
_NORMALISE = {
    "oneOf": [
        {"type": "string"},
        {
            "type": "object",
            "properties": {"terraform": {"type": "string"}, "config": {"type": "string"}},
            "required": ["terraform", "config"],
            "additionalProperties": False,
        },
    ]
}
_PARAM_VALUE = {
    "oneOf": [
        {
            "type": "object",
            "properties": {"resource_id": {"const": True}},
            "required": ["resource_id"],
            "additionalProperties": False,
        },
        {"type": "object", "properties": {"static": {}}, "required": ["static"], "additionalProperties": False},
        {
            "type": "object",
            "properties": {"ssm_parameter": {"type": "string"}},
            "required": ["ssm_parameter"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"expected": {"type": "string"}},
            "required": ["expected"],
            "additionalProperties": False,
        },
        # A value the Terraform module supplies (automation role ARN, evidence bucket, approvers).
        {
            "type": "object",
            "properties": {"module": {"type": "string"}},
            "required": ["module"],
            "additionalProperties": False,
        },
    ]
}

MAPPING_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["config_resource_type", "terraform", "attributes"],
    "additionalProperties": False,
    "properties": {
        "config_resource_type": {"type": "string", "pattern": r"^AWS::[A-Za-z0-9]*::[A-Za-z0-9]*$"},
        "description": {"type": "string"},
        "config_id": {"enum": ["resourceId", "resourceName"]},
        "terraform": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "id_template": {"type": "string"},
                },
                "oneOf": [{"required": ["id"]}, {"required": ["id_template"]}],
                "additionalProperties": False,
            },
        },
        "attributes": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "terraform", "config"],
                "additionalProperties": False,
                "properties": {
                    "name": _NAME,
                    "description": {"type": "string"},
                    "terraform": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["type", "path"],
                            "additionalProperties": False,
                            "properties": {
                                "type": {"type": "string"},
                                "path": {"type": "string"},
                                "only_if_configured": {"type": "boolean"},
                            },
                        },
                    },
                    "config": {
                        "oneOf": [
                            {
                                "type": "object",
                                "required": ["path"],
                                "additionalProperties": False,
                                "properties": {"path": {"type": "string"}, "default": {}},
                            },
                            {
                                # For settings AWS Config records no item for (EBS encryption by default):
                                # the actual value is read off the managed rule's compliance result.
                                "type": "object",
                                "required": ["compliance"],
                                "additionalProperties": False,
                                "properties": {
                                    "compliance": {
                                        "type": "object",
                                        "required": ["rule", "compliant", "non_compliant"],
                                        "additionalProperties": False,
                                        "properties": {
                                            "rule": {"type": "string"},
                                            "compliant": {},
                                            "non_compliant": {},
                                        },
                                    }
                                },
                            },
                        ]
                    },
                    "normalise": _NORMALISE,
                    "config_rule": {"type": ["string", "null"]},
                },
            },
        },
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "source_identifier"],
                "additionalProperties": False,
                "properties": {
                    "name": _NAME,
                    "description": {"type": "string"},
                    "source_identifier": {"type": "string", "pattern": r"^[A-Z0-9_]+$"},
                    "input_parameters": {"type": "object"},
                    "compliance_resource_type": {"type": "string"},
                    "remediation": {
                        "type": "object",
                        "required": ["runbook", "parameters"],
                        "additionalProperties": False,
                        "properties": {
                            "runbook": {"type": "string"},
                            "aws_owned": {"type": "boolean"},
                            "why_aws_owned": {"type": "string"},
                            "resource_id_parameter": {"type": "string"},
                            "parameters": {"type": "object", "additionalProperties": _PARAM_VALUE},
                            "maximum_automatic_attempts": {"type": "integer", "minimum": 1, "maximum": 25},
                            "retry_attempt_seconds": {"type": "integer", "minimum": 1, "maximum": 2678000},
                        },
                    },
                },
            },
        },
    },
}


@dataclass(frozen=True, slots=True)
class TerraformSource:
    type: str
    path: AttrPath
    only_if_configured: bool = False

    @property
    def argument(self) -> str:
        """The top-level argument or block the path starts with (what the configuration section lists)."""
        return self.path.text.split(".")[0].split("[")[0]


@dataclass(frozen=True, slots=True)
class AttributeMapping:
    name: str
    terraform: tuple[TerraformSource, ...]
    config_path: AttrPath | None
    config_default: Any
    has_config_default: bool
    normalise_terraform: str
    normalise_config: str
    config_rule: str | None
    description: str = ""
    # (rule name, value when COMPLIANT, value when NON_COMPLIANT) for compliance-sourced attributes.
    compliance_source: tuple[str, Any, Any] | None = None


@dataclass(frozen=True, slots=True)
class Remediation:
    runbook: str
    parameters: Mapping[str, Mapping[str, Any]]
    resource_id_parameter: str | None = None
    aws_owned: bool = False
    maximum_automatic_attempts: int = 3
    retry_attempt_seconds: int = 60


@dataclass(frozen=True, slots=True)
class RuleMapping:
    name: str
    source_identifier: str
    input_parameters: Mapping[str, Any]
    remediation: Remediation | None
    description: str = ""


@dataclass(frozen=True, slots=True)
class ResourceMapping:
    """Everything known about one Config resource type."""

    config_resource_type: str
    config_id: str  # "resourceId" or "resourceName"
    terraform_ids: Mapping[str, tuple[str, str]]  # terraform type -> ("path" | "template", text)
    attributes: tuple[AttributeMapping, ...]
    rules: Mapping[str, RuleMapping]
    source: str
    description: str = ""

    @property
    def needs_config_items(self) -> bool:
        """False when every attribute is read off rule compliance (no configuration item exists)."""
        return any(a.compliance_source is None for a in self.attributes)

    def attributes_for(self, terraform_type: str) -> Iterator[AttributeMapping]:
        for attribute in self.attributes:
            if any(s.type == terraform_type for s in attribute.terraform):
                yield attribute


@dataclass(frozen=True)
class MappingSet:
    """All mappings, indexed by Terraform type and by Config rule."""

    mappings: tuple[ResourceMapping, ...]
    by_terraform_type: Mapping[str, ResourceMapping] = field(init=False)
    rules: Mapping[str, RuleMapping] = field(init=False)

    def __post_init__(self) -> None:
        by_type: dict[str, ResourceMapping] = {}
        rules: dict[str, RuleMapping] = {}
        for m in self.mappings:
            for tf_type in m.terraform_ids:
                if tf_type in by_type:
                    raise MappingError(
                        m.source, f"Terraform type {tf_type} is already mapped in {by_type[tf_type].source}"
                    )
                by_type[tf_type] = m
            for name, rule in m.rules.items():
                if name in rules:
                    raise MappingError(m.source, f"Config rule {name} is defined twice")
                rules[name] = rule
        object.__setattr__(self, "by_terraform_type", by_type)
        object.__setattr__(self, "rules", rules)

    def for_config_type(self, config_resource_type: str) -> ResourceMapping | None:
        return next((m for m in self.mappings if m.config_resource_type == config_resource_type), None)


def _normalisers(spec: Any, source: str, attribute: str) -> tuple[str, str]:
    if spec is None:
        names = ("identity", "identity")
    elif isinstance(spec, str):
        names = (spec, spec)
    else:
        names = (spec["terraform"], spec["config"])
    for name in names:
        if name not in normalise.REGISTRY:
            raise MappingError(source, f"attribute {attribute}: unknown normaliser {name!r}")
    return names


def _compile(text: str, source: str, where: str) -> AttrPath:
    try:
        return compile_path(text)
    except ValueError as exc:
        raise MappingError(source, f"{where}: {exc}") from None


def _parse_rule(rule: Mapping[str, Any]) -> RuleMapping:
    remediation = None
    if "remediation" in rule:
        r = rule["remediation"]
        remediation = Remediation(
            runbook=r["runbook"],
            parameters=r["parameters"],
            resource_id_parameter=r.get("resource_id_parameter"),
            aws_owned=r.get("aws_owned", False),
            maximum_automatic_attempts=r.get("maximum_automatic_attempts", 3),
            retry_attempt_seconds=r.get("retry_attempt_seconds", 60),
        )
    return RuleMapping(
        name=rule["name"],
        source_identifier=rule["source_identifier"],
        input_parameters=rule.get("input_parameters", {}),
        remediation=remediation,
        description=rule.get("description", ""),
    )


def _parse_attribute(
    attr: Mapping[str, Any], tf_ids: Mapping[str, Any], rules: Mapping[str, RuleMapping], source: str
) -> AttributeMapping:
    name = attr["name"]
    sources = []
    for i, src in enumerate(attr["terraform"]):
        if src["type"] not in tf_ids:
            raise MappingError(source, f"attribute {name}: Terraform type {src['type']} is not listed under terraform")
        sources.append(
            TerraformSource(
                type=src["type"],
                path=_compile(src["path"], source, f"attribute {name} terraform[{i}]"),
                only_if_configured=src.get("only_if_configured", False),
            )
        )
    rule_name = attr.get("config_rule")
    if rule_name is not None and rule_name not in rules:
        raise MappingError(source, f"attribute {name}: config_rule {rule_name} is not defined under rules")
    tf_norm, cfg_norm = _normalisers(attr.get("normalise"), source, name)
    cfg = attr["config"]
    compliance_source = None
    if "compliance" in cfg:
        c = cfg["compliance"]
        if c["rule"] not in rules:
            raise MappingError(source, f"attribute {name}: compliance rule {c['rule']} is not defined under rules")
        compliance_source = (c["rule"], c["compliant"], c["non_compliant"])
    return AttributeMapping(
        name=name,
        terraform=tuple(sources),
        config_path=_compile(cfg["path"], source, f"attribute {name} config") if "path" in cfg else None,
        config_default=cfg.get("default"),
        has_config_default="default" in cfg,
        compliance_source=compliance_source,
        normalise_terraform=tf_norm,
        normalise_config=cfg_norm,
        config_rule=rule_name,
        description=attr.get("description", ""),
    )


def parse_mapping(doc: Any, source: str) -> ResourceMapping:
    """Validate and compile one mapping document."""
    validate_document(doc, MAPPING_SCHEMA, source, MappingError)
    tf_ids: dict[str, tuple[str, str]] = {}
    for tf_type, spec in doc["terraform"].items():
        if "id" in spec:
            _compile(spec["id"], source, f"terraform.{tf_type}.id")
            tf_ids[tf_type] = ("path", spec["id"])
        else:
            tf_ids[tf_type] = ("template", spec["id_template"])
    rules = {rule["name"]: _parse_rule(rule) for rule in doc.get("rules", [])}
    if len(rules) != len(doc.get("rules", [])):
        raise MappingError(source, "a Config rule is defined twice")
    attributes: list[AttributeMapping] = []
    for attr in doc["attributes"]:
        if any(a.name == attr["name"] for a in attributes):
            raise MappingError(source, f"attribute {attr['name']} is defined twice")
        attributes.append(_parse_attribute(attr, tf_ids, rules, source))
    return ResourceMapping(
        config_resource_type=doc["config_resource_type"],
        config_id=doc.get("config_id", "resourceId"),
        terraform_ids=tf_ids,
        attributes=tuple(attributes),
        rules=rules,
        source=source,
        description=doc.get("description", ""),
    )


def load_mapping_file(path: str | Path) -> ResourceMapping:
    return parse_mapping(read_yaml(path, MappingError), str(path))


def load_mappings(directory: str | Path | None = None) -> MappingSet:
    """Load every ``*.yaml`` mapping in a directory (include/mappings by default)."""
    d = Path(directory) if directory else DEFAULT_MAPPINGS_DIR
    files = sorted(d.glob("*.yaml"))
    if not files:
        raise MappingError(d, "no mapping files (*.yaml) found")
    return MappingSet(tuple(load_mapping_file(f) for f in files))
