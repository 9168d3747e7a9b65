"""AWS-owned runbooks run unmodified against drifted resources and leave them compliant.

Each test creates a resource in the drifted state with boto3, runs the AWS-owned document by name with
StartAutomationExecution (as Config remediation would), and checks the attribute the Config rule evaluates.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from ssm_support import ROLE, Runbooks, step_of, steps_status, unique

pytestmark = pytest.mark.sandbox

REGION = "ap-northeast-1"


@pytest.fixture(scope="module")
def rb(sandbox: Any) -> Runbooks:
    return Runbooks(sandbox)


def _bucket(sandbox: Any) -> str:
    name = unique("drifted")
    sandbox.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def _db_instance(sandbox: Any, **kwargs: Any) -> dict[str, Any]:
    instance: dict[str, Any] = sandbox.client("rds").create_db_instance(
        DBInstanceIdentifier=unique("db"),
        DBInstanceClass="db.t3.micro",
        Engine="mysql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=20,
        **kwargs,
    )["DBInstance"]
    return instance


def _run(rb: Runbooks, document: str, params: dict[str, Any]) -> dict[str, Any]:
    execution = rb.wait(rb.start(document, params))
    assert execution["AutomationExecutionStatus"] == "Success", (
        execution.get("FailureMessage"),
        steps_status(execution),
    )
    return execution


def test_enable_s3_bucket_encryption_sse_s3(rb: Runbooks, sandbox: Any) -> None:
    bucket = _bucket(sandbox)
    s3 = sandbox.client("s3")
    s3.delete_bucket_encryption(Bucket=bucket)  # drift: no default encryption configuration
    execution = _run(rb, "AWS-EnableS3BucketEncryption", {"BucketName": bucket})
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert step_of(execution, "PutBucketEncryptionWithKmsKey")["StepStatus"] == "Pending"


def test_enable_s3_bucket_encryption_sse_kms(rb: Runbooks, sandbox: Any) -> None:
    bucket = _bucket(sandbox)
    key = sandbox.client("kms").create_key()["KeyMetadata"]["Arn"]
    _run(rb, "AWS-EnableS3BucketEncryption", {"BucketName": bucket, "SSEAlgorithm": "aws:kms", "KMSMasterKey": key})
    rule = sandbox.client("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}


def test_enable_rds_instance_backup(rb: Runbooks, sandbox: Any) -> None:
    instance = _db_instance(sandbox, BackupRetentionPeriod=0)  # drift: automated backups off
    assert instance["BackupRetentionPeriod"] == 0
    execution = _run(
        rb,
        "AWSConfigRemediation-EnableRDSInstanceBackup",
        {
            "AutomationAssumeRole": ROLE,
            "DbiResourceId": instance["DbiResourceId"],
            "BackupRetentionPeriod": 7,
            "PreferredBackupWindow": "03:00-03:30",
            "ApplyImmediately": "true",
        },
    )
    actual = sandbox.client("rds").describe_db_instances(DBInstanceIdentifier=instance["DBInstanceIdentifier"])
    db = actual["DBInstances"][0]
    assert db["BackupRetentionPeriod"] == 7  # what db-instance-backup-enabled evaluates
    assert db["PreferredBackupWindow"] == "03:00-03:30"
    output = json.loads(execution["Outputs"]["EnableBackupsOnInstance.Output"][0])
    assert output["DBInstanceIdentifier"] == instance["DBInstanceIdentifier"]


def test_enable_rds_instance_backup_refuses_an_out_of_range_retention(rb: Runbooks, sandbox: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        rb.start(
            "AWSConfigRemediation-EnableRDSInstanceBackup",
            {"AutomationAssumeRole": ROLE, "DbiResourceId": "db-" + "A" * 26, "BackupRetentionPeriod": 36},
        )
    assert err.value.response["Error"]["Code"] == "InvalidAutomationExecutionParametersException"


def test_configure_s3_bucket_public_access_block(rb: Runbooks, sandbox: Any) -> None:
    bucket = _bucket(sandbox)
    s3 = sandbox.client("s3")
    s3.put_public_access_block(  # drift: everything open
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    execution = _run(
        rb,
        "AWSConfigRemediation-ConfigureS3BucketPublicAccessBlock",
        {"AutomationAssumeRole": ROLE, "BucketName": bucket},
    )
    config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert config == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert json.loads(execution["Outputs"]["GetBucketPublicAccessBlock.Output"][0]) == config


def test_enable_key_rotation(rb: Runbooks, sandbox: Any) -> None:
    kms = sandbox.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    _run(rb, "AWSConfigRemediation-EnableKeyRotation", {"AutomationAssumeRole": ROLE, "KeyId": key})
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True


def test_enable_cloudtrail_log_file_validation(rb: Runbooks, sandbox: Any) -> None:
    bucket = _bucket(sandbox)
    cloudtrail = sandbox.client("cloudtrail")
    trail = unique("trail")
    cloudtrail.create_trail(Name=trail, S3BucketName=bucket, EnableLogFileValidation=False)
    _run(
        rb, "AWSConfigRemediation-EnableCloudTrailLogFileValidation", {"AutomationAssumeRole": ROLE, "TrailName": trail}
    )
    assert cloudtrail.get_trail(Name=trail)["Trail"]["LogFileValidationEnabled"] is True


def test_enable_ebs_encryption_by_default(rb: Runbooks, sandbox: Any) -> None:
    region = "eu-central-1"  # an account-wide setting: a region of its own keeps other tests unaffected
    regional = Runbooks(sandbox, region_name=region)
    ec2 = sandbox.client("ec2", region_name=region)
    ec2.disable_ebs_encryption_by_default()
    execution = _run(regional, "AWSConfigRemediation-EnableEbsEncryptionByDefault", {"AutomationAssumeRole": ROLE})
    assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is True
    response = json.loads(execution["Outputs"]["ModifyAccount.EnableEbsEncryptionByDefaultResponse"][0])
    assert response["EbsEncryptionByDefault"] is True
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_enforce_ec2_instance_imdsv2(rb: Runbooks, sandbox: Any) -> None:
    ec2 = sandbox.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, MetadataOptions={"HttpTokens": "optional"})[
        "Instances"
    ][0]["InstanceId"]
    _run(rb, "AWSConfigRemediation-EnforceEC2InstanceIMDSv2", {"AutomationAssumeRole": ROLE, "InstanceId": instance})
    options = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["MetadataOptions"]
    assert options["HttpTokens"] == "required"


def test_disable_public_access_to_rds_instance(rb: Runbooks, sandbox: Any) -> None:
    instance = _db_instance(sandbox, PubliclyAccessible=True)
    _run(
        rb,
        "AWSConfigRemediation-DisablePublicAccessToRDSInstance",
        {"AutomationAssumeRole": ROLE, "DbiResourceId": instance["DbiResourceId"]},
    )
    db = sandbox.client("rds").describe_db_instances(DBInstanceIdentifier=instance["DBInstanceIdentifier"])
    assert db["DBInstances"][0]["PubliclyAccessible"] is False


def test_configure_s3_bucket_versioning(rb: Runbooks, sandbox: Any) -> None:
    bucket = _bucket(sandbox)
    _run(rb, "AWS-ConfigureS3BucketVersioning", {"BucketName": bucket})
    assert sandbox.client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    _run(rb, "AWS-ConfigureS3BucketVersioning", {"BucketName": bucket, "VersioningState": "Suspended"})
    assert sandbox.client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"


def test_a_remediation_against_a_missing_resource_fails_cleanly(rb: Runbooks) -> None:
    execution = rb.wait(
        rb.start(
            "AWSConfigRemediation-EnableRDSInstanceBackup",
            {"AutomationAssumeRole": ROLE, "DbiResourceId": "db-" + "Z" * 26, "BackupRetentionPeriod": 7},
        )
    )
    assert execution["AutomationExecutionStatus"] == "Failed"
    # DescribeDBInstances finds nothing: no identifier, so the next step cannot resolve its input.
    assert steps_status(execution)["EnableBackupsOnInstance"] == "Pending"
