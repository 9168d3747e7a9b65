"""AWS-owned runbooks run unmodified against drifted resources and leave them compliant.

Each test creates a resource in the drifted state with boto3, runs the AWS-owned document by name with
StartAutomationExecution (as Config remediation would), and checks the attribute the Config rule evaluates.
Where the project deploys that rule, the test runs in an account of its own with Config on as the Terraform
module deploys it (config_support.Account) and also asks the rule itself: NON_COMPLIANT before the runbook,
COMPLIANT after (periodic rules are run with StartConfigRulesEvaluation, as an operator would).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from config_support import Account, s3_before_2023
from ssm_support import ROLE, Runbooks, step_of, steps_status, unique

pytestmark = pytest.mark.sandbox

REGION = "ap-northeast-1"


@pytest.fixture(scope="module")
def rb(sandbox: Any) -> Runbooks:
    return Runbooks(sandbox)


class RuleCheck:
    """An account with the project's Config rules for one resource type, and a runner signed into it."""

    def __init__(self, sandbox: Any, config_type: str) -> None:
        self.account = Account(sandbox, {config_type})
        self.config_type = config_type
        self.rb = Runbooks(sandbox, aws_access_key_id=self.account.id)
        self.role = self.account.role_arn

    def client(self, service: str) -> Any:
        return self.account.client(service)

    def bucket(self) -> str:
        name = unique("drifted")
        self.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        return name

    def compliance(self, rule: str, resource_id: str) -> str:
        return self.account.compliance(rule, self.config_type, resource_id)


@pytest.fixture
def s3_rules(sandbox: Any) -> RuleCheck:
    return RuleCheck(sandbox, "AWS::S3::Bucket")


@pytest.fixture
def s3_rules_before_2023(sandbox: Any) -> Iterator[RuleCheck]:
    with s3_before_2023(sandbox):
        yield RuleCheck(sandbox, "AWS::S3::Bucket")


@pytest.fixture
def rds_rules(sandbox: Any) -> RuleCheck:
    return RuleCheck(sandbox, "AWS::RDS::DBInstance")


def _bucket(sandbox: Any) -> str:
    name = unique("drifted")
    sandbox.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def _db_instance(target: Any, **kwargs: Any) -> dict[str, Any]:
    instance: dict[str, Any] = target.client("rds").create_db_instance(
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


def test_enable_s3_bucket_encryption_sse_s3(s3_rules_before_2023: RuleCheck) -> None:
    check = s3_rules_before_2023
    bucket = check.bucket()  # drift: a bucket from before 2023, without default encryption
    rule = "s3-bucket-server-side-encryption-enabled"
    assert check.compliance(rule, bucket) == "NON_COMPLIANT"
    execution = _run(check.rb, "AWS-EnableS3BucketEncryption", {"BucketName": bucket})
    s3 = check.client("s3")
    sse = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert step_of(execution, "PutBucketEncryptionWithKmsKey")["StepStatus"] == "Pending"
    assert check.compliance(rule, bucket) == "COMPLIANT"


def test_enable_s3_bucket_encryption_sse_kms(rb: Runbooks, sandbox: Any) -> None:
    bucket = _bucket(sandbox)
    key = sandbox.client("kms").create_key()["KeyMetadata"]["Arn"]
    _run(rb, "AWS-EnableS3BucketEncryption", {"BucketName": bucket, "SSEAlgorithm": "aws:kms", "KMSMasterKey": key})
    rule = sandbox.client("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}


def test_enable_rds_instance_backup(rds_rules: RuleCheck) -> None:
    instance = _db_instance(rds_rules.account, BackupRetentionPeriod=0)  # drift: automated backups off
    assert instance["BackupRetentionPeriod"] == 0
    rule = "db-instance-backup-enabled"
    assert rds_rules.compliance(rule, instance["DbiResourceId"]) == "NON_COMPLIANT"
    execution = _run(
        rds_rules.rb,
        "AWSConfigRemediation-EnableRDSInstanceBackup",
        {
            "AutomationAssumeRole": rds_rules.role,
            "DbiResourceId": instance["DbiResourceId"],
            "BackupRetentionPeriod": 7,
            "PreferredBackupWindow": "03:00-03:30",
            "ApplyImmediately": "true",
        },
    )
    actual = rds_rules.client("rds").describe_db_instances(DBInstanceIdentifier=instance["DBInstanceIdentifier"])
    db = actual["DBInstances"][0]
    assert db["BackupRetentionPeriod"] == 7  # what db-instance-backup-enabled evaluates
    assert db["PreferredBackupWindow"] == "03:00-03:30"
    output = json.loads(execution["Outputs"]["EnableBackupsOnInstance.Output"][0])
    assert output["DBInstanceIdentifier"] == instance["DBInstanceIdentifier"]
    assert rds_rules.compliance(rule, instance["DbiResourceId"]) == "COMPLIANT"  # the project's minimum is 7


def test_enable_rds_instance_backup_refuses_an_out_of_range_retention(rb: Runbooks, sandbox: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        rb.start(
            "AWSConfigRemediation-EnableRDSInstanceBackup",
            {"AutomationAssumeRole": ROLE, "DbiResourceId": "db-" + "A" * 26, "BackupRetentionPeriod": 36},
        )
    assert err.value.response["Error"]["Code"] == "InvalidAutomationExecutionParametersException"


def test_configure_s3_bucket_public_access_block(s3_rules: RuleCheck) -> None:
    bucket = s3_rules.bucket()
    s3 = s3_rules.client("s3")
    s3.put_public_access_block(  # drift: everything open
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    rule = "s3-bucket-level-public-access-prohibited"
    assert s3_rules.compliance(rule, bucket) == "NON_COMPLIANT"
    execution = _run(
        s3_rules.rb,
        "AWSConfigRemediation-ConfigureS3BucketPublicAccessBlock",
        {"AutomationAssumeRole": s3_rules.role, "BucketName": bucket},
    )
    config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert config == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert json.loads(execution["Outputs"]["GetBucketPublicAccessBlock.Output"][0]) == config
    assert s3_rules.compliance(rule, bucket) == "COMPLIANT"


def test_enable_key_rotation(sandbox: Any) -> None:
    check = RuleCheck(sandbox, "AWS::KMS::Key")
    kms = check.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]  # drift: rotation off (a new key's default)
    rule = "cmk-backing-key-rotation-enabled"
    assert check.compliance(rule, key) == "NON_COMPLIANT"
    _run(check.rb, "AWSConfigRemediation-EnableKeyRotation", {"AutomationAssumeRole": check.role, "KeyId": key})
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True
    assert check.compliance(rule, key) == "COMPLIANT"


def test_enable_cloudtrail_log_file_validation(sandbox: Any) -> None:
    check = RuleCheck(sandbox, "AWS::CloudTrail::Trail")
    cloudtrail = check.client("cloudtrail")
    trail = unique("trail")
    cloudtrail.create_trail(Name=trail, S3BucketName=check.bucket(), EnableLogFileValidation=False)
    rule = "cloud-trail-log-file-validation-enabled"
    assert check.compliance(rule, trail) == "NON_COMPLIANT"
    _run(
        check.rb,
        "AWSConfigRemediation-EnableCloudTrailLogFileValidation",
        {"AutomationAssumeRole": check.role, "TrailName": trail},
    )
    assert cloudtrail.get_trail(Name=trail)["Trail"]["LogFileValidationEnabled"] is True
    assert check.compliance(rule, trail) == "COMPLIANT"


def test_enable_ebs_encryption_by_default(sandbox: Any) -> None:
    check = RuleCheck(sandbox, "AWS::::Account")  # an account-wide setting: the account is the test's own
    ec2 = check.client("ec2")
    ec2.disable_ebs_encryption_by_default()
    rule = "ec2-ebs-encryption-by-default"
    assert check.compliance(rule, check.account.id) == "NON_COMPLIANT"
    execution = _run(
        check.rb, "AWSConfigRemediation-EnableEbsEncryptionByDefault", {"AutomationAssumeRole": check.role}
    )
    assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is True
    response = json.loads(execution["Outputs"]["ModifyAccount.EnableEbsEncryptionByDefaultResponse"][0])
    assert response["EbsEncryptionByDefault"] is True
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert check.compliance(rule, check.account.id) == "COMPLIANT"


def test_enforce_ec2_instance_imdsv2(sandbox: Any) -> None:
    check = RuleCheck(sandbox, "AWS::EC2::Instance")
    ec2 = check.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, MetadataOptions={"HttpTokens": "optional"})[
        "Instances"
    ][0]["InstanceId"]
    rule = "ec2-imdsv2-check"
    assert check.compliance(rule, instance) == "NON_COMPLIANT"
    _run(
        check.rb,
        "AWSConfigRemediation-EnforceEC2InstanceIMDSv2",
        {"AutomationAssumeRole": check.role, "InstanceId": instance},
    )
    options = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]["MetadataOptions"]
    assert options["HttpTokens"] == "required"
    assert check.compliance(rule, instance) == "COMPLIANT"


def test_disable_public_access_to_rds_instance(rds_rules: RuleCheck) -> None:
    instance = _db_instance(rds_rules.account, PubliclyAccessible=True)
    rule = "rds-instance-public-access-check"
    assert rds_rules.compliance(rule, instance["DbiResourceId"]) == "NON_COMPLIANT"
    _run(
        rds_rules.rb,
        "AWSConfigRemediation-DisablePublicAccessToRDSInstance",
        {"AutomationAssumeRole": rds_rules.role, "DbiResourceId": instance["DbiResourceId"]},
    )
    db = rds_rules.client("rds").describe_db_instances(DBInstanceIdentifier=instance["DBInstanceIdentifier"])
    assert db["DBInstances"][0]["PubliclyAccessible"] is False
    assert rds_rules.compliance(rule, instance["DbiResourceId"]) == "COMPLIANT"


def test_configure_s3_bucket_versioning(s3_rules: RuleCheck) -> None:
    bucket = s3_rules.bucket()  # drift: never versioned
    rule = "s3-bucket-versioning-enabled"
    assert s3_rules.compliance(rule, bucket) == "NON_COMPLIANT"
    _run(s3_rules.rb, "AWS-ConfigureS3BucketVersioning", {"BucketName": bucket})
    assert s3_rules.client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3_rules.compliance(rule, bucket) == "COMPLIANT"
    _run(s3_rules.rb, "AWS-ConfigureS3BucketVersioning", {"BucketName": bucket, "VersioningState": "Suspended"})
    assert s3_rules.client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    assert s3_rules.compliance(rule, bucket) == "NON_COMPLIANT"


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
