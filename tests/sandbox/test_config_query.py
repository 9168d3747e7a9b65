"""SelectResourceConfig (advanced query): the SQL subset, results as JSON strings, pages, refusals."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from config_support import Clients

pytestmark = pytest.mark.sandbox


@pytest.fixture
def estate(aws: Clients) -> Clients:
    for name in ("q-alpha", "q-bravo", "q-charlie", "q-delta", "q-echo"):
        aws.bucket(name)
    for name in ("q-bravo", "q-delta"):
        aws.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    aws.kms.create_key(Description="query key")
    return aws


def _select(aws: Clients, expression: str, **kwargs: object) -> list[dict[str, object]]:
    response = aws.config.select_resource_config(Expression=expression, **kwargs)
    assert all(isinstance(r, str) for r in response["Results"])  # each result is a JSON string, as in AWS
    return [json.loads(r) for r in response["Results"]]


def test_select_fields_with_where_on_type_and_supplementary_configuration(estate: Clients) -> None:
    rows = _select(
        estate,
        "SELECT resourceId, supplementaryConfiguration.BucketVersioningConfiguration.status "
        "WHERE resourceType = 'AWS::S3::Bucket' "
        "AND supplementaryConfiguration.BucketVersioningConfiguration.status = 'Enabled'",
    )
    assert rows == [
        {
            "resourceId": "q-bravo",
            "supplementaryConfiguration": {"BucketVersioningConfiguration": {"status": "Enabled"}},
        },
        {
            "resourceId": "q-delta",
            "supplementaryConfiguration": {"BucketVersioningConfiguration": {"status": "Enabled"}},
        },
    ]
    info = estate.config.select_resource_config(
        Expression="SELECT resourceId, resourceType WHERE resourceType = 'AWS::KMS::Key'"
    )
    assert info["QueryInfo"]["SelectFields"] == [{"Name": "resourceId"}, {"Name": "resourceType"}]


def test_or_in_and_parentheses(estate: Clients) -> None:
    rows = _select(
        estate,
        "SELECT resourceId WHERE resourceType = 'AWS::S3::Bucket' "
        "AND (resourceId = 'q-alpha' OR resourceId IN ('q-echo', 'q-zulu'))",
    )
    assert [r["resourceId"] for r in rows] == ["q-alpha", "q-echo"]
    kinds = _select(
        estate,
        "SELECT resourceType WHERE resourceType IN ('AWS::KMS::Key', 'AWS::S3::Bucket') "
        "AND configuration.enabled = true",
    )
    assert kinds == [{"resourceType": "AWS::KMS::Key"}]


def test_conditions_look_into_arrays(aws: Clients) -> None:
    vpc = aws.ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    group = aws.ec2.create_security_group(GroupName="ssh", Description="ssh", VpcId=vpc)["GroupId"]
    aws.ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    rows = _select(
        aws,
        "SELECT resourceId, configuration.ipPermissions.fromPort "
        "WHERE resourceType = 'AWS::EC2::SecurityGroup' AND configuration.ipPermissions.fromPort = 22",
    )
    assert rows == [{"resourceId": group, "configuration": {"ipPermissions": [{"fromPort": 22}]}}]


def test_pages_of_limit_with_next_token(estate: Clients) -> None:
    expression = "SELECT resourceId WHERE resourceType = 'AWS::S3::Bucket'"
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs: dict[str, object] = {"Limit": 2}
        if token:
            kwargs["NextToken"] = token
        response = estate.config.select_resource_config(Expression=expression, **kwargs)
        assert len(response["Results"]) <= 2
        seen += [json.loads(r)["resourceId"] for r in response["Results"]]
        pages += 1
        token = response.get("NextToken")
        if not token:
            break
    assert pages == 3  # five query buckets and the delivery bucket, two a page
    assert sorted(seen) == sorted(["config-delivery-sandbox", "q-alpha", "q-bravo", "q-charlie", "q-delta", "q-echo"])


def test_limit_above_100_and_foreign_tokens_are_refused(estate: Clients) -> None:
    with pytest.raises(ClientError) as exc:
        estate.config.select_resource_config(Expression="SELECT resourceId", Limit=101)
    assert exc.value.response["Error"]["Code"] == "InvalidLimitException"
    token = estate.config.select_resource_config(Expression="SELECT resourceId", Limit=1)["NextToken"]
    with pytest.raises(ClientError) as exc:  # a token belongs to its own query
        estate.config.select_resource_config(Expression="SELECT resourceType", Limit=1, NextToken=token)
    assert exc.value.response["Error"]["Code"] == "InvalidNextTokenException"


@pytest.mark.parametrize(
    "expression",
    [
        "SELECT *",
        "SELECT resourceId, COUNT(*) WHERE resourceType = 'AWS::S3::Bucket' GROUP BY resourceId",
        "SELECT resourceId ORDER BY resourceId",
        "SELECT resourceId WHERE resourceId LIKE 'q-%'",
        "SELECT resourceId WHERE NOT resourceId = 'q-alpha'",
        "SELECT resourceId WHERE configuration.allocatedStorage > 10",
        "SELECT resourceId FROM resources",
        "SELECT resourceId WHERE resourceId = ",
        "DELETE resourceId",
        "SELECT resourceId WHERE resourceId = 'unterminated",
    ],
)
def test_unsupported_sql_is_refused_with_invalid_expression(estate: Clients, expression: str) -> None:
    with pytest.raises(ClientError) as exc:
        estate.config.select_resource_config(Expression=expression)
    assert exc.value.response["Error"]["Code"] == "InvalidExpressionException"


def test_deleted_resources_are_not_queried(estate: Clients) -> None:
    estate.s3.delete_bucket(Bucket="q-charlie")
    rows = _select(estate, "SELECT resourceId WHERE resourceId = 'q-charlie'")
    assert rows == []
