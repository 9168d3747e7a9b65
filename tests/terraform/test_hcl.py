"""Static checks of include/terraform with python-hcl2: what must hold in the text, before any engine runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.terraform.engine import ENVIRONMENTS, MODULE_DIR, REPO, TERRAFORM_DIR, blocks, load_hcl, merged_locals

TF_FILES = sorted(TERRAFORM_DIR.rglob("*.tf"))
HCL_FILES = TF_FILES + sorted(TERRAFORM_DIR.rglob("*.tfvars"))


def _rel(path: Path) -> str:
    return str(path.relative_to(TERRAFORM_DIR))


@pytest.mark.parametrize("path", HCL_FILES, ids=_rel)
def test_every_terraform_file_parses(path: Path) -> None:
    assert isinstance(load_hcl(path), dict)


@pytest.mark.parametrize("path", TF_FILES, ids=_rel)
def test_every_variable_and_output_is_described(path: Path) -> None:
    doc = load_hcl(path)
    for kind in ("variable", "output"):
        for entry in doc.get(kind, []):
            for name, body in entry.items():
                assert body.get("description"), f"{_rel(path)}: {kind} {name} has no description"


def test_every_remediation_configuration_is_never_automatic() -> None:
    configs = [
        body
        for path in TF_FILES
        for (kind, _), body in blocks(path, "resource").items()
        if kind == "aws_config_remediation_configuration"
    ]
    assert configs, "the module declares remediation configurations"
    for body in configs:
        assert body["automatic"] is False  # the literal false, not an expression that could become true
        controls = body["execution_controls"][0]["ssm_controls"][0]
        assert {"concurrent_execution_rate_percentage", "error_percentage"} <= set(controls)


def test_ssm_documents_are_automation_yaml_loaded_from_the_runbook_files() -> None:
    (doc,) = [b for (k, _), b in blocks(MODULE_DIR / "ssm.tf", "resource").items() if k == "aws_ssm_document"]
    assert doc["document_type"] == "Automation"
    assert doc["document_format"] == "YAML"
    assert doc["content"] == "${file(each.value)}"
    assert doc["for_each"] == "${local.runbooks}"  # catalog: every *.yaml under include/runbooks (test_catalog)


# ------------------------------------------------------------------------------------------------ IAM

IAM = merged_locals(MODULE_DIR)
WILDCARD_ACTIONS: dict[str, str] = IAM["wildcard_resource_actions"]
STATEMENTS: dict[str, list[dict]] = IAM["runbook_statements"]
ACTION_RE = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+\*?$")

# What each API the runbooks call needs in IAM (the Service Authorization Reference's action per operation).
API_ACTIONS = {
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "DeleteBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetBucketVersioning"): "s3:GetBucketVersioning",
    ("s3", "PutBucketVersioning"): "s3:PutBucketVersioning",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "DeletePublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("rds", "DescribeDBInstances"): "rds:DescribeDBInstances",
    ("rds", "ModifyDBInstance"): "rds:ModifyDBInstance",
    ("kms", "GetKeyRotationStatus"): "kms:GetKeyRotationStatus",
    ("kms", "EnableKeyRotation"): "kms:EnableKeyRotation",
    ("kms", "DisableKeyRotation"): "kms:DisableKeyRotation",
    ("cloudtrail", "GetTrail"): "cloudtrail:GetTrail",
    ("cloudtrail", "UpdateTrail"): "cloudtrail:UpdateTrail",
    ("ec2", "GetEbsEncryptionByDefault"): "ec2:GetEbsEncryptionByDefault",
    ("ec2", "EnableEbsEncryptionByDefault"): "ec2:EnableEbsEncryptionByDefault",
    ("ec2", "DisableEbsEncryptionByDefault"): "ec2:DisableEbsEncryptionByDefault",
    ("ec2", "DescribeInstances"): "ec2:DescribeInstances",
    ("ec2", "ModifyInstanceMetadataOptions"): "ec2:ModifyInstanceMetadataOptions",
}
# boto3 calls in scripts, by method name (the evidence-bucket calls are granted by the common policy).
SCRIPT_CALL_RE = re.compile(r'boto3\.client\("([a-z0-9]+)"\)\.([a-z_]+)\(|\b(s3|rds|kms|ec2)\.([a-z_]+)\(')
EVIDENCE_CALLS = {("s3", "PutObject"), ("s3", "GetObject"), ("s3", "ListObjectsV2"), ("s3", "GetPaginator")}


def _api(method: str) -> str:
    """boto3's method name back to the API name: describe_db_instances -> DescribeDBInstances."""
    return "".join("DB" if part == "db" else part.capitalize() for part in method.split("_"))


def _runbook_calls(path: Path) -> set[tuple[str, str]]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    calls: set[tuple[str, str]] = set()
    for step in doc["mainSteps"]:
        inputs = step.get("inputs") or {}
        if "Service" in inputs and "Api" in inputs:
            calls.add((inputs["Service"], inputs["Api"]))
        for match in SCRIPT_CALL_RE.finditer(inputs.get("Script", "")):
            service, method = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
            calls.add((service, _api(method)))
    return calls - EVIDENCE_CALLS


def test_no_action_wildcards_in_any_allow_statement() -> None:
    for runbook, statements in STATEMENTS.items():
        for statement in statements:
            for action in statement["actions"]:
                assert ACTION_RE.match(action) and not action.endswith(":*"), f"{runbook}: {action}"
    for path in TF_FILES:
        for (kind, name), body in blocks(path, "data").items():
            if kind != "aws_iam_policy_document":
                continue
            for statement in body.get("statement", []):
                if statement.get("effect", "Allow") == "Allow":
                    for action in statement.get("actions", []):
                        assert action != "*" and not action.endswith(":*"), f"{name}: {action}"


def test_resource_star_only_for_actions_that_have_no_resource_type() -> None:
    assert all(reason.strip() for reason in WILDCARD_ACTIONS.values()), "every listed action has its reason"
    for runbook, statements in STATEMENTS.items():
        for statement in statements:
            resources = statement["resources"]
            if resources == ["*"] or "*" in resources:
                unlisted = set(statement["actions"]) - set(WILDCARD_ACTIONS)
                assert not unlisted, f"{runbook}: Resource * on {sorted(unlisted)}"


@pytest.mark.parametrize("path", sorted((REPO / "include" / "runbooks").glob("*.yaml")), ids=lambda p: p.stem)
def test_each_runbook_policy_grants_exactly_the_calls_the_runbook_makes(path: Path) -> None:
    granted = {a for s in STATEMENTS[path.stem] for a in s["actions"]}
    needed = {API_ACTIONS[call] for call in _runbook_calls(path)}
    assert needed == granted, f"missing {sorted(needed - granted)}, unused {sorted(granted - needed)}"


def test_trust_policy_is_ssm_and_config_of_this_account_only() -> None:
    trust = blocks(MODULE_DIR / "iam.tf", "data")[("aws_iam_policy_document", "automation_trust")]
    (statement,) = trust["statement"]
    assert statement["actions"] == ["sts:AssumeRole"]
    assert statement["principals"][0]["identifiers"] == ["ssm.amazonaws.com", "config.amazonaws.com"]
    conditions = {c["variable"]: c for c in statement["condition"]}
    assert conditions["aws:SourceAccount"]["test"] == "StringEquals"
    assert conditions["aws:SourceAccount"]["values"] == ["${local.account_id}"]


# ------------------------------------------------------------------------------------------------ environments


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_backend_and_values_match_the_environment_yaml(env: str) -> None:
    directory = TERRAFORM_DIR / "environments" / env
    (terraform_block,) = load_hcl(directory / "main.tf")["terraform"]
    backend = terraform_block["backend"][0]["s3"]
    assert {"bucket", "key", "region"} <= set(backend)
    assert backend["use_lockfile"] is True or "dynamodb_table" in backend
    assert backend["encrypt"] is True
    assert env in backend["key"]

    tfvars = load_hcl(directory / "terraform.tfvars")
    settings = yaml.safe_load((REPO / "include" / "environments" / f"{env}.yaml").read_text(encoding="utf-8"))
    assert tfvars["account_id"] == settings["account_id"]
    assert tfvars["region"] == settings["region"] == backend["region"]
    assert tfvars["environment"] == settings["name"] == env
    assert tfvars["evidence_bucket_name"] == settings["evidence"]["s3_bucket"]
    assert tfvars["loop_guard_window_hours"] == settings["loop_guard"]["window_hours"]
    assert tfvars["loop_guard_max_per_window"] == settings["loop_guard"]["max_per_window"]
    topic_arn = settings["notifications"]["sns_topic_arn"]
    assert topic_arn == f"arn:aws:sns:{settings['region']}:{settings['account_id']}:{tfvars['notification_topic_name']}"
    assert all(f"::{settings['account_id']}:" in arn for arn in tfvars["approver_arns"])
    assert tfvars["pre_state_expiration_days"] >= tfvars["evidence_retention_days"]
    # Every variable the environment declares has a value here or a default.
    declared = {name for entry in load_hcl(directory / "variables.tf")["variable"] for name in entry}
    defaults = {
        name
        for entry in load_hcl(directory / "variables.tf")["variable"]
        for name, b in entry.items()
        if "default" in b
    }
    assert declared - defaults <= set(tfvars)
