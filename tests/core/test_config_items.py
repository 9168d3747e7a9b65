from __future__ import annotations

import json
from pathlib import Path

import pytest

from drift_repair.core import config_items
from drift_repair.core.errors import InputError
from tests.tfdocs import config_item

SUPPLEMENTARY = {
    "ServerSideEncryptionConfiguration": {
        "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    },
    "BucketVersioningConfiguration": {"status": "Enabled", "isMfaDeleteEnabled": None},
    "IsRequesterPaysEnabled": False,
}


def test_api_form_with_json_strings_equals_snapshot_form() -> None:
    api = config_items.parse_item(config_item("AWS::S3::Bucket", "b", {"name": "b"}, SUPPLEMENTARY, api_form=True))
    snap = config_items.parse_item(config_item("AWS::S3::Bucket", "b", {"name": "b"}, SUPPLEMENTARY))
    assert api.supplementary == snap.supplementary == SUPPLEMENTARY
    assert api.configuration == {"name": "b"}
    assert api.account_id == snap.account_id == "123456789012"


def test_string_values_that_are_not_json_stay_strings() -> None:
    raw = config_item("AWS::S3::Bucket", "b", {}, {})
    raw["supplementaryConfiguration"] = {"Note": "plain text", "Count": "3", "Flag": "true"}
    item = config_items.parse_item(raw)
    assert item.supplementary == {"Note": "plain text", "Count": 3, "Flag": True}


def test_item_status_flags() -> None:
    deleted = config_items.parse_item(config_item("AWS::S3::Bucket", "b", status="ResourceDeleted"))
    assert deleted.is_deleted and not deleted.is_recorded
    discovered = config_items.parse_item(config_item("AWS::S3::Bucket", "b", status="ResourceDiscovered"))
    assert discovered.is_recorded


def test_index_keeps_the_newest_capture_and_looks_up_by_name() -> None:
    old = config_item("AWS::RDS::DBInstance", "db-1", {"backupRetentionPeriod": 1}, name="main")
    new = {
        **config_item("AWS::RDS::DBInstance", "db-1", {"backupRetentionPeriod": 7}, name="main"),
        "configurationItemCaptureTime": "2026-11-30T00:00:00.000Z",
    }
    index = config_items.ActualIndex([config_items.parse_item(new), config_items.parse_item(old)])
    assert len(index) == 1
    item = index.get("AWS::RDS::DBInstance", "main", "resourceName")
    assert item is not None and item.configuration["backupRetentionPeriod"] == 7


def test_snapshot_file(tmp_path: Path) -> None:
    path = tmp_path / "snap.json"
    path.write_text(json.dumps({"fileVersion": "1.0", "configurationItems": [config_item("AWS::KMS::Key", "k")]}))
    assert [i.resource_id for i in config_items.load_snapshot(path)] == ["k"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"something": []}, "no configurationItems list"),
        ({"configurationItems": {}}, "configurationItems is not a list"),
        ({"configurationItems": [{"resourceType": "AWS::S3::Bucket"}]}, "without resourceType and resourceId"),
        (
            {"configurationItems": [{**config_item("AWS::S3::Bucket", "b"), "configuration": "[1]"}]},
            "configuration is not an object",
        ),
        ("just a string", "not an AWS Config configuration snapshot"),
    ],
)
def test_bad_snapshots_name_the_file(tmp_path: Path, doc: object, message: str) -> None:
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        config_items.load_snapshot(path)
    assert str(path) in str(err.value) and message in str(err.value)
