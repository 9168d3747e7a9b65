from __future__ import annotations

import pytest

from drift_repair.core import normalise as n


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), ("TRUE", True), ("false", False), (0, False), ("Enabled", True)]
)
def test_bool(value: object, expected: bool) -> None:
    assert n.to_bool(value) is expected


@pytest.mark.parametrize("value", ["maybe", 2, None, [True]])
def test_bool_refuses_what_it_does_not_understand(value: object) -> None:
    with pytest.raises(n.NormaliseError):
        n.to_bool(value)


def test_int_accepts_numeric_strings_not_booleans() -> None:
    assert n.to_int("7") == 7
    assert n.to_int(7.0) == 7
    with pytest.raises(n.NormaliseError):
        n.to_int(True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Enabled", "Enabled"),
        (True, "Enabled"),
        ("Suspended", "Disabled"),
        ("Off", "Disabled"),
        (False, "Disabled"),
        ("Disabled", "Disabled"),
    ],
)
def test_s3_versioning(value: object, expected: str) -> None:
    assert n.s3_versioning(value) == expected


def test_kms_key_id_from_arn() -> None:
    assert n.kms_key_id("arn:aws:kms:ap-northeast-1:123456789012:key/abc-1") == "abc-1"
    assert n.kms_key_id("alias/aws/s3") == "alias/aws/s3"


def test_security_group_rules_compare_as_sets_whatever_the_grouping() -> None:
    terraform_rules = [
        {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["10.0.0.0/8", "0.0.0.0/0"]},
        {"protocol": "6", "from_port": 80, "to_port": 80, "security_groups": ["sg-1"]},
        {"protocol": "tcp", "from_port": 22, "to_port": 22, "self": True},
        {"protocol": "-1", "from_port": 0, "to_port": 0, "ipv6_cidr_blocks": ["::/0"]},
    ]
    config_permissions = [
        {"ipProtocol": "-1", "ipv6Ranges": [{"cidrIpv6": "::/0"}]},
        {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "userIdGroupPairs": [{"groupId": "sg-self"}]},
        {
            "ipProtocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "ipRanges": ["0.0.0.0/0", "10.0.0.0/8"],
            "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8"}],
        },
        {"ipProtocol": "tcp", "fromPort": 80, "toPort": 80, "userIdGroupPairs": [{"groupId": "sg-1", "userId": "1"}]},
    ]
    assert n.sg_rules_terraform(terraform_rules) == n.sg_rules_config(config_permissions, "sg-self")
    assert len(n.sg_rules_terraform(terraform_rules)) == 5


def test_security_group_rule_difference_is_detected() -> None:
    tf = [{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"]}]
    cfg = [{"ipProtocol": "tcp", "fromPort": 443, "toPort": 444, "ipRanges": ["0.0.0.0/0"]}]
    assert n.sg_rules_terraform(tf) != n.sg_rules_config(cfg)


def test_unknown_normaliser_name() -> None:
    with pytest.raises(KeyError, match="unknown normaliser 'nope'"):
        n.get("nope")
