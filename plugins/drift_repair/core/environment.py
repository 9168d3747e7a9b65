"""Per-environment settings: include/environments/<env>.yaml, validated with a JSON Schema.

One file per environment says which account and region it is, how Airflow reaches AWS (connection id,
optional endpoint such as the sandbox), when the nightly run happens, who approves, the quotas to respect,
where the Terraform plan/state JSON comes from and where evidence goes. Relative paths are relative to the
repository root.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drift_repair.core.errors import ConfigurationError
from drift_repair.core.loop_guard import GuardSettings
from drift_repair.core.schema import read_yaml, validate_document

REPO_ROOT = Path(__file__).resolve().parents[3]
ENVIRONMENTS_DIR = REPO_ROOT / "include" / "environments"

_USER = {
    "type": "object",
    "required": ["id"],
    "additionalProperties": False,
    "properties": {"id": {"type": "string", "minLength": 1}, "name": {"type": "string"}},
}

ENVIRONMENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "account_id", "region", "terraform"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,30}$"},
        "description": {"type": "string"},
        "account_id": {"type": "string", "pattern": r"^\d{12}$"},
        "region": {"type": "string", "pattern": r"^[a-z]{2}(-[a-z]+)+-\d$"},
        "aws_conn_id": {"type": "string"},
        "endpoint_url": {"type": ["string", "null"]},
        "schedule": {"type": ["string", "null"]},
        "owner": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "terraform": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "plan_json": {"type": ["string", "null"]},
                "state_json": {"type": ["string", "null"]},
                "working_dir": {"type": ["string", "null"]},
                "binary": {"type": "string"},
                "reconcile": {"enum": ["terraform", "native"]},
            },
            "anyOf": [{"required": ["plan_json"]}, {"required": ["state_json"]}],
        },
        "config": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "snapshot": {"type": ["string", "null"]},
                "compliance": {"type": ["string", "null"]},
                "fetch": {"enum": ["batch", "select"]},
            },
        },
        "approval": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "assigned_users": {"type": "array", "items": _USER},
                "timeout_minutes": {"type": "integer", "minimum": 1, "maximum": 10080},
                "required_approvers": {"type": "integer", "minimum": 1, "maximum": 5},
            },
        },
        "quotas": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "start_automation_per_second": {"type": "number", "exclusiveMinimum": 0},
                "get_automation_per_second": {"type": "number", "exclusiveMinimum": 0},
                "max_remediations": {"type": "integer", "minimum": 0},
                "start_task_seconds": {"type": "number", "exclusiveMinimum": 0},
            },
        },
        "loop_guard": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "cooldown_hours": {"type": "number", "minimum": 0},
                "window_hours": {"type": "number", "minimum": 0},
                "max_per_window": {"type": "integer", "minimum": 1},
            },
        },
        "evidence": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "local_dir": {"type": "string"},
                "s3_bucket": {"type": ["string", "null"]},
                "language": {"enum": ["ja", "en"]},
            },
        },
        "notifications": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "sns_topic_arn": {"type": ["string", "null"]},
                "slack_conn_id": {"type": ["string", "null"]},
                "base_url": {"type": ["string", "null"]},
            },
        },
    },
}


@dataclass(frozen=True, slots=True)
class Approval:
    assigned_users: tuple[Mapping[str, str], ...] = ()
    timeout_minutes: int = 240
    required_approvers: int = 1


@dataclass(frozen=True, slots=True)
class Quotas:
    start_automation_per_second: float = 1.0
    get_automation_per_second: float = 3.0
    max_remediations: int = 20
    # How long one start task holds its pool slot (process start, the call, deferring): with
    # rate x this many slots, the starts keep to the quota; botocore's adaptive retries absorb the rest.
    start_task_seconds: float = 3.0


@dataclass(frozen=True, slots=True)
class TerraformSettings:
    plan_json: str | None = None
    state_json: str | None = None
    working_dir: str | None = None
    binary: str = "terraform"
    reconcile: str = "terraform"


@dataclass(frozen=True, slots=True)
class EnvironmentConfig:
    name: str
    account_id: str
    region: str
    terraform: TerraformSettings
    aws_conn_id: str = "aws_default"
    endpoint_url: str | None = None
    schedule: str | None = None
    owner: str = "platform"
    description: str = ""
    tags: tuple[str, ...] = ()
    config_snapshot: str | None = None
    config_compliance: str | None = None
    config_fetch: str = "batch"
    approval: Approval = field(default_factory=Approval)
    quotas: Quotas = field(default_factory=Quotas)
    loop_guard: GuardSettings = field(default_factory=GuardSettings)
    evidence_dir: str = "var/evidence"
    evidence_bucket: str | None = None
    report_language: str = "ja"
    sns_topic_arn: str | None = None
    slack_conn_id: str | None = None
    base_url: str | None = None
    source: str = ""

    @property
    def context(self) -> dict[str, str]:
        """Values mapping id templates may use (``{account_id}``, ``{region}``)."""
        return {"account_id": self.account_id, "region": self.region, "environment": self.name}

    def resolve(self, path: str | None) -> str | None:
        """A path from the file, made absolute against the repository root (S3 URLs unchanged)."""
        if path is None or path.startswith("s3://"):
            return path
        p = Path(path)
        return str(p if p.is_absolute() else REPO_ROOT / p)


def parse_environment(doc: Any, source: str) -> EnvironmentConfig:
    validate_document(doc, ENVIRONMENT_SCHEMA, source, ConfigurationError)
    tf = dict(doc["terraform"])
    # Local stacks (the sandbox) point an environment at the plan the seed wrote, and switch schedules off.
    override = os.environ.get(f"DRIFT_REPAIR_{doc['name'].upper()}_PLAN_JSON")
    if override:
        tf["plan_json"] = override
    schedule = None if os.environ.get("DRIFT_REPAIR_DISABLE_SCHEDULES") else doc.get("schedule")
    cfg = doc.get("config", {})
    ev = doc.get("evidence", {})
    notes = doc.get("notifications", {})
    approval = doc.get("approval", {})
    return EnvironmentConfig(
        name=doc["name"],
        account_id=doc["account_id"],
        region=doc["region"],
        terraform=TerraformSettings(
            plan_json=tf.get("plan_json"),
            state_json=tf.get("state_json"),
            working_dir=tf.get("working_dir"),
            binary=tf.get("binary", "terraform"),
            reconcile=tf.get("reconcile", "terraform"),
        ),
        aws_conn_id=doc.get("aws_conn_id", "aws_default"),
        # DRIFT_REPAIR_ENDPOINT_URL points every environment at the sandbox (demo, tests).
        endpoint_url=os.environ.get("DRIFT_REPAIR_ENDPOINT_URL") or doc.get("endpoint_url"),
        schedule=schedule,
        owner=doc.get("owner", "platform"),
        description=doc.get("description", ""),
        tags=tuple(doc.get("tags", ())),
        config_snapshot=cfg.get("snapshot"),
        config_compliance=cfg.get("compliance"),
        config_fetch=cfg.get("fetch", "batch"),
        approval=Approval(
            assigned_users=tuple(approval.get("assigned_users", ())),
            timeout_minutes=approval.get("timeout_minutes", 240),
            required_approvers=approval.get("required_approvers", 1),
        ),
        quotas=Quotas(**doc.get("quotas", {})),
        loop_guard=GuardSettings(**doc.get("loop_guard", {})),
        evidence_dir=os.environ.get("DRIFT_REPAIR_EVIDENCE_DIR") or ev.get("local_dir", "var/evidence"),
        evidence_bucket=ev.get("s3_bucket"),
        report_language=ev.get("language", "ja"),
        sns_topic_arn=notes.get("sns_topic_arn"),
        slack_conn_id=notes.get("slack_conn_id"),
        base_url=notes.get("base_url"),
        source=source,
    )


def load_environment(name_or_path: str | Path, directory: str | Path | None = None) -> EnvironmentConfig:
    """Load ``dev`` (from include/environments/dev.yaml) or an explicit YAML path."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml"):
        path = candidate
    else:
        path = Path(directory or ENVIRONMENTS_DIR) / f"{name_or_path}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in Path(directory or ENVIRONMENTS_DIR).glob("*.yaml"))
        raise ConfigurationError(path, f"no such environment file (known environments: {', '.join(known) or 'none'})")
    doc = read_yaml(path, ConfigurationError)
    return parse_environment(doc, str(path))


def list_environments(directory: str | Path | None = None) -> list[str]:
    return sorted(p.stem for p in Path(directory or ENVIRONMENTS_DIR).glob("*.yaml"))
