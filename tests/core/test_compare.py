from __future__ import annotations

from pathlib import Path

from drift_repair.core import compare, config_items, terraform
from drift_repair.core.environment import load_environment
from drift_repair.core.mappings import load_mappings
from drift_repair.core.models import Verdict
from drift_repair.pipeline import load_compliance_file
from tests.tfdocs import config_item, plan, resource_change

REPO = Path(__file__).resolve().parents[2]
DEV = REPO / "include" / "environments" / "dev"
MAPPINGS = load_mappings()
CTX = {"account_id": "123456789012", "region": "ap-northeast-1"}


def run(doc: dict, *items: dict, compliance: dict | None = None) -> compare.CompareResult:
    index = config_items.ActualIndex(config_items.parse_item(i) for i in items)
    return compare.detect(terraform.parse_document(doc), MAPPINGS, index, CTX, compliance)


def test_example_environment_drift_is_found_exactly() -> None:
    env = load_environment("dev")
    result = compare.detect(
        terraform.load(DEV / "plan.json"),
        MAPPINGS,
        config_items.ActualIndex(config_items.load_snapshot(DEV / "config-snapshot.json")),
        env.context,
        load_compliance_file(DEV / "config-compliance.json"),
    )
    ng = {(r.resource_address, r.attribute) for r in result.ng_rows}
    assert ng == {
        ("aws_cloudtrail.main", "enable_log_file_validation"),
        ("aws_db_instance.main", "backup_retention_period"),
        ("aws_db_instance.main", "publicly_accessible"),
        ("aws_kms_key.data", "enable_key_rotation"),
        ("module.app.aws_instance.web[1]", "http_tokens"),
        ("module.app.aws_instance.web[1]", "instance_type"),
        ("module.app.aws_security_group.web", "ingress"),
        ('module.storage.aws_s3_bucket_public_access_block.this["data"]', "block_public_policy"),
        ('module.storage.aws_s3_bucket_versioning.this["logs"]', "versioning"),
    }
    assert result.summary["verdicts"] == {"OK": 65, "NG": 9, "UNKNOWN": 1}
    unknown = [r for r in result.rows if r.verdict is Verdict.UNKNOWN]
    assert [(r.resource_address, r.reason) for r in unknown] == [
        ("aws_s3_bucket_versioning.reports", "resource id known only after apply")
    ]
    sg = next(r for r in result.ng_rows if r.attribute == "ingress")
    assert sg.reason == "in AWS only: tcp:22-22:cidr:0.0.0.0/0"


def test_split_resources_group_under_their_bucket() -> None:
    doc = plan(
        resource_change("aws_s3_bucket.b", {"bucket": "b1"}),
        resource_change(
            "aws_s3_bucket_versioning.b", {"bucket": "b1", "versioning_configuration": [{"status": "Enabled"}]}
        ),
        resource_change("aws_s3_bucket_public_access_block.b", {"bucket": "b1", "block_public_acls": True}),
    )
    targets = compare.build_targets(terraform.parse_document(doc), MAPPINGS, CTX)
    assert len(targets) == 1
    assert targets[0].id_value == "b1"
    assert targets[0].resources[0].type == "aws_s3_bucket"
    assert compare.lookups(targets) == [compare.Lookup("AWS::S3::Bucket", "resourceId", frozenset({"b1"}))]


def test_split_resource_wins_over_inline_and_unconfigured_inline_blocks_are_ignored() -> None:
    configuration = {
        "root_module": {
            "resources": [
                {"address": "aws_s3_bucket.b", "type": "aws_s3_bucket", "name": "b", "expressions": {"bucket": {}}},
                {
                    "address": "aws_s3_bucket_versioning.b",
                    "type": "aws_s3_bucket_versioning",
                    "name": "b",
                    "expressions": {"bucket": {}, "versioning_configuration": {}},
                },
            ]
        }
    }
    # The inline `versioning` block is computed from the refreshed state: it mirrors AWS, not the design.
    doc = plan(
        resource_change(
            "aws_s3_bucket.b",
            {
                "bucket": "b1",
                "versioning": [{"enabled": False}],
                "server_side_encryption_configuration": [
                    {"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}]}]}
                ],
            },
        ),
        resource_change(
            "aws_s3_bucket_versioning.b", {"bucket": "b1", "versioning_configuration": [{"status": "Enabled"}]}
        ),
        configuration=configuration,
    )
    item = config_item("AWS::S3::Bucket", "b1", {}, {"BucketVersioningConfiguration": {"status": "Enabled"}})
    rows = {r.attribute: r for r in run(doc, item).rows}
    assert rows["versioning"].verdict is Verdict.OK
    assert rows["versioning"].resource_address == "aws_s3_bucket_versioning.b"
    assert "sse_algorithm" not in rows  # not written in the configuration: not design


def test_aws_default_applies_when_the_item_omits_the_setting() -> None:
    doc = plan(
        resource_change(
            "aws_s3_bucket_versioning.b", {"bucket": "b1", "versioning_configuration": [{"status": "Enabled"}]}
        )
    )
    row = run(doc, config_item("AWS::S3::Bucket", "b1", {}, {})).rows[0]
    assert (row.verdict, row.actual) == (Verdict.NG, "Disabled")
    assert "AWS default" in row.reason


def test_missing_attribute_without_default_is_unknown() -> None:
    doc = plan(resource_change("aws_db_instance.d", {"resource_id": "db-1", "multi_az": True}))
    row = run(doc, config_item("AWS::RDS::DBInstance", "db-1", {"dBInstanceIdentifier": "d"})).rows[0]
    assert row.verdict is Verdict.UNKNOWN
    assert "configuration.multiAZ absent" in row.reason


def test_deleted_resource_is_ng_with_one_row() -> None:
    doc = plan(resource_change("aws_kms_key.k", {"key_id": "k-1", "enable_key_rotation": True, "is_enabled": True}))
    rows = run(doc, config_item("AWS::KMS::Key", "k-1", status="ResourceDeleted")).rows
    assert [(r.attribute, r.verdict, r.actual) for r in rows] == [("(exists)", Verdict.NG, "(deleted)")]


def test_not_recorded_status_is_unknown() -> None:
    doc = plan(resource_change("aws_kms_key.k", {"key_id": "k-1", "is_enabled": True}))
    row = run(doc, config_item("AWS::KMS::Key", "k-1", status="ResourceNotRecorded")).rows[0]
    assert row.verdict is Verdict.UNKNOWN
    assert row.reason == "AWS Config item status ResourceNotRecorded"


def test_rule_that_cannot_evaluate_makes_the_attribute_unknown() -> None:
    doc = plan(resource_change("aws_kms_key.k", {"key_id": "k-1", "enable_key_rotation": True}))
    item = config_item("AWS::KMS::Key", "k-1", {}, {"KeyRotationStatus": True})
    row = run(doc, item, compliance={("cmk-backing-key-rotation-enabled", "k-1"): "INSUFFICIENT_DATA"}).rows[0]
    assert row.verdict is Verdict.UNKNOWN
    assert "INSUFFICIENT_DATA" in row.reason


def test_names_resolve_through_resource_name() -> None:
    doc = plan(resource_change("aws_cloudtrail.t", {"name": "trail", "enable_log_file_validation": True}))
    item = config_item("AWS::CloudTrail::Trail", "AWSCloudTrailId-1", {"logFileValidationEnabled": True}, name="trail")
    assert run(doc, item).rows[0].verdict is Verdict.OK


def test_sensitive_expected_value_is_never_compared_or_shown() -> None:
    doc = plan(
        resource_change(
            "aws_db_instance.d",
            {"resource_id": "db-1", "instance_class": "db.x"},
            after_sensitive={"instance_class": True},
        )
    )
    row = run(doc, config_item("AWS::RDS::DBInstance", "db-1", {"dBInstanceClass": "db.x"})).rows[0]
    assert row.verdict is Verdict.UNKNOWN
    assert row.to_dict()["expected"] == "(sensitive)"


def test_unmapped_types_are_ignored_and_summary_counts() -> None:
    doc = plan(
        resource_change("aws_iam_role.r", {"name": "r"}),
        resource_change("aws_kms_key.k", {"key_id": "k-1", "enable_key_rotation": True, "is_enabled": True}),
    )
    result = run(doc, config_item("AWS::KMS::Key", "k-1", {"enabled": True}, {"KeyRotationStatus": False}))
    assert result.resources == 1
    assert result.summary["verdicts"] == {"OK": 1, "NG": 1, "UNKNOWN": 0}
    assert result.summary["by_resource_type"] == {"AWS::KMS::Key": {"OK": 1, "NG": 1, "UNKNOWN": 0}}
    assert result.summary["ng_resources"] == ["aws_kms_key.k"]


def test_design_values_cover_unknown_and_sensitive() -> None:
    doc = terraform.load(DEV / "plan.json")
    values = compare.design_values(compare.build_targets(doc, MAPPINGS, CTX))
    addresses = {(v.resource_address, v.attribute) for v in values}
    assert ("aws_db_instance.main", "backup_retention_period") in addresses
    assert ("aws_s3_bucket_versioning.reports", "versioning") in addresses
    assert len(values) == 75
