"""Checks that need a real Terraform engine: fmt, and evaluating the catalog (the module's reading of the mappings).

The catalog is provider-free, so the engine evaluates exactly the expressions the module deploys from:
which Config rules exist, which remediation configuration each gets and with which parameters. Those are
compared with the mappings (as the detector loads them) and with the runbooks' declared parameters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from drift_repair.core.mappings import load_mappings
from tests.runbooks.support import load_runbook
from tests.terraform.engine import CATALOG_DIR, REPO, TERRAFORM_DIR, engine, load_hcl, output_json, terraform

pytestmark = pytest.mark.terraform


def test_terraform_fmt_check_is_clean() -> None:
    result = terraform("fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM_DIR), cwd=REPO)
    assert result.returncode == 0, f"terraform fmt ({engine()}) wants changes:\n{result.output}"


def _apply_catalog(
    root: Path, mappings_dir: Path, module_values: dict[str, Any], defaults: dict[str, str]
) -> dict[str, Any]:
    """Apply the catalog module in ``root`` (no provider, local state) and return its outputs."""
    root.mkdir(parents=True, exist_ok=True)
    config = {
        "module": {
            "catalog": {
                "source": str(CATALOG_DIR),
                "mappings_dir": str(mappings_dir),
                "runbooks_dir": str(REPO / "include" / "runbooks"),
                "module_values": module_values,
                "expected_defaults": defaults,
            }
        },
        "output": {
            name: {"value": f"${{module.catalog.{name}}}"} for name in ("config_rules", "remediations", "runbooks")
        },
    }
    (root / "main.tf.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    for args in (("init", "-input=false", "-no-color"), ("apply", "-auto-approve", "-input=false", "-no-color")):
        result = terraform(*args, cwd=root)
        assert result.returncode == 0, result.output
    return output_json(root)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The catalog as the dev environment deploys it: its tfvars and the module's default expected values."""
    tfvars = load_hcl(TERRAFORM_DIR / "environments" / "dev" / "terraform.tfvars")
    module_values = {
        "automation_role_arn": f"arn:aws:iam::{tfvars['account_id']}:role/drift-repair-automation-dev",
        "evidence_bucket": tfvars["evidence_bucket_name"],
        "approvers": tfvars["approver_arns"],
        "min_required_approvals": tfvars["min_required_approvals"],
        "loop_guard_window_hours": tfvars["loop_guard_window_hours"],
        "loop_guard_max_per_window": tfvars["loop_guard_max_per_window"],
    }
    (variables,) = [
        v["expected_defaults"]
        for v in load_hcl(CATALOG_DIR.parent / "variables.tf")["variable"]
        if "expected_defaults" in v
    ]
    outputs = _apply_catalog(
        tmp_path_factory.mktemp("catalog"), REPO / "include" / "mappings", module_values, variables["default"]
    )
    return outputs | {"module_values": module_values}


def test_static_ssm_and_empty_expected_values_become_the_right_parameters(tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "kms_key.yaml").write_text(
        yaml.safe_dump(
            {
                "config_resource_type": "AWS::KMS::Key",
                "terraform": {"aws_kms_key": {"id": "key_id"}},
                "attributes": [],
                "rules": [
                    {
                        "name": "cmk-backing-key-rotation-enabled",
                        "source_identifier": "CMK_BACKING_KEY_ROTATION_ENABLED",
                        "input_parameters": {"threshold": 7},
                        "remediation": {
                            "runbook": "DriftRepair-KMS-EnableKeyRotation",
                            "parameters": {
                                "KeyId": {"resource_id": True},
                                "LoopGuardMaxPerWindow": {"static": 5},
                                "EvidenceBucketName": {"ssm_parameter": "/drift-repair/evidence-bucket"},
                                "LoopGuardWindowHours": {"expected": "not_designed"},
                                "Approvers": {"module": "approvers"},
                            },
                        },
                    }
                ],
            }
        ),
        encoding="utf-8",
    )
    outputs = _apply_catalog(tmp_path / "root", mappings, {"approvers": ["arn:aws:iam::123456789012:role/a"]}, {})
    (rule,) = outputs["config_rules"].values()
    assert rule["input_parameters"] == {"threshold": "7"}
    parameters = outputs["remediations"]["cmk-backing-key-rotation-enabled"]["parameters"]
    assert parameters == {
        "KeyId": {"resource_value": "RESOURCE_ID", "static_value": None, "static_values": None},
        "LoopGuardMaxPerWindow": {"resource_value": None, "static_value": "5", "static_values": None},
        # Automation resolves Parameter Store references in parameter values when the execution starts.
        "EvidenceBucketName": {
            "resource_value": None,
            "static_value": "{{ssm:/drift-repair/evidence-bucket}}",
            "static_values": None,
        },
        "Approvers": {
            "resource_value": None,
            "static_value": None,
            "static_values": ["arn:aws:iam::123456789012:role/a"],
        },
    }


def test_every_mapping_rule_is_a_config_rule_and_every_config_rule_has_a_mapping(catalog: dict[str, Any]) -> None:
    mappings = load_mappings()
    assert set(catalog["config_rules"]) == set(mappings.rules)
    for name, rule in mappings.rules.items():
        deployed = catalog["config_rules"][name]
        assert deployed["source_identifier"] == rule.source_identifier
        assert deployed["input_parameters"] == {k: str(v) for k, v in rule.input_parameters.items()}
        assert deployed["has_remediation"] is (rule.remediation is not None)
    by_rule = {r: m for m in mappings.mappings for r in m.rules}
    for name, deployed in catalog["config_rules"].items():
        assert deployed["resource_type"].startswith("AWS::")
        assert deployed["mapping"] == Path(by_rule[name].source).stem


def test_every_mapping_rule_with_a_runbook_has_a_remediation_configuration(catalog: dict[str, Any]) -> None:
    wanted = {n: r.remediation.runbook for n, r in load_mappings().rules.items() if r.remediation is not None}
    assert {n: r["runbook"] for n, r in catalog["remediations"].items()} == wanted
    assert "vpc-flow-logs-enabled" not in catalog["remediations"]  # deliberately repaired by hand


def test_every_deployed_runbook_is_a_file_and_every_file_is_deployed(catalog: dict[str, Any]) -> None:
    files = {p.stem: p for p in (REPO / "include" / "runbooks").glob("*.yaml")}
    assert set(catalog["runbooks"]) == set(files)
    for name, path in catalog["runbooks"].items():
        assert Path(path).resolve() == files[name].resolve()
    for remediation in catalog["remediations"].values():
        assert remediation["aws_owned"] or remediation["runbook"] in catalog["runbooks"]


def _check_value(spec: dict[str, Any], value: str, where: str) -> None:
    if spec["type"] == "Integer":
        assert re.fullmatch(r"-?\d+", value), f"{where}: {value!r} is not an Integer"
    elif spec["type"] == "Boolean":
        assert value in ("true", "false"), f"{where}: {value!r} is not a Boolean"
    else:
        if "allowedPattern" in spec:
            assert re.search(spec["allowedPattern"], value), f"{where}: {value!r} fails {spec['allowedPattern']}"
        if "allowedValues" in spec:
            assert value in spec["allowedValues"], f"{where}: {value!r} not in {spec['allowedValues']}"


def test_remediation_parameters_match_the_runbook_parameters(catalog: dict[str, Any]) -> None:
    mappings = load_mappings()
    for rule_name, remediation in catalog["remediations"].items():
        runbook = load_runbook(remediation["runbook"])
        declared = runbook.parameters
        given = remediation["parameters"]
        assert set(given) <= set(declared), f"{rule_name}: unknown {sorted(set(given) - set(declared))}"
        required = {name for name, spec in declared.items() if "default" not in spec}
        assert required <= set(given), f"{rule_name}: required {sorted(required - set(given))} not given"

        resource_params = [n for n, p in given.items() if p["resource_value"] is not None]
        expected_resource_param = mappings.rules[rule_name].remediation.resource_id_parameter  # type: ignore[union-attr]
        assert resource_params == [expected_resource_param], rule_name
        assert given[expected_resource_param]["resource_value"] == "RESOURCE_ID"

        for name, value in given.items():
            kinds = [k for k in ("resource_value", "static_value", "static_values") if value[k] is not None]
            assert len(kinds) == 1, f"{rule_name}.{name}: {kinds}"
            where = f"{rule_name}.{name}"
            if value["static_value"] is not None:
                _check_value(declared[name], value["static_value"], where)
            if value["static_values"] is not None:
                assert declared[name]["type"] == "StringList", where
                for item in value["static_values"]:
                    _check_value({**declared[name], "type": "String"}, item, where)


def test_module_supplied_values_are_the_module_contract(catalog: dict[str, Any]) -> None:
    """Every {module: <name>} a mapping uses is a value the module supplies."""
    used = {
        spec["module"]
        for rule in load_mappings().rules.values()
        if rule.remediation is not None
        for spec in rule.remediation.parameters.values()
        if "module" in spec
    }
    assert used <= set(catalog["module_values"])
    assert catalog["remediations"]["s3-bucket-server-side-encryption-enabled"]["parameters"]["SSEAlgorithm"] == {
        "resource_value": None,
        "static_value": "AES256",
        "static_values": None,
    }
    # An empty expected default leaves the parameter to the runbook (KMSMasterKeyId defaults to '').
    assert "KMSMasterKeyId" not in catalog["remediations"]["s3-bucket-server-side-encryption-enabled"]["parameters"]
