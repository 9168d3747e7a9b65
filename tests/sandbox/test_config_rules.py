"""The AWS managed rules the project deploys, and the compliance APIs, against the running sandbox.

Each rule is shown COMPLIANT and NON_COMPLIANT as its AWS documentation describes. Configuration-change
rules follow a change by themselves; periodic rules only when run (StartConfigRulesEvaluation).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from config_support import ACCOUNT, Clients, db, lambda_function, network

pytestmark = pytest.mark.sandbox

ALL_RESULTS = ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"]


def rule(aws: Clients, name: str, identifier: str, **parameters: str) -> str:
    spec: dict[str, Any] = {"ConfigRuleName": name, "Source": {"Owner": "AWS", "SourceIdentifier": identifier}}
    if parameters:
        spec["InputParameters"] = json.dumps(parameters)
    aws.config.put_config_rule(ConfigRule=spec)
    return name


def compliance(aws: Clients, rule_name: str, resource_type: str, resource_id: str) -> str:
    results = aws.config.get_compliance_details_by_config_rule(
        ConfigRuleName=rule_name, ComplianceTypes=ALL_RESULTS, Limit=100
    )["EvaluationResults"]
    for result in results:
        q = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
        if (q["ResourceType"], q["ResourceId"]) == (resource_type, resource_id):
            return str(result["ComplianceType"])
    return "NO_RESULT"


def run(aws: Clients, *names: str) -> None:
    aws.config.start_config_rules_evaluation(ConfigRuleNames=list(names))


# --------------------------------------------------------------------------- S3


def test_s3_server_side_encryption_enabled(aws: Clients) -> None:
    name = rule(aws, "s3-sse", "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED")
    encrypted = aws.bucket()  # every bucket made since 2023 has SSE-S3
    assert compliance(aws, name, "AWS::S3::Bucket", encrypted) == "COMPLIANT"
    aws.sandbox.admin("POST", "/s3/default-encryption", {"enabled": False})  # a bucket from before 2023
    legacy, guarded = aws.bucket(), aws.bucket()
    aws.sandbox.admin("POST", "/s3/default-encryption", {"enabled": True})
    assert compliance(aws, name, "AWS::S3::Bucket", legacy) == "NON_COMPLIANT"
    deny_plain_puts = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{guarded}/*",
                "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}},
            }
        ],
    }
    aws.s3.put_bucket_policy(Bucket=guarded, Policy=json.dumps(deny_plain_puts))
    assert compliance(aws, name, "AWS::S3::Bucket", guarded) == "COMPLIANT"  # the documented alternative


def test_s3_versioning_enabled(aws: Clients) -> None:
    name = rule(aws, "s3-versioning", "S3_BUCKET_VERSIONING_ENABLED")
    bucket = aws.bucket()
    assert compliance(aws, name, "AWS::S3::Bucket", bucket) == "NON_COMPLIANT"  # never versioned: Off
    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert compliance(aws, name, "AWS::S3::Bucket", bucket) == "COMPLIANT"
    aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert compliance(aws, name, "AWS::S3::Bucket", bucket) == "NON_COMPLIANT"


def test_s3_bucket_level_public_access_prohibited(aws: Clients) -> None:
    exempt = aws.bucket("public-website-bucket")
    name = rule(aws, "s3-pab", "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED", excludedPublicBuckets=exempt)
    bucket = aws.bucket()
    assert compliance(aws, name, "AWS::S3::Bucket", bucket) == "NON_COMPLIANT"  # no block at all
    flags = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    aws.s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=flags)
    assert compliance(aws, name, "AWS::S3::Bucket", bucket) == "COMPLIANT"
    aws.s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={**flags, "BlockPublicPolicy": False})
    assert compliance(aws, name, "AWS::S3::Bucket", bucket) == "NON_COMPLIANT"
    assert compliance(aws, name, "AWS::S3::Bucket", exempt) == "COMPLIANT"


# --------------------------------------------------------------------------- RDS


def test_db_instance_backup_enabled(aws: Clients) -> None:
    name = rule(aws, "db-backup", "DB_INSTANCE_BACKUP_ENABLED", backupRetentionMinimum="7")
    instance = db(aws, "backed-up", BackupRetentionPeriod=7)
    assert compliance(aws, name, "AWS::RDS::DBInstance", instance["DbiResourceId"]) == "COMPLIANT"
    aws.rds.modify_db_instance(DBInstanceIdentifier="backed-up", BackupRetentionPeriod=1, ApplyImmediately=True)
    assert compliance(aws, name, "AWS::RDS::DBInstance", instance["DbiResourceId"]) == "NON_COMPLIANT"
    plain = rule(aws, "db-backup-any", "DB_INSTANCE_BACKUP_ENABLED")
    assert compliance(aws, plain, "AWS::RDS::DBInstance", instance["DbiResourceId"]) == "COMPLIANT"  # 1 day is on
    aws.rds.modify_db_instance(DBInstanceIdentifier="backed-up", BackupRetentionPeriod=0, ApplyImmediately=True)
    assert compliance(aws, plain, "AWS::RDS::DBInstance", instance["DbiResourceId"]) == "NON_COMPLIANT"


def test_rds_instance_public_access_check(aws: Clients) -> None:
    name = rule(aws, "rds-public", "RDS_INSTANCE_PUBLIC_ACCESS_CHECK")
    instance = db(aws, "private-db", PubliclyAccessible=False)
    assert compliance(aws, name, "AWS::RDS::DBInstance", instance["DbiResourceId"]) == "COMPLIANT"
    aws.rds.modify_db_instance(DBInstanceIdentifier="private-db", PubliclyAccessible=True, ApplyImmediately=True)
    assert compliance(aws, name, "AWS::RDS::DBInstance", instance["DbiResourceId"]) == "NON_COMPLIANT"


# --------------------------------------------------------------------------- periodic rules


def test_cmk_backing_key_rotation_enabled_is_periodic(aws: Clients) -> None:
    key = aws.kms.create_key(Description="data")["KeyMetadata"]["KeyId"]
    aws.kms.enable_key_rotation(KeyId=key)
    name = rule(aws, "cmk-rotation", "CMK_BACKING_KEY_ROTATION_ENABLED")
    assert compliance(aws, name, "AWS::KMS::Key", key) == "COMPLIANT"
    aws.kms.disable_key_rotation(KeyId=key)
    assert compliance(aws, name, "AWS::KMS::Key", key) == "COMPLIANT"  # not re-run yet
    run(aws, name)
    assert compliance(aws, name, "AWS::KMS::Key", key) == "NON_COMPLIANT"
    asymmetric = aws.kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    run(aws, name)
    assert compliance(aws, name, "AWS::KMS::Key", asymmetric) == "NOT_APPLICABLE"  # rotation does not exist


def test_cloudtrail_log_file_validation_enabled(aws: Clients) -> None:
    bucket = aws.bucket()
    aws.cloudtrail.create_trail(Name="validated", S3BucketName=bucket, EnableLogFileValidation=True)
    aws.cloudtrail.create_trail(Name="unvalidated", S3BucketName=bucket, EnableLogFileValidation=False)
    name = rule(aws, "trail-validation", "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED")
    assert compliance(aws, name, "AWS::CloudTrail::Trail", "validated") == "COMPLIANT"
    assert compliance(aws, name, "AWS::CloudTrail::Trail", "unvalidated") == "NON_COMPLIANT"
    aws.cloudtrail.update_trail(Name="unvalidated", EnableLogFileValidation=True)
    run(aws, name)
    assert compliance(aws, name, "AWS::CloudTrail::Trail", "unvalidated") == "COMPLIANT"


def test_ec2_ebs_encryption_by_default_reports_the_account(aws: Clients) -> None:
    name = rule(aws, "ebs-default", "EC2_EBS_ENCRYPTION_BY_DEFAULT")
    assert compliance(aws, name, "AWS::::Account", ACCOUNT) == "NON_COMPLIANT"  # off unless turned on
    aws.ec2.enable_ebs_encryption_by_default()
    run(aws, name)
    assert compliance(aws, name, "AWS::::Account", ACCOUNT) == "COMPLIANT"


def test_vpc_flow_logs_enabled(aws: Clients) -> None:
    logged, _subnet = network(aws)
    bare = aws.ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    destination = f"arn:aws:s3:::{aws.bucket()}"
    aws.ec2.create_flow_logs(
        ResourceIds=[logged], ResourceType="VPC", TrafficType="ALL", LogDestinationType="s3", LogDestination=destination
    )
    name = rule(aws, "flow-logs", "VPC_FLOW_LOGS_ENABLED", trafficType="ALL")
    assert compliance(aws, name, "AWS::EC2::VPC", logged) == "COMPLIANT"
    assert compliance(aws, name, "AWS::EC2::VPC", bare) == "NON_COMPLIANT"
    aws.ec2.create_flow_logs(
        ResourceIds=[bare],
        ResourceType="VPC",
        TrafficType="ACCEPT",
        LogDestinationType="s3",
        LogDestination=destination,
    )
    run(aws, name)
    assert compliance(aws, name, "AWS::EC2::VPC", bare) == "NON_COMPLIANT"  # ACCEPT only is not ALL
    rejects = rule(aws, "flow-logs-reject", "VPC_FLOW_LOGS_ENABLED", trafficType="REJECT")
    assert compliance(aws, rejects, "AWS::EC2::VPC", logged) == "COMPLIANT"  # ALL logs rejected traffic too


def test_ec2_imdsv2_check(aws: Clients) -> None:
    _vpc, subnet = network(aws)
    image = aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = aws.ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, SubnetId=subnet, MetadataOptions={"HttpTokens": "required"}
    )["Instances"][0]["InstanceId"]
    name = rule(aws, "imdsv2", "EC2_IMDSV2_CHECK")
    assert compliance(aws, name, "AWS::EC2::Instance", instance) == "COMPLIANT"
    aws.ec2.modify_instance_metadata_options(InstanceId=instance, HttpTokens="optional")
    assert compliance(aws, name, "AWS::EC2::Instance", instance) == "NON_COMPLIANT"
    aws.ec2.terminate_instances(InstanceIds=[instance])
    assert compliance(aws, name, "AWS::EC2::Instance", instance) == "NO_RESULT"  # gone with the resource


# --------------------------------------------------------------------------- compliance APIs


def test_compliance_summaries_by_rule_and_by_resource(aws: Clients) -> None:
    good, bad = aws.bucket("summary-good"), aws.bucket("summary-bad")
    aws.s3.put_bucket_versioning(Bucket=good, VersioningConfiguration={"Status": "Enabled"})
    versioning = rule(aws, "versioning", "S3_BUCKET_VERSIONING_ENABLED")
    sse = rule(aws, "sse", "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED")
    by_rule = {
        r["ConfigRuleName"]: r["Compliance"]
        for r in aws.config.describe_compliance_by_config_rule()["ComplianceByConfigRules"]
    }
    # the delivery bucket is not versioned either: two non-compliant buckets
    assert by_rule[versioning] == {
        "ComplianceType": "NON_COMPLIANT",
        "ComplianceContributorCount": {"CappedCount": 2, "CapExceeded": False},
    }
    assert by_rule[sse] == {"ComplianceType": "COMPLIANT"}
    only_bad = aws.config.describe_compliance_by_config_rule(ComplianceTypes=["NON_COMPLIANT"])[
        "ComplianceByConfigRules"
    ]
    assert [r["ConfigRuleName"] for r in only_bad] == [versioning]

    resource = aws.config.describe_compliance_by_resource(ResourceType="AWS::S3::Bucket", ResourceId=bad)
    assert resource["ComplianceByResources"][0]["Compliance"]["ComplianceType"] == "NON_COMPLIANT"
    unknown = aws.config.describe_compliance_by_resource(ResourceType="AWS::S3::Bucket", ResourceId="not-evaluated")
    assert unknown["ComplianceByResources"][0]["Compliance"]["ComplianceType"] == "INSUFFICIENT_DATA"
    details = aws.config.get_compliance_details_by_resource(ResourceType="AWS::S3::Bucket", ResourceId=good)
    assert {
        r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ConfigRuleName"]
        for r in details["EvaluationResults"]
    } == {versioning, sse}


def test_compliance_details_filter_and_pages(aws: Clients) -> None:
    for i in range(4):
        aws.bucket(f"details-{i}")
    name = rule(aws, "versioning", "S3_BUCKET_VERSIONING_ENABLED")
    first = aws.config.get_compliance_details_by_config_rule(ConfigRuleName=name, Limit=3)
    rest = aws.config.get_compliance_details_by_config_rule(ConfigRuleName=name, Limit=3, NextToken=first["NextToken"])
    assert len(first["EvaluationResults"]) == 3 and len(rest["EvaluationResults"]) == 2
    assert "NextToken" not in rest
    assert (
        aws.config.get_compliance_details_by_config_rule(ConfigRuleName=name, ComplianceTypes=["COMPLIANT"])[
            "EvaluationResults"
        ]
        == []
    )
    result = first["EvaluationResults"][0]
    assert result["ResultRecordedTime"] and result["ConfigRuleInvokedTime"]
    assert result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["EvaluationMode"] == "DETECTIVE"


@pytest.mark.parametrize(
    ("operation", "kwargs", "code"),
    [
        ("describe_compliance_by_config_rule", {"ConfigRuleNames": ["missing"]}, "NoSuchConfigRuleException"),
        ("get_compliance_details_by_config_rule", {"ConfigRuleName": "missing"}, "NoSuchConfigRuleException"),
        ("start_config_rules_evaluation", {"ConfigRuleNames": ["missing"]}, "NoSuchConfigRuleException"),
        (
            "describe_compliance_by_config_rule",
            {"ComplianceTypes": ["NOT_APPLICABLE"]},
            "InvalidParameterValueException",
        ),
        ("describe_compliance_by_resource", {"ResourceId": "x"}, "InvalidParameterValueException"),
    ],
)
def test_compliance_api_errors(aws: Clients, operation: str, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(ClientError) as exc:
        getattr(aws.config, operation)(**kwargs)
    assert exc.value.response["Error"]["Code"] == code


def test_details_refuse_insufficient_data_as_a_filter(aws: Clients) -> None:
    name = rule(aws, "versioning", "S3_BUCKET_VERSIONING_ENABLED")
    with pytest.raises(ClientError) as exc:
        aws.config.get_compliance_details_by_config_rule(ConfigRuleName=name, ComplianceTypes=["INSUFFICIENT_DATA"])
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_rules_need_a_recorder(sb: Any) -> None:
    config = sb.client("config")
    with pytest.raises(ClientError) as exc:
        config.put_config_rule(
            ConfigRule={"ConfigRuleName": "r", "Source": {"Owner": "AWS", "SourceIdentifier": "EC2_IMDSV2_CHECK"}}
        )
    assert exc.value.response["Error"]["Code"] == "NoAvailableConfigurationRecorderException"


def test_evaluation_status_and_rule_deletion(aws: Clients) -> None:
    name = rule(aws, "versioning", "S3_BUCKET_VERSIONING_ENABLED")
    status = aws.config.describe_config_rule_evaluation_status(ConfigRuleNames=[name])["ConfigRulesEvaluationStatus"][0]
    assert status["FirstEvaluationStarted"] is True and "LastSuccessfulEvaluationTime" in status
    aws.config.delete_config_rule(ConfigRuleName=name)
    assert aws.config.describe_config_rules()["ConfigRules"] == []
    with pytest.raises(ClientError) as exc:
        aws.config.get_compliance_details_by_config_rule(ConfigRuleName=name)
    assert exc.value.response["Error"]["Code"] == "NoSuchConfigRuleException"


def test_start_evaluation_once_a_minute_when_quotas_are_on(aws: Clients) -> None:
    name = rule(aws, "versioning", "S3_BUCKET_VERSIONING_ENABLED")
    run(aws, name)
    run(aws, name)  # quotas off (default): as often as wanted
    aws.sandbox.admin("POST", "/throttling", {"enabled": True})
    run(aws, name)
    with pytest.raises(ClientError) as exc:
        run(aws, name)
    assert exc.value.response["Error"]["Code"] == "LimitExceededException"


# --------------------------------------------------------------------------- custom rules


def test_custom_rule_invocation_answered_with_put_evaluations(aws: Clients) -> None:
    bucket = aws.bucket("custom-target")
    function = lambda_function(aws, "check")
    aws.config.put_config_rule(
        ConfigRule={
            "ConfigRuleName": "custom",
            "Source": {
                "Owner": "CUSTOM_LAMBDA",
                "SourceIdentifier": function,
                "SourceDetails": [{"EventSource": "aws.config", "MessageType": "ConfigurationItemChangeNotification"}],
            },
            "Scope": {"ComplianceResourceTypes": ["AWS::S3::Bucket"]},
        }
    )
    events = aws.sandbox.admin("GET", "/config/invocations?rule=custom")["invocations"]
    event = next(e for e in events if json.loads(e["invokingEvent"])["configurationItem"]["resourceId"] == bucket)
    item = json.loads(event["invokingEvent"])["configurationItem"]
    assert item["ARN"] == f"arn:aws:s3:::{bucket}" and isinstance(item["configuration"], dict)  # event shape
    evaluation = {
        "ComplianceResourceType": "AWS::S3::Bucket",
        "ComplianceResourceId": bucket,
        "ComplianceType": "NON_COMPLIANT",
        "Annotation": "custom check failed",
        "OrderingTimestamp": item["configurationItemCaptureTime"],
    }
    test_only = aws.config.put_evaluations(Evaluations=[evaluation], ResultToken=event["resultToken"], TestMode=True)
    assert test_only["FailedEvaluations"] == []
    assert compliance(aws, "custom", "AWS::S3::Bucket", bucket) == "NO_RESULT"  # test mode stores nothing
    aws.config.put_evaluations(Evaluations=[evaluation], ResultToken=event["resultToken"])
    assert compliance(aws, "custom", "AWS::S3::Bucket", bucket) == "NON_COMPLIANT"
    with pytest.raises(ClientError) as exc:
        aws.config.put_evaluations(Evaluations=[evaluation], ResultToken="forged")
    assert exc.value.response["Error"]["Code"] == "InvalidResultTokenException"
    with pytest.raises(ClientError) as exc:
        aws.config.put_evaluations(
            Evaluations=[{**evaluation, "ComplianceType": "INSUFFICIENT_DATA"}], ResultToken=event["resultToken"]
        )
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValueException"
