from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from drift_repair.core import compare, config_items, terraform
from drift_repair.core.errors import MappingError
from drift_repair.core.mappings import DEFAULT_MAPPINGS_DIR, load_mappings, parse_mapping
from drift_repair.core.models import Verdict
from tests.tfdocs import config_item, plan, resource_change

GOOD = {
    "config_resource_type": "AWS::SNS::Topic",
    "terraform": {"aws_sns_topic": {"id": "arn"}},
    "attributes": [
        {
            "name": "kms_master_key_id",
            "terraform": [{"type": "aws_sns_topic", "path": "kms_master_key_id"}],
            "config": {"path": "configuration.KmsMasterKeyId", "default": ""},
            "normalise": "kms_key_id",
            "config_rule": "sns-encrypted-kms",
        }
    ],
    "rules": [{"name": "sns-encrypted-kms", "source_identifier": "SNS_ENCRYPTED_KMS"}],
}


def test_bundled_mappings_load_and_every_rule_is_known() -> None:
    mappings = load_mappings()
    assert {m.config_resource_type for m in mappings.mappings} >= {
        "AWS::S3::Bucket",
        "AWS::RDS::DBInstance",
        "AWS::EC2::Instance",
        "AWS::EC2::SecurityGroup",
        "AWS::KMS::Key",
        "AWS::CloudTrail::Trail",
        "AWS::::Account",
        "AWS::EC2::FlowLog",
    }
    assert "s3-bucket-versioning-enabled" in mappings.rules
    for m in mappings.mappings:
        for rule in m.rules.values():
            if rule.remediation:
                assert rule.remediation.resource_id_parameter in rule.remediation.parameters


def test_adding_a_resource_type_is_adding_a_mapping_file(tmp_path: Path) -> None:
    for f in DEFAULT_MAPPINGS_DIR.glob("*.yaml"):
        (tmp_path / f.name).write_text(f.read_text())
    (tmp_path / "sns_topic.yaml").write_text(yaml.safe_dump(GOOD))
    mappings = load_mappings(tmp_path)
    arn = "arn:aws:sns:ap-northeast-1:123456789012:t"
    doc = terraform.parse_document(
        plan(resource_change("aws_sns_topic.t", {"arn": arn, "kms_master_key_id": "alias/x"}))
    )
    index = config_items.ActualIndex(
        [config_items.parse_item(config_item("AWS::SNS::Topic", arn, {"KmsMasterKeyId": ""}))]
    )
    row = compare.detect(doc, mappings, index).rows[0]
    assert (row.verdict, row.config_rule) == (Verdict.NG, "sns-encrypted-kms")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("terraform"), "'terraform' is a required property"),
        (lambda d: d["attributes"][0].update(normalise="nope"), "unknown normaliser 'nope'"),
        (lambda d: d["attributes"][0].update(config_rule="missing-rule"), "config_rule missing-rule is not defined"),
        (lambda d: d["attributes"][0]["terraform"][0].update(type="aws_other"), "aws_other is not listed"),
        (lambda d: d["attributes"][0]["config"].update(path="configuration.[[["), "invalid attribute path"),
        (lambda d: d.update(config_resource_type="S3 bucket"), "does not match"),
        (lambda d: d["attributes"].append(dict(d["attributes"][0])), "defined twice"),
    ],
)
def test_invalid_mappings_fail_at_load_with_the_file_named(change, message: str) -> None:  # type: ignore[no-untyped-def]
    import copy

    doc = copy.deepcopy(GOOD)
    change(doc)
    with pytest.raises(MappingError) as err:
        parse_mapping(doc, "include/mappings/sns_topic.yaml")
    assert "include/mappings/sns_topic.yaml" in str(err.value)
    assert message in str(err.value)


def test_a_terraform_type_mapped_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(GOOD))
    (tmp_path / "b.yaml").write_text(
        yaml.safe_dump({**GOOD, "rules": [], "attributes": [{**GOOD["attributes"][0], "config_rule": None}]})
    )
    with pytest.raises(MappingError, match="already mapped"):
        load_mappings(tmp_path)


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="no mapping files"):
        load_mappings(tmp_path)
