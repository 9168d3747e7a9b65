"""The Config fetcher against the sandbox: batches of 100, paginated name resolution, call counts."""

from __future__ import annotations

from typing import Any

import pytest

from drift_repair.aws.config import ConfigItemFetcher
from drift_repair.core.compare import Lookup

pytestmark = pytest.mark.sandbox

REGION = "ap-northeast-1"


@pytest.fixture(scope="module")
def buckets(sandbox) -> list[str]:  # type: ignore[no-untyped-def]
    s3 = sandbox.client("s3")
    names = [f"fetch-test-{i:04d}" for i in range(230)]
    for name in names:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    # As in AWS, Config has items only while a recorder (with a delivery channel) is recording.
    config = sandbox.client("config")
    config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": "arn:aws:iam::123456789012:role/config"}
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": names[0]})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    return names


def test_batch_get_uses_one_call_per_100_keys(sandbox, buckets: list[str]) -> None:  # type: ignore[no-untyped-def]
    fetcher = ConfigItemFetcher(sandbox.client("config"))
    index = fetcher.fetch([Lookup("AWS::S3::Bucket", "resourceId", frozenset(buckets))])
    assert len(index) == 230
    assert fetcher.stats.calls == {"BatchGetResourceConfig": 3}
    item = index.get("AWS::S3::Bucket", "fetch-test-0007")
    assert item is not None and isinstance(item.supplementary, dict)


def test_names_resolve_with_one_paginated_listing(sandbox, buckets: list[str]) -> None:  # type: ignore[no-untyped-def]
    fetcher = ConfigItemFetcher(sandbox.client("config"))
    wanted = frozenset(buckets[:5])
    index = fetcher.fetch([Lookup("AWS::S3::Bucket", "resourceName", wanted)])
    assert {i.resource_name for i in index} == set(wanted)
    assert fetcher.stats.calls["BatchGetResourceConfig"] == 1
    # 230+ buckets at 100 a page: the listing is paginated, never one call per resource
    assert 3 <= fetcher.stats.calls["ListDiscoveredResources"] <= 4


class _Unprocessed:
    """AWS may leave keys unprocessed under load; the sandbox never does, so this stand-in does."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def batch_get_resource_config(self, resourceKeys: list[dict[str, str]]) -> dict[str, Any]:
        self.calls.append(len(resourceKeys))
        done, left = resourceKeys[:1], resourceKeys[1:]
        items = [
            {"resourceType": k["resourceType"], "resourceId": k["resourceId"], "configuration": "{}"} for k in done
        ]
        return {"baseConfigurationItems": items, "unprocessedResourceKeys": left}


def test_unprocessed_keys_are_asked_again() -> None:
    client = _Unprocessed()
    fetcher = ConfigItemFetcher(client)
    index = fetcher.fetch([Lookup("AWS::KMS::Key", "resourceId", frozenset({"a", "b", "c"}))])
    assert len(index) == 3
    assert client.calls == [3, 2, 1]


def test_advanced_query_pages_of_100(sandbox, buckets: list[str]) -> None:  # type: ignore[no-untyped-def]
    fetcher = ConfigItemFetcher(sandbox.client("config"))
    index = fetcher.fetch_lookups_by_select([Lookup("AWS::S3::Bucket", "resourceId", frozenset(buckets))])
    assert {i.resource_id for i in index} >= set(buckets)
    found = len(index)
    assert fetcher.stats.calls == {"SelectResourceConfig": -(-found // 100)}
    item = index.get("AWS::S3::Bucket", "fetch-test-0042")
    assert item is not None
    # the same item as BatchGetResourceConfig gives: configuration and supplementaryConfiguration parsed
    batch = ConfigItemFetcher(sandbox.client("config")).fetch(
        [Lookup("AWS::S3::Bucket", "resourceId", frozenset({"fetch-test-0042"}))]
    )
    other = batch.get("AWS::S3::Bucket", "fetch-test-0042")
    assert other is not None
    assert item.supplementary == other.supplementary
    assert item.configuration == other.configuration


def test_reevaluation_waits_for_a_fresh_result(sandbox, buckets: list[str]) -> None:  # type: ignore[no-untyped-def]
    """EBS encryption by default is read off a periodic rule: after a repair it must run again."""
    config, ec2 = sandbox.client("config"), sandbox.client("ec2")
    config.put_config_rule(
        ConfigRule={
            "ConfigRuleName": "ebs-default-test",
            "Source": {"Owner": "AWS", "SourceIdentifier": "EC2_EBS_ENCRYPTION_BY_DEFAULT"},
            "MaximumExecutionFrequency": "TwentyFour_Hours",
        }
    )
    ec2.disable_ebs_encryption_by_default()
    fetcher = ConfigItemFetcher(config)
    assert fetcher.reevaluate(["ebs-default-test"], timeout=30, poll=0.2)
    assert set(fetcher.compliance(["ebs-default-test"]).values()) == {"NON_COMPLIANT"}
    ec2.enable_ebs_encryption_by_default()
    assert set(fetcher.compliance(["ebs-default-test"]).values()) == {"NON_COMPLIANT"}  # stale until re-run
    assert fetcher.reevaluate(["ebs-default-test"], timeout=30, poll=0.2)
    assert set(fetcher.compliance(["ebs-default-test"]).values()) == {"COMPLIANT"}
    assert fetcher.stats.calls["StartConfigRulesEvaluation"] == 2
