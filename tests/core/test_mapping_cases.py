"""Every attribute of every mapping gives OK, NG and UNKNOWN in the cases a user expects.

The table below must list every attribute in include/mappings: a new mapping fails this test until its
cases are written.
"""

from __future__ import annotations

from typing import Any

import pytest

from drift_repair.core import compare, config_items, terraform
from drift_repair.core.mappings import AttributeMapping, ResourceMapping, load_mappings
from drift_repair.core.models import Verdict
from drift_repair.core.paths import _WILDCARD, compile_path
from tests.tfdocs import config_item, plan, resource_change

ACCOUNT = "123456789012"
SG_443 = {
    "protocol": "tcp",
    "from_port": 443,
    "to_port": 443,
    "cidr_blocks": ["0.0.0.0/0"],
    "self": False,
    "ipv6_cidr_blocks": [],
    "security_groups": [],
    "prefix_list_ids": [],
    "description": "https",
}
CFG_443 = {
    "ipProtocol": "tcp",
    "fromPort": 443,
    "toPort": 443,
    "ipRanges": ["0.0.0.0/0"],
    "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}],
    "ipv6Ranges": [],
    "userIdGroupPairs": [],
    "prefixListIds": [],
}
CFG_22 = {**CFG_443, "fromPort": 22, "toPort": 22}
SG_ALL = {"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}
CFG_ALL = {"ipProtocol": "-1", "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipRanges": ["0.0.0.0/0"]}
KEY_ARN = f"arn:aws:kms:ap-northeast-1:{ACCOUNT}:key/1111-2222"

# (Config type, attribute) -> (Terraform value, AWS value that matches, AWS value that differs)
CASES: dict[tuple[str, str], tuple[Any, Any, Any]] = {
    ("AWS::S3::Bucket", "sse_algorithm"): ("aws:kms", "aws:kms", "AES256"),
    ("AWS::S3::Bucket", "sse_kms_key_id"): (KEY_ARN, "1111-2222", "9999-0000"),
    ("AWS::S3::Bucket", "bucket_key_enabled"): (True, True, False),
    ("AWS::S3::Bucket", "versioning"): ("Enabled", "Enabled", "Suspended"),
    ("AWS::S3::Bucket", "block_public_acls"): (True, True, False),
    ("AWS::S3::Bucket", "ignore_public_acls"): (True, True, False),
    ("AWS::S3::Bucket", "block_public_policy"): (True, True, False),
    ("AWS::S3::Bucket", "restrict_public_buckets"): (True, True, False),
    ("AWS::S3::Bucket", "logging_target_bucket"): ("logs", "logs", "other-logs"),
    ("AWS::S3::Bucket", "logging_target_prefix"): ("s3/data/", "s3/data/", "s3/"),
    ("AWS::RDS::DBInstance", "backup_retention_period"): (7, 7, 1),
    ("AWS::RDS::DBInstance", "multi_az"): (True, True, False),
    ("AWS::RDS::DBInstance", "publicly_accessible"): (False, False, True),
    ("AWS::RDS::DBInstance", "storage_encrypted"): (True, True, False),
    ("AWS::RDS::DBInstance", "deletion_protection"): (True, True, False),
    ("AWS::RDS::DBInstance", "instance_class"): ("db.t4g.medium", "db.t4g.medium", "db.t4g.large"),
    ("AWS::RDS::DBInstance", "engine_version"): ("16.4", "16.4", "16.6"),
    ("AWS::RDS::DBInstance", "allocated_storage"): (50, 50, 100),
    ("AWS::RDS::DBInstance", "storage_type"): ("gp3", "gp3", "gp2"),
    ("AWS::RDS::DBInstance", "auto_minor_version_upgrade"): (False, False, True),
    ("AWS::EC2::Instance", "instance_type"): ("t3.micro", "t3.micro", "t3.large"),
    ("AWS::EC2::Instance", "http_tokens"): ("required", "required", "optional"),
    ("AWS::EC2::Instance", "monitoring"): (True, "enabled", "disabled"),
    ("AWS::EC2::Instance", "http_endpoint"): ("enabled", "enabled", "disabled"),
    ("AWS::EC2::Instance", "http_put_response_hop_limit"): (1, 1, 2),
    ("AWS::EC2::Instance", "ami"): ("ami-0abc", "ami-0abc", "ami-0def"),
    ("AWS::EC2::Instance", "subnet_id"): ("subnet-1", "subnet-1", "subnet-2"),
    ("AWS::EC2::Instance", "key_name"): ("ops", "ops", "someone-elses"),
    ("AWS::EC2::Instance", "ebs_optimized"): (True, True, False),
    ("AWS::EC2::Instance", "source_dest_check"): (True, True, False),
    ("AWS::EC2::SecurityGroup", "ingress"): ([SG_443], [CFG_443], [CFG_443, CFG_22]),
    ("AWS::EC2::SecurityGroup", "egress"): ([SG_ALL], [CFG_ALL], []),
    ("AWS::KMS::Key", "enable_key_rotation"): (True, True, False),
    ("AWS::KMS::Key", "is_enabled"): (True, True, False),
    ("AWS::CloudTrail::Trail", "enable_log_file_validation"): (True, True, False),
    ("AWS::CloudTrail::Trail", "is_multi_region_trail"): (True, True, False),
    ("AWS::CloudTrail::Trail", "s3_bucket_name"): ("trail-logs", "trail-logs", "elsewhere"),
    ("AWS::::Account", "enabled"): (True, "COMPLIANT", "NON_COMPLIANT"),
    ("AWS::EC2::FlowLog", "traffic_type"): ("ALL", "ALL", "REJECT"),
    ("AWS::EC2::FlowLog", "log_destination_type"): ("s3", "s3", "cloud-watch-logs"),
    ("AWS::EC2::FlowLog", "vpc_id"): ("vpc-1", "vpc-1", "vpc-2"),
}

MAPPINGS = load_mappings()
ALL = [(m, a) for m in MAPPINGS.mappings for a in m.attributes]


def test_every_mapped_attribute_has_cases() -> None:
    assert {(m.config_resource_type, a.name) for m, a in ALL} == set(CASES)


def nest(path_text: str, value: Any) -> Any:
    """Build the smallest document in which ``path`` selects ``value``."""
    steps = compile_path(path_text).steps
    assert steps is not None
    doc: Any = value
    for step in reversed(steps):
        doc = [doc] if step is _WILDCARD or isinstance(step, int) else {step: doc}
    return doc


def merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if k in out else v
        return out
    return b


def design(mapping: ResourceMapping, attribute: AttributeMapping, value: Any, unknown: bool = False) -> Any:
    source = attribute.terraform[0]
    kind, id_text = mapping.terraform_ids[source.type]
    values: dict[str, Any] = {}
    if kind == "path":
        values = nest(id_text, "res-1")
    if not unknown:
        values = merge(values, nest(source.path.text, value))
    top = source.path.text.split(".")[0].split("[")[0]
    after_unknown = {top: True} if unknown else {}
    rc = resource_change(f"{source.type}.example", values, after_unknown=after_unknown)
    return terraform.parse_document(plan(rc))


def actual(mapping: ResourceMapping, attribute: AttributeMapping, value: Any, api_form: bool) -> tuple[Any, Any]:
    rid = ACCOUNT if mapping.terraform_ids[next(iter(mapping.terraform_ids))][0] == "template" else "res-1"
    if attribute.compliance_source is not None:
        return config_items.ActualIndex(), {(attribute.compliance_source[0], rid): value}
    assert attribute.config_path is not None
    doc = nest(attribute.config_path.text, value)
    raw = config_item(
        mapping.config_resource_type,
        rid if mapping.config_id == "resourceId" else "other-id",
        doc.get("configuration"),
        doc.get("supplementaryConfiguration"),
        name=rid,
        api_form=api_form,
    )
    return config_items.ActualIndex([config_items.parse_item(raw)]), {}


def verdict_of(
    mapping: ResourceMapping, attribute: AttributeMapping, document: Any, index: Any, compliance: Any
) -> Any:
    targets = compare.build_targets(document, MAPPINGS, {"account_id": ACCOUNT, "region": "ap-northeast-1"})
    rows = [r for r in compare.compare(targets, index, compliance).rows if r.attribute == attribute.name]
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize("api_form", [False, True], ids=["snapshot-form", "api-form-json-strings"])
@pytest.mark.parametrize(("mapping", "attribute"), ALL, ids=[f"{m.config_resource_type}:{a.name}" for m, a in ALL])
def test_ok_when_equal_after_normalisation(
    mapping: ResourceMapping, attribute: AttributeMapping, api_form: bool
) -> None:
    tf_value, aws_same, _ = CASES[(mapping.config_resource_type, attribute.name)]
    index, compliance = actual(mapping, attribute, aws_same, api_form)
    row = verdict_of(mapping, attribute, design(mapping, attribute, tf_value), index, compliance)
    assert row.verdict is Verdict.OK, row
    assert row.config_rule == attribute.config_rule


@pytest.mark.parametrize(("mapping", "attribute"), ALL, ids=[f"{m.config_resource_type}:{a.name}" for m, a in ALL])
def test_ng_when_aws_differs(mapping: ResourceMapping, attribute: AttributeMapping) -> None:
    tf_value, _, aws_other = CASES[(mapping.config_resource_type, attribute.name)]
    index, compliance = actual(mapping, attribute, aws_other, api_form=True)
    row = verdict_of(mapping, attribute, design(mapping, attribute, tf_value), index, compliance)
    assert row.verdict is Verdict.NG, row
    rule = mapping.rules.get(attribute.config_rule or "")
    assert row.runbook == (rule.remediation.runbook if rule and rule.remediation else None)


@pytest.mark.parametrize(("mapping", "attribute"), ALL, ids=[f"{m.config_resource_type}:{a.name}" for m, a in ALL])
def test_unknown_when_terraform_knows_the_value_only_after_apply(
    mapping: ResourceMapping, attribute: AttributeMapping
) -> None:
    _, aws_same, _ = CASES[(mapping.config_resource_type, attribute.name)]
    index, compliance = actual(mapping, attribute, aws_same, api_form=True)
    row = verdict_of(mapping, attribute, design(mapping, attribute, None, unknown=True), index, compliance)
    assert row.verdict is Verdict.UNKNOWN
    assert row.reason == "value known only after apply"


@pytest.mark.parametrize(("mapping", "attribute"), ALL, ids=[f"{m.config_resource_type}:{a.name}" for m, a in ALL])
def test_unknown_when_aws_config_has_nothing(mapping: ResourceMapping, attribute: AttributeMapping) -> None:
    tf_value, _, _ = CASES[(mapping.config_resource_type, attribute.name)]
    row = verdict_of(mapping, attribute, design(mapping, attribute, tf_value), config_items.ActualIndex(), {})
    assert row.verdict is Verdict.UNKNOWN
    assert row.reason in ("not recorded by AWS Config", f"Config rule {attribute.config_rule} reports no evaluation")
