from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from drift_repair.core import terraform
from drift_repair.core.errors import InputError
from drift_repair.core.models import SENSITIVE_VALUE, UNKNOWN_VALUE
from tests.tfdocs import plan, resource_change, state, state_resource

REPO = Path(__file__).resolve().parents[2]
DEV_PLAN = REPO / "include" / "environments" / "dev" / "plan.json"


def test_example_plan_addresses_with_modules_count_and_for_each() -> None:
    doc = terraform.load(DEV_PLAN)
    by = doc.by_address()
    assert doc.kind == "plan"
    logs = by['module.storage.aws_s3_bucket.this["logs"]']
    assert (logs.module_address, logs.type, logs.name, logs.index) == (
        "module.storage",
        "aws_s3_bucket",
        "this",
        "logs",
    )
    web1 = by["module.app.aws_instance.web[1]"]
    assert (web1.module_address, web1.index) == ("module.app", 1)
    assert by["aws_db_instance.main"].module_address == ""


def test_plan_designed_values_come_from_after_not_the_drifted_before() -> None:
    doc = terraform.load(DEV_PLAN)
    db = doc.by_address()["aws_db_instance.main"]
    assert db.actions == ("update",)
    assert db.values["backup_retention_period"] == 7  # before (refreshed, drifted) says 1


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("aws_s3_bucket.logs", ("", "managed", "aws_s3_bucket", "logs", None)),
        ('module.net.aws_s3_bucket.logs["a"]', ("module.net", "managed", "aws_s3_bucket", "logs", "a")),
        ("module.a[0].module.b.aws_instance.web[3]", ("module.a[0].module.b", "managed", "aws_instance", "web", 3)),
        (
            'module.m["k.v"].data.aws_iam_policy_document.p',
            ('module.m["k.v"]', "data", "aws_iam_policy_document", "p", None),
        ),
        ('aws_s3_bucket.b["with \\"quote\\""]', ("", "managed", "aws_s3_bucket", "b", 'with "quote"')),
    ],
)
def test_address_parse(address: str, expected: tuple[object, ...]) -> None:
    a = terraform.Address.parse(address)
    assert (a.module, a.mode, a.type, a.name, a.index) == expected


@pytest.mark.parametrize("text", ["aws_s3_bucket", "aws_s3_bucket.a.b", "aws_s3_bucket.a[x]"])
def test_address_parse_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="not a Terraform resource address"):
        terraform.Address.parse(text)


def test_nested_child_modules_in_a_state() -> None:
    root = {
        "resources": [state_resource("aws_kms_key.root", {"key_id": "k1"})],
        "child_modules": [
            {
                "address": "module.a",
                "resources": [state_resource("module.a.aws_kms_key.k[0]", {"key_id": "k2"})],
                "child_modules": [
                    {
                        "address": 'module.a.module.b["x"]',
                        "resources": [state_resource('module.a.module.b["x"].aws_kms_key.k', {"key_id": "k3"})],
                    }
                ],
            }
        ],
    }
    doc = terraform.parse_document(state(root), "state.json")
    assert doc.kind == "state"
    by = doc.by_address()
    assert by['module.a.module.b["x"].aws_kms_key.k'].module_address == 'module.a.module.b["x"]'
    assert by["module.a.aws_kms_key.k[0]"].index == 0
    assert {r.values["key_id"] for r in doc.resources} == {"k1", "k2", "k3"}
    assert all(r.configured is None for r in doc.resources)  # a state carries no configuration


def test_unknown_values_become_the_unknown_sentinel_never_a_guess() -> None:
    rc = resource_change(
        "aws_s3_bucket_versioning.new",
        {"versioning_configuration": [{"status": "Enabled"}]},
        actions=("create",),
        after_unknown={"bucket": True, "id": True, "versioning_configuration": [{"mfa_delete": True}]},
    )
    doc = terraform.parse_document(plan(rc))
    values = doc.resources[0].values
    assert values["bucket"] is UNKNOWN_VALUE  # absent from "after", marked in after_unknown
    assert values["versioning_configuration"][0] == {"status": "Enabled", "mfa_delete": UNKNOWN_VALUE}


def test_whole_object_unknown() -> None:
    rc = resource_change("aws_s3_bucket.x", {}, actions=("create",), after_unknown=True)
    rc["change"]["after"] = None
    doc = terraform.parse_document(plan(rc))
    assert doc.resources[0].values is UNKNOWN_VALUE


def test_sensitive_values_are_hidden() -> None:
    rc = resource_change(
        "aws_db_instance.main",
        {"password": "hunter2", "tags": {"a": "b"}},
        after_sensitive={"password": True, "tags": {"a": True}},
    )
    doc = terraform.parse_document(plan(rc))
    values = doc.resources[0].values
    assert values["password"] is SENSITIVE_VALUE
    assert values["tags"]["a"] is SENSITIVE_VALUE
    assert "hunter2" not in repr(values)


def test_deleted_resources_and_data_sources_are_not_design() -> None:
    doc = terraform.parse_document(
        plan(
            resource_change("aws_s3_bucket.gone", {"bucket": "gone"}, actions=("delete",)),
            resource_change("aws_s3_bucket.kept", {"bucket": "kept"}),
            resource_change("data.aws_caller_identity.me", {"account_id": "1"}, mode="data"),
        )
    )
    assert [r.address for r in doc.resources] == ["aws_s3_bucket.kept"]


def test_replace_keeps_the_new_design() -> None:
    doc = terraform.parse_document(
        plan(resource_change("aws_instance.x", {"instance_type": "t3.micro"}, actions=("delete", "create")))
    )
    assert doc.resources[0].values["instance_type"] == "t3.micro"


def test_configured_arguments_are_read_from_the_configuration_section() -> None:
    configuration = {
        "root_module": {
            "module_calls": {
                "app": {
                    "module": {
                        "resources": [
                            {
                                "address": "aws_instance.web",
                                "type": "aws_instance",
                                "name": "web",
                                "expressions": {"instance_type": {"constant_value": "t3.micro"}},
                            }
                        ]
                    }
                }
            }
        }
    }
    doc = terraform.parse_document(
        plan(
            resource_change("module.app.aws_instance.web[0]", {"instance_type": "t3.micro", "metadata_options": []}),
            configuration=configuration,
        )
    )
    assert doc.resources[0].configured == frozenset({"instance_type"})


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be-bom", "utf-16-le-nobom"])
def test_utf16_and_bom_files_parse_like_utf8(tmp_path: Path, encoding: str) -> None:
    text = DEV_PLAN.read_text(encoding="utf-8")
    path = tmp_path / "plan.json"
    if encoding == "utf-16-be-bom":
        path.write_bytes(codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    elif encoding == "utf-16-le-nobom":
        path.write_bytes(text.encode("utf-16-le"))
    else:
        path.write_bytes(text.encode(encoding))  # utf-16 writes a BOM (PowerShell's `>`)
    assert terraform.load(path).by_address().keys() == terraform.load(DEV_PLAN).by_address().keys()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b'{"format_version": "1.2",', "not valid JSON at line 1"),
        (b"[1, 2]", "top level is not a JSON object"),
        (b'{"resource_changes": []}', "no format_version"),
        (b'{"format_version": "2.0", "values": {}}', "unsupported format_version '2.0'"),
        (b'{"format_version": "1.2", "resource_changes": {}}', "resource_changes is not a list"),
        (
            b'{"format_version": "1.2", "resource_changes": [{"address": "aws_s3_bucket.a", "type": '
            b'"aws_s3_bucket", "name": "a"}]}',
            "has no change object",
        ),
        (b'{"format_version": "1.2", "something": 1}', "neither a plan"),
        (b"\xff\xfe{\x00\xd8", "not valid UTF-16-LE text"),
    ],
)
def test_malformed_input_names_the_file_and_the_problem(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "broken-plan.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        terraform.load(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_duplicate_addresses_are_refused() -> None:
    rc = resource_change("aws_s3_bucket.a", {"bucket": "a"})
    with pytest.raises(InputError, match=r"listed twice: aws_s3_bucket\.a"):
        terraform.parse_document(plan(rc, rc), "p.json")


def test_missing_file() -> None:
    with pytest.raises(InputError, match="file not found"):
        terraform.load("/nonexistent/plan.json")


def test_empty_state_is_valid() -> None:
    doc = terraform.loads(json.dumps({"format_version": "1.0"}))
    assert doc.resources == ()
