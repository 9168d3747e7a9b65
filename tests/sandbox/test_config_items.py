"""AWS Config recording and configuration items, through boto3 against the running sandbox."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from config_support import REGION, Clients, clients_for, db, network, start_recorder

from drift_repair.core.config_items import parse_item
from drift_repair.core.paths import compile_path

pytestmark = pytest.mark.sandbox


def _item(aws: Clients, resource_type: str, resource_id: str) -> dict[str, Any]:
    found = aws.config.batch_get_resource_config(
        resourceKeys=[{"resourceType": resource_type, "resourceId": resource_id}]
    )
    assert len(found["baseConfigurationItems"]) == 1, found
    return found["baseConfigurationItems"][0]


def _value(item: dict[str, Any], path: str) -> Any:
    return compile_path(path).get(parse_item(item).document())


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


# --------------------------------------------------------------------------- recording


def test_without_a_recorder_config_refuses_to_list(sb: Any) -> None:
    config = sb.client("config")
    with pytest.raises(ClientError) as exc:
        config.list_discovered_resources(resourceType="AWS::S3::Bucket")
    assert _code(exc) == "NoAvailableConfigurationRecorderException"


def test_nothing_is_recorded_until_the_recorder_starts(sb: Any) -> None:
    aws = clients_for(sb)
    bucket = aws.bucket()
    aws.config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": "arn:aws:iam::123456789012:role/c"}
    )
    assert aws.config.list_discovered_resources(resourceType="AWS::S3::Bucket")["resourceIdentifiers"] == []
    with pytest.raises(ClientError) as exc:  # starting needs a delivery channel
        aws.config.start_configuration_recorder(ConfigurationRecorderName="default")
    assert _code(exc) == "NoAvailableDeliveryChannelException"
    aws.config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": bucket})
    aws.config.start_configuration_recorder(ConfigurationRecorderName="default")
    listed = aws.config.list_discovered_resources(resourceType="AWS::S3::Bucket")["resourceIdentifiers"]
    assert listed == [{"resourceType": "AWS::S3::Bucket", "resourceId": bucket, "resourceName": bucket}]


def test_changes_made_while_stopped_are_not_recorded(aws: Clients) -> None:
    bucket = aws.bucket()
    assert (
        _value(_item(aws, "AWS::S3::Bucket", bucket), "supplementaryConfiguration.BucketVersioningConfiguration.status")
        == "Off"
    )
    aws.config.stop_configuration_recorder(ConfigurationRecorderName="default")
    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert (
        _value(_item(aws, "AWS::S3::Bucket", bucket), "supplementaryConfiguration.BucketVersioningConfiguration.status")
        == "Off"
    )
    aws.config.start_configuration_recorder(ConfigurationRecorderName="default")
    assert (
        _value(_item(aws, "AWS::S3::Bucket", bucket), "supplementaryConfiguration.BucketVersioningConfiguration.status")
        == "Enabled"
    )


def test_recording_group_limits_what_is_recorded(sb: Any) -> None:
    aws = clients_for(sb)
    bucket = aws.bucket()
    aws.config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": "arn:aws:iam::123456789012:role/c",
            "recordingGroup": {"allSupported": False, "resourceTypes": ["AWS::KMS::Key"]},
        }
    )
    aws.config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": bucket})
    aws.config.start_configuration_recorder(ConfigurationRecorderName="default")
    key = aws.kms.create_key()["KeyMetadata"]["KeyId"]
    assert aws.config.list_discovered_resources(resourceType="AWS::S3::Bucket")["resourceIdentifiers"] == []
    keys = aws.config.list_discovered_resources(resourceType="AWS::KMS::Key")["resourceIdentifiers"]
    assert [k["resourceId"] for k in keys] == [key]


# --------------------------------------------------------------------------- item shapes


def test_s3_item_has_supplementary_values_as_json_strings_and_default_encryption(aws: Clients) -> None:
    bucket = aws.bucket()
    item = _item(aws, "AWS::S3::Bucket", bucket)
    assert item["resourceId"] == item["resourceName"] == bucket
    assert item["arn"] == f"arn:aws:s3:::{bucket}" and item["awsRegion"] == REGION
    assert item["configurationItemStatus"] == "ResourceDiscovered"
    assert isinstance(item["configuration"], str) and json.loads(item["configuration"])["name"] == bucket
    supplementary = item["supplementaryConfiguration"]
    assert all(isinstance(v, str) for v in supplementary.values())
    sse = json.loads(supplementary["ServerSideEncryptionConfiguration"])
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256", "kmsMasterKeyID": None}
    assert json.loads(supplementary["BucketVersioningConfiguration"]) == {"status": "Off", "isMfaDeleteEnabled": None}
    assert supplementary["IsRequesterPaysEnabled"] == "false"
    assert isinstance(json.loads(supplementary["AccessControlList"]), str)  # encoded twice, as AWS does
    assert "PublicAccessBlockConfiguration" not in supplementary
    # and S3 itself answers the default encryption, as it does since 2023
    rules = aws.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_s3_item_follows_bucket_settings(aws: Clients) -> None:
    logs, bucket = aws.bucket(), aws.bucket()
    key = aws.kms.create_key()["KeyMetadata"]["Arn"]
    aws.s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    flags = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True,
    }
    aws.s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=flags)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": ["s3:PutObject"],
                "Resource": f"arn:aws:s3:::{logs}/*",
            }
        ],
    }
    aws.s3.put_bucket_policy(Bucket=logs, Policy=json.dumps(policy))
    aws.s3.put_bucket_logging(
        Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": "s3/x/"}}
    )
    item = _item(aws, "AWS::S3::Bucket", bucket)
    prefix = "supplementaryConfiguration.ServerSideEncryptionConfiguration.rules[0]"
    assert _value(item, f"{prefix}.applyServerSideEncryptionByDefault.sseAlgorithm") == "aws:kms"
    assert _value(item, f"{prefix}.applyServerSideEncryptionByDefault.kmsMasterKeyID") == key
    assert _value(item, f"{prefix}.bucketKeyEnabled") is True
    assert _value(item, "supplementaryConfiguration.BucketVersioningConfiguration.status") == "Enabled"
    assert _value(item, "supplementaryConfiguration.PublicAccessBlockConfiguration.blockPublicPolicy") is False
    assert _value(item, "supplementaryConfiguration.PublicAccessBlockConfiguration.blockPublicAcls") is True
    assert _value(item, "supplementaryConfiguration.BucketLoggingConfiguration.destinationBucketName") == logs
    assert _value(item, "supplementaryConfiguration.BucketLoggingConfiguration.logFilePrefix") == "s3/x/"
    assert item["configurationItemStatus"] == "OK"


def test_deleting_default_encryption_restores_sse_s3(aws: Clients) -> None:
    bucket = aws.bucket()
    aws.s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    aws.s3.delete_bucket_encryption(Bucket=bucket)
    path = (
        "supplementaryConfiguration.ServerSideEncryptionConfiguration.rules[0]"
        ".applyServerSideEncryptionByDefault.sseAlgorithm"
    )
    assert _value(_item(aws, "AWS::S3::Bucket", bucket), path) == "AES256"


def test_rds_item_is_keyed_by_dbi_resource_id(aws: Clients) -> None:
    first, second = db(aws, "orders-db"), db(aws, "billing-db", DeletionProtection=True, MultiAZ=True)
    assert first["DbiResourceId"] != second["DbiResourceId"]  # each instance has its own
    item = _item(aws, "AWS::RDS::DBInstance", second["DbiResourceId"])
    assert item["resourceName"] == "billing-db"
    configuration = json.loads(item["configuration"])
    assert configuration["dbiResourceId"] == second["DbiResourceId"]
    assert configuration["dBInstanceIdentifier"] == "billing-db"
    assert configuration["backupRetentionPeriod"] == 7
    assert configuration["publiclyAccessible"] is False
    assert configuration["deletionProtection"] is True and configuration["multiAZ"] is True
    aws.rds.modify_db_instance(DBInstanceIdentifier="billing-db", BackupRetentionPeriod=1, ApplyImmediately=True)
    assert (
        json.loads(_item(aws, "AWS::RDS::DBInstance", second["DbiResourceId"])["configuration"])[
            "backupRetentionPeriod"
        ]
        == 1
    )


def test_ec2_instance_security_group_and_flow_log_items(aws: Clients) -> None:
    vpc, subnet = network(aws)
    group = aws.ec2.create_security_group(GroupName="web", Description="web tier", VpcId=vpc)["GroupId"]
    aws.ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    image = aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = aws.ec2.run_instances(
        ImageId=image,
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        SecurityGroupIds=[group],
        MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
    )["Instances"][0]["InstanceId"]
    flow = aws.ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination=f"arn:aws:s3:::{aws.bucket()}",
    )["FlowLogIds"][0]

    inst = json.loads(_item(aws, "AWS::EC2::Instance", instance)["configuration"])
    assert inst["metadataOptions"]["httpTokens"] == "required" and inst["metadataOptions"]["httpEndpoint"] == "enabled"
    assert inst["securityGroups"] == [{"groupName": "web", "groupId": group}]
    aws.ec2.modify_instance_metadata_options(InstanceId=instance, HttpTokens="optional")
    after = json.loads(_item(aws, "AWS::EC2::Instance", instance)["configuration"])["metadataOptions"]
    assert after["httpTokens"] == "optional" and after["httpEndpoint"] == "enabled"  # the other options stay

    sg_item = _item(aws, "AWS::EC2::SecurityGroup", group)
    assert sg_item["resourceName"] == "web"
    sg = json.loads(sg_item["configuration"])
    https = next(p for p in sg["ipPermissions"] if p.get("fromPort") == 443)
    assert https["ipRanges"] == ["0.0.0.0/0"] and https["ipv4Ranges"] == [{"cidrIp": "0.0.0.0/0"}]
    assert all("fromPort" not in p for p in sg["ipPermissionsEgress"] if p["ipProtocol"] == "-1")

    fl = json.loads(_item(aws, "AWS::EC2::FlowLog", flow)["configuration"])
    assert fl["resourceId"] == vpc and fl["trafficType"] == "ALL" and fl["logDestinationType"] == "s3"


def test_kms_key_item_carries_rotation_status(aws: Clients) -> None:
    key = aws.kms.create_key(Description="data")["KeyMetadata"]["KeyId"]
    item = _item(aws, "AWS::KMS::Key", key)
    assert item["supplementaryConfiguration"]["KeyRotationStatus"] == "false"
    assert json.loads(item["configuration"])["keyManager"] == "CUSTOMER"
    aws.kms.enable_key_rotation(KeyId=key)
    assert _item(aws, "AWS::KMS::Key", key)["supplementaryConfiguration"]["KeyRotationStatus"] == "true"


def test_cloudtrail_item_is_named_by_the_trail(aws: Clients) -> None:
    bucket = aws.bucket()
    aws.cloudtrail.create_trail(Name="main", S3BucketName=bucket, IsMultiRegionTrail=True, EnableLogFileValidation=True)
    listed = aws.config.list_discovered_resources(resourceType="AWS::CloudTrail::Trail", resourceName="main")[
        "resourceIdentifiers"
    ]
    assert [i["resourceId"] for i in listed] == ["main"]
    trail = json.loads(_item(aws, "AWS::CloudTrail::Trail", "main")["configuration"])
    assert trail["logFileValidationEnabled"] is True and trail["isMultiRegionTrail"] is True
    assert trail["s3BucketName"] == bucket


# --------------------------------------------------------------------------- reads


def test_batch_get_limits_keys_omits_unknown_and_can_leave_keys_unprocessed(aws: Clients) -> None:
    buckets = [aws.bucket() for _ in range(3)]
    keys = [{"resourceType": "AWS::S3::Bucket", "resourceId": b} for b in buckets]
    with pytest.raises(ClientError) as exc:
        aws.config.batch_get_resource_config(resourceKeys=keys * 34)
    assert _code(exc) == "ValidationException"
    found = aws.config.batch_get_resource_config(
        resourceKeys=[*keys, {"resourceType": "AWS::S3::Bucket", "resourceId": "nope"}]
    )
    assert sorted(i["resourceId"] for i in found["baseConfigurationItems"]) == sorted(buckets)
    assert found["unprocessedResourceKeys"] == []
    aws.sandbox.admin("POST", "/config/batch-get", {"unprocessed": 2})
    partial = aws.config.batch_get_resource_config(resourceKeys=keys)
    assert [i["resourceId"] for i in partial["baseConfigurationItems"]] == buckets[:1]
    assert partial["unprocessedResourceKeys"] == keys[1:]
    assert len(aws.config.batch_get_resource_config(resourceKeys=keys)["baseConfigurationItems"]) == 3  # once only


def test_history_has_an_item_per_change_and_a_deleted_item(aws: Clients) -> None:
    bucket = aws.bucket()
    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    aws.s3.get_bucket_versioning(Bucket=bucket)  # a read is no change
    history = aws.config.get_resource_config_history(resourceType="AWS::S3::Bucket", resourceId=bucket)[
        "configurationItems"
    ]
    statuses = [json.loads(i["supplementaryConfiguration"]["BucketVersioningConfiguration"])["status"] for i in history]
    assert statuses == ["Suspended", "Enabled", "Off"]  # newest first
    assert [i["configurationItemStatus"] for i in history] == ["OK", "OK", "ResourceDiscovered"]
    assert len({i["configurationStateId"] for i in history}) == 3

    forward = aws.config.get_resource_config_history(
        resourceType="AWS::S3::Bucket", resourceId=bucket, chronologicalOrder="Forward", limit=2
    )
    assert [i["configurationItemStatus"] for i in forward["configurationItems"]] == ["ResourceDiscovered", "OK"]
    rest = aws.config.get_resource_config_history(
        resourceType="AWS::S3::Bucket",
        resourceId=bucket,
        chronologicalOrder="Forward",
        limit=2,
        nextToken=forward["nextToken"],
    )
    assert len(rest["configurationItems"]) == 1 and "nextToken" not in rest

    aws.s3.delete_bucket(Bucket=bucket)
    latest = aws.config.get_resource_config_history(resourceType="AWS::S3::Bucket", resourceId=bucket, limit=1)[
        "configurationItems"
    ][0]
    assert latest["configurationItemStatus"] == "ResourceDeleted"
    assert (
        aws.config.batch_get_resource_config(resourceKeys=[{"resourceType": "AWS::S3::Bucket", "resourceId": bucket}])[
            "baseConfigurationItems"
        ]
        == []
    )
    listed = aws.config.list_discovered_resources(resourceType="AWS::S3::Bucket", includeDeletedResources=True)[
        "resourceIdentifiers"
    ]
    assert any(i["resourceId"] == bucket and "resourceDeletionTime" in i for i in listed)


def test_history_of_an_unknown_resource_is_an_error(aws: Clients) -> None:
    with pytest.raises(ClientError) as exc:
        aws.config.get_resource_config_history(resourceType="AWS::S3::Bucket", resourceId="never-created")
    assert _code(exc) == "ResourceNotDiscoveredException"


def test_list_discovered_resources_pages_and_limits(aws: Clients) -> None:
    created = {aws.bucket() for _ in range(4)} | {"config-delivery-sandbox"}
    first = aws.config.list_discovered_resources(resourceType="AWS::S3::Bucket", limit=3)
    second = aws.config.list_discovered_resources(resourceType="AWS::S3::Bucket", limit=3, nextToken=first["nextToken"])
    assert {i["resourceId"] for i in first["resourceIdentifiers"] + second["resourceIdentifiers"]} == created
    assert "nextToken" not in second
    with pytest.raises(ClientError) as exc:
        aws.config.list_discovered_resources(resourceType="AWS::S3::Bucket", limit=101)
    assert _code(exc) == "InvalidLimitException"
    with pytest.raises(ClientError) as exc:
        aws.config.list_discovered_resources(resourceType="AWS::S3::Bucket", nextToken="garbage")
    assert _code(exc) == "InvalidNextTokenException"


def test_accounts_are_separate(sb: Any) -> None:
    other = sb.client("config", aws_access_key_id="210987654321")
    start_recorder(other, sb.client("s3", aws_access_key_id="210987654321"), bucket="config-delivery-other")
    default = clients_for(sb)
    with pytest.raises(ClientError) as exc:  # the default account has no recorder
        default.config.list_discovered_resources(resourceType="AWS::S3::Bucket")
    assert _code(exc) == "NoAvailableConfigurationRecorderException"
    listed = other.list_discovered_resources(resourceType="AWS::S3::Bucket")["resourceIdentifiers"]
    assert [i["resourceId"] for i in listed] == ["config-delivery-other"]
