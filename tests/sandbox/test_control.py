"""Quotas, fault injection, the call record and CloudTrail LookupEvents, through boto3."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from config_support import REGION, Clients, clients_for

from tests.conftest import start_sandbox, stop_sandbox

pytestmark = pytest.mark.sandbox


def client(target: Any, service: str, **kwargs: Any) -> Any:
    """A client that tries once: what the server answered, not what a retry made of it."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=target.url,
        region_name=kwargs.pop("region_name", REGION),
        aws_access_key_id=kwargs.pop("aws_access_key_id", "testing"),
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _status(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return int(exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


# --------------------------------------------------------------------------- quotas


def test_quotas_are_off_by_default_and_publish_aws_rates(sb: Any) -> None:
    settings = sb.admin("GET", "/throttling")
    assert settings["enabled"] is False
    ops = settings["operations"]
    assert ops["ssm:StartAutomationExecution"]["rate"] == 1
    assert ops["ssm:GetAutomationExecution"]["rate"] == 3
    assert ops["ssm:DescribeAutomationStepExecutions"]["rate"] == 3
    assert ops["ssm:SendAutomationSignal"]["rate"] == 3
    kms = client(sb, "kms")
    for _ in range(10):  # far above any rate: nothing is throttled while quotas are off
        kms.list_keys()


def test_json_service_answers_throttling_exception(sb: Any) -> None:
    sb.admin("POST", "/throttling", {"operations": {"kms:ListKeys": {"rate": 0.01, "burst": 2, "enabled": True}}})
    kms = client(sb, "kms")
    kms.list_keys()
    kms.list_keys()
    with pytest.raises(ClientError) as exc:
        kms.list_keys()
    assert _code(exc) == "ThrottlingException" and _status(exc) == 400
    stats = sb.admin("GET", "/calls/stats")["operations"]["kms:ListKeys"]
    assert stats["success"] == 2 and stats["throttled"] == 1


def test_each_protocol_has_its_own_throttling_error(sb: Any) -> None:
    tiny = {"rate": 0.01, "burst": 1, "enabled": True}
    sb.admin(
        "POST",
        "/throttling",
        {
            "operations": {
                "DescribeVpcs": tiny,
                "DescribeDBInstances": tiny,
                "ListBuckets": tiny,
                "GetCallerIdentity": tiny,
            }
        },
    )
    cases = [
        (client(sb, "ec2").describe_vpcs, "RequestLimitExceeded", 503),
        (client(sb, "rds").describe_db_instances, "Throttling", 400),
        (client(sb, "s3").list_buckets, "SlowDown", 503),
        (client(sb, "sts").get_caller_identity, "Throttling", 400),
    ]
    for call, code, status in cases:
        call()
        with pytest.raises(ClientError) as exc:
            call()
        assert (_code(exc), _status(exc)) == (code, status)


def test_quotas_switch_globally_and_per_operation(sb: Any) -> None:
    sb.admin("POST", "/throttling", {"enabled": True, "operations": {"ListKeys": {"rate": 0.01, "burst": 1}}})
    kms = client(sb, "kms")
    kms.list_keys()
    with pytest.raises(ClientError):
        kms.list_keys()
    sb.admin("POST", "/throttling", {"operations": {"ListKeys": {"enabled": False}}})  # this one off, others on
    for _ in range(3):
        kms.list_keys()
    assert sb.admin("GET", "/throttling")["operations"]["ListKeys"]["enabled"] is False


def test_ssm_start_automation_is_limited_to_one_a_second_when_on(sb: Any) -> None:
    sb.admin("POST", "/throttling", {"enabled": True})
    ssm = client(sb, "ssm")
    outcomes = []
    for _ in range(2):
        try:
            ssm.start_automation_execution(DocumentName="AWS-NoSuchDocument")
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    assert outcomes[1] == "ThrottlingException"  # the second within a second, whatever the first answered


@pytest.fixture
def custom_sandbox(tmp_path: Path) -> Iterator[Any]:
    control = tmp_path / "control.yaml"
    control.write_text(
        "throttling:\n  operations:\n    ListKeys: {rate: 0.01, burst: 1}\n"
        "faults:\n  - {operation: ListAliases, error: KMSInternalException, status: 500, count: 1}\n",
        encoding="utf-8",
    )
    started = start_sandbox({"SANDBOX_THROTTLING": "1", "SANDBOX_CONTROL_FILE": str(control)})
    try:
        yield started
    finally:
        stop_sandbox(started)


def test_environment_and_control_file_configure_quotas_and_faults(custom_sandbox: Any) -> None:
    assert custom_sandbox.admin("GET", "/throttling")["enabled"] is True
    kms = client(custom_sandbox, "kms")
    kms.list_keys()
    with pytest.raises(ClientError) as exc:
        kms.list_keys()
    assert _code(exc) == "ThrottlingException"
    with pytest.raises(ClientError) as exc:
        kms.list_aliases()
    assert _code(exc) == "KMSInternalException" and _status(exc) == 500
    kms.list_aliases()
    custom_sandbox.reset()  # a reset goes back to the configured start, not to nothing
    assert custom_sandbox.admin("GET", "/faults")["faults"][0]["count"] == 1


# --------------------------------------------------------------------------- faults


def test_fault_fails_the_next_n_calls_then_clears(sb: Any) -> None:
    added = sb.admin("POST", "/faults", {"operation": "CreateBucket", "error": "InternalError", "count": 2})
    assert len(added["ids"]) == 1
    s3 = client(sb, "s3")
    for attempt in range(2):
        with pytest.raises(ClientError) as exc:
            s3.create_bucket(Bucket=f"faulty-{attempt}", CreateBucketConfiguration={"LocationConstraint": REGION})
        assert _code(exc) == "InternalError" and _status(exc) == 500
    s3.create_bucket(Bucket="faulty-2", CreateBucketConfiguration={"LocationConstraint": REGION})
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["faulty-2"]  # the failed calls changed nothing
    assert sb.admin("GET", "/faults")["faults"][0]["applied"] == 2


def test_fault_on_one_resource_and_on_a_json_operation(sb: Any) -> None:
    aws = clients_for(sb)
    target, other = aws.bucket("fault-target"), aws.bucket("fault-other")
    sb.admin(
        "POST",
        "/faults",
        {
            "operation": "s3:PutBucketVersioning",
            "resource": target,
            "error": "AccessDenied",
            "status": 403,
            "count": None,
        },
    )
    aws.s3.put_bucket_versioning(Bucket=other, VersioningConfiguration={"Status": "Enabled"})
    for _ in range(2):  # count null: every call until removed
        with pytest.raises(ClientError) as exc:
            aws.s3.put_bucket_versioning(Bucket=target, VersioningConfiguration={"Status": "Enabled"})
        assert _code(exc) == "AccessDenied" and _status(exc) == 403
    assert sb.admin("DELETE", "/faults", {})["removed"] == 1
    aws.s3.put_bucket_versioning(Bucket=target, VersioningConfiguration={"Status": "Enabled"})
    sb.admin(
        "POST", "/faults", {"operation": "DescribeKey", "error": "DependencyTimeoutException", "message": "slow HSM"}
    )
    with pytest.raises(ClientError) as exc:
        aws.kms.describe_key(KeyId="alias/anything")
    assert _code(exc) == "DependencyTimeoutException" and exc.value.response["Error"]["Message"] == "slow HSM"


def test_latency_fault_delays_and_then_answers(sb: Any) -> None:
    sb.admin("POST", "/faults", {"operation": "ListBuckets", "latency_ms": 300})
    s3 = client(sb, "s3")
    started = time.monotonic()
    s3.list_buckets()
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    s3.list_buckets()  # count 1: the next call is not delayed
    assert time.monotonic() - started < 5


def test_fault_after_effect_carries_the_call_out_and_answers_the_error(sb: Any) -> None:
    aws = clients_for(sb)
    bucket = aws.bucket("lost-response")
    sb.admin(
        "POST",
        "/faults",
        {"operation": "PutBucketVersioning", "resource": bucket, "error": "InternalError", "after_effect": True},
    )
    s3 = client(sb, "s3")
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert _code(exc) == "InternalError" and _status(exc) == 500
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"  # the change took effect all the same
    (call,) = sb.admin("GET", f"/calls?operation=PutBucketVersioning&resource={bucket}")["calls"]
    assert (call["outcome"], call["errorCode"]) == ("error", "InternalError")  # as the caller saw it
    assert sb.admin("GET", "/calls/stats")["operations"]["s3:PutBucketVersioning"] == {"total": 1, "fault": 1}


def test_fault_requires_an_error_or_latency(sb: Any) -> None:
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as exc:
        sb.admin("POST", "/faults", {"operation": "ListBuckets"})
    assert exc.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as exc:
        sb.admin("POST", "/faults", {"operation": "ListBuckets", "latency_ms": 10, "after_effect": True})
    assert exc.value.code == 400


# --------------------------------------------------------------------------- call record


def test_record_holds_mutating_calls_with_caller_resource_and_outcome(sb: Any) -> None:
    s3 = client(sb, "s3", aws_access_key_id="AKIAOPERATOR0001")
    s3.create_bucket(Bucket="recorded", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket="recorded", VersioningConfiguration={"Status": "Enabled"})
    s3.get_bucket_versioning(Bucket="recorded")  # a read: counted, not recorded
    with pytest.raises(ClientError):
        s3.put_bucket_versioning(Bucket="missing-bucket", VersioningConfiguration={"Status": "Enabled"})
    calls = sb.admin("GET", "/calls?service=s3")["calls"]
    assert [c["operation"] for c in calls] == ["CreateBucket", "PutBucketVersioning", "PutBucketVersioning"]
    created, versioned, failed = calls
    assert created["resources"] == [{"type": "AWS::S3::Bucket", "id": "recorded"}]
    assert created["accessKeyId"] == "AKIAOPERATOR0001"
    assert created["principal"] == "arn:aws:iam::123456789012:user/AKIAOPERATOR0001"
    assert versioned["outcome"] == "success" and versioned["status"] == 200
    assert failed["outcome"] == "error" and failed["errorCode"] == "NoSuchBucket"
    only = sb.admin("GET", "/calls?resource=recorded&outcome=success")["calls"]
    assert [c["operation"] for c in only] == ["CreateBucket", "PutBucketVersioning"]
    assert sb.admin("GET", "/calls/stats")["operations"]["s3:GetBucketVersioning"] == {"total": 1, "success": 1}


def test_record_knows_query_and_json_operations_and_created_ids(sb: Any) -> None:
    ec2 = client(sb, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    client(sb, "kms").create_key(Description="recorded key")
    calls = {c["operation"]: c for c in sb.admin("GET", "/calls")["calls"]}
    assert {"type": "AWS::EC2::VPC", "id": vpc} in calls["CreateVpc"]["resources"]
    assert calls["CreateSecurityGroup"]["parameters"]["GroupName"] == "g"
    assert {"type": "AWS::EC2::SecurityGroup", "id": group} in calls["CreateSecurityGroup"]["resources"]
    assert calls["CreateKey"]["resources"][0]["type"] == "AWS::KMS::Key"
    assert calls["CreateKey"]["eventSource"] == "kms.amazonaws.com"
    assert sb.admin("DELETE", "/calls")["cleared"] is True
    assert sb.admin("GET", "/calls")["calls"] == []


def test_rest_json_operations_are_identified(sb: Any) -> None:
    from config_support import lambda_function

    lambda_function(clients_for(sb), "identified")
    client(sb, "lambda").get_function(FunctionName="identified")
    assert [c["operation"] for c in sb.admin("GET", "/calls?service=lambda")["calls"]] == ["CreateFunction"]
    assert sb.admin("GET", "/calls/stats")["operations"]["lambda:GetFunction"]["total"] == 1


def test_throttled_and_faulted_mutations_are_recorded_as_errors(sb: Any) -> None:
    sb.admin("POST", "/faults", {"operation": "CreateKey", "error": "KMSInternalException", "status": 500})
    with pytest.raises(ClientError):
        client(sb, "kms").create_key()
    (call,) = sb.admin("GET", "/calls?operation=CreateKey")["calls"]
    assert call["outcome"] == "error" and call["errorCode"] == "KMSInternalException" and call["status"] == 500


# --------------------------------------------------------------------------- CloudTrail


def test_lookup_events_is_served_from_the_record(sb: Any) -> None:
    aws: Clients = clients_for(sb)
    bucket = aws.bucket("trail-of-calls")
    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    aws.s3.put_object(Bucket=bucket, Key="k", Body=b"data")  # a data event: not in LookupEvents
    events = aws.cloudtrail.lookup_events()["Events"]
    assert [e["EventName"] for e in events] == ["PutBucketVersioning", "CreateBucket"]  # newest first
    latest = events[0]
    assert latest["Resources"] == [{"ResourceType": "AWS::S3::Bucket", "ResourceName": bucket}]
    assert latest["EventSource"] == "s3.amazonaws.com" and latest["ReadOnly"] == "false"
    detail = json.loads(latest["CloudTrailEvent"])
    assert detail["eventName"] == "PutBucketVersioning" and detail["awsRegion"] == REGION
    assert detail["userIdentity"]["accessKeyId"] == "testing"

    by_name = aws.cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateBucket"}]
    )
    assert [e["EventName"] for e in by_name["Events"]] == ["CreateBucket"]
    by_resource = aws.cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": bucket}]
    )
    assert len(by_resource["Events"]) == 2
    page = aws.cloudtrail.lookup_events(MaxResults=1)
    assert len(page["Events"]) == 1 and page["NextToken"]
    rest = aws.cloudtrail.lookup_events(MaxResults=1, NextToken=page["NextToken"])
    assert rest["Events"][0]["EventName"] == "CreateBucket"
    with pytest.raises(ClientError) as exc:
        aws.cloudtrail.lookup_events(
            LookupAttributes=[
                {"AttributeKey": "EventName", "AttributeValue": "CreateBucket"},
                {"AttributeKey": "ReadOnly", "AttributeValue": "false"},
            ]
        )
    assert _code(exc) == "InvalidLookupAttributesException"
    assert client(aws.sandbox, "cloudtrail", region_name="us-west-2").lookup_events()["Events"] == []  # per Region


# --------------------------------------------------------------------------- reset


def test_reset_forgets_resources_record_faults_and_quotas(sb: Any) -> None:
    s3 = client(sb, "s3")
    s3.create_bucket(Bucket="to-forget", CreateBucketConfiguration={"LocationConstraint": REGION})
    sb.admin("POST", "/faults", {"operation": "ListKeys", "error": "InternalError"})
    sb.admin("POST", "/throttling", {"enabled": True})
    sb.reset()
    assert s3.list_buckets()["Buckets"] == []
    assert sb.admin("GET", "/calls")["calls"] == []
    assert sb.admin("GET", "/faults")["faults"] == []
    assert sb.admin("GET", "/throttling")["enabled"] is False
