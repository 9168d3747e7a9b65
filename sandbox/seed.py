"""python -m sandbox seed --env dev [--drift N]: an environment's designed estate, built in the sandbox.

Reads the environment's Terraform JSON (include/environments/<env>.yaml → terraform.plan_json), creates
every resource the attribute mappings know about through boto3 against a running sandbox, with the
designed values, then turns on AWS Config as the project's Terraform module would: a configuration
recorder and delivery channel, the managed rules of the mappings and their remediation configurations
(plus the SSM documents found under include/runbooks/).

AWS assigns ids (instance, security group, KMS key, DB ``dbiResourceId``, flow log, VPC, subnet); the
plan's ids are the ones of a real account. The seed writes a copy of the plan with every such id
replaced by the sandbox's (``var/sandbox/<env>/plan.json``, path printed), so that detection against
the sandbox (the core's compare over Config items) finds everything as designed: zero NG.

``--drift N`` then changes N mapped attributes that a Config rule watches and a runbook repairs, chosen
deterministically (one per resource type in turn) or named with ``--drift-attributes``, and prints what
it changed; detection then finds exactly N NG. Periodic rules are re-evaluated at the end
(StartConfigRulesEvaluation), as an operator would after a change.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import secrets
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from drift_repair.aws.config import ConfigItemFetcher
from drift_repair.core import compare as cmp
from drift_repair.core import terraform
from drift_repair.core.environment import REPO_ROOT, EnvironmentConfig, load_environment
from drift_repair.core.mappings import MappingSet, load_mappings
from drift_repair.core.models import UNKNOWN_VALUE
from drift_repair.core.terraform import TerraformResource
from drift_repair.hcl import variable_default
from drift_repair.runstore import var_dir

log = logging.getLogger("sandbox.seed")

DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
VPC_CIDR = "10.20.0.0/16"
RECORDER = "default"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="environment name (include/environments/<env>.yaml)")
    parser.add_argument("--drift", type=int, default=0, help="number of mapped attributes to drift (default 0)")
    parser.add_argument(
        "--drift-attributes",
        default="",
        help="comma list of attributes to drift: NAME (first resource that has it) or ADDRESS@NAME",
    )
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("SANDBOX_ENDPOINT_URL")
        or os.environ.get("DRIFT_REPAIR_ENDPOINT_URL")
        or DEFAULT_ENDPOINT,
        help=f"sandbox URL (default {DEFAULT_ENDPOINT}, or SANDBOX_ENDPOINT_URL)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="where to write the plan copy (default $DRIFT_REPAIR_VAR_DIR/sandbox/<env>/plan.json)",
    )
    parser.add_argument("--verify", action="store_true", help="run detection afterwards and print the NG count")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of text")


# --------------------------------------------------------------------------- ids


def replace_ids(value: Any, ids: dict[str, str]) -> Any:
    """The plan with every id AWS assigned in the sandbox in place of the plan's own (ARNs included)."""
    if isinstance(value, dict):
        return {k: replace_ids(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_ids(v, ids) for v in value]
    if isinstance(value, str):
        if value in ids:
            return ids[value]
        for old, new in ids.items():
            if old in value:
                value = value.replace(old, new)
        return value
    return value


def _known(value: Any) -> bool:
    return value is not None and value is not UNKNOWN_VALUE and not isinstance(value, type(UNKNOWN_VALUE))


def _first(values: Any) -> dict[str, Any]:
    return values[0] if isinstance(values, list) and values and isinstance(values[0], dict) else {}


# --------------------------------------------------------------------------- the estate


@dataclass
class Drift:
    address: str
    attribute: str
    resource_type: str
    designed: Any
    drifted: Any
    apply: Callable[[], None]

    def describe(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "attribute": self.attribute,
            "config_resource_type": self.resource_type,
            "designed": self.designed,
            "drifted": self.drifted,
        }


class Seeder:
    """Creates an environment's resources in the sandbox and remembers the ids AWS assigned."""

    def __init__(self, env: EnvironmentConfig, endpoint: str) -> None:
        self.env = env
        self.endpoint = endpoint
        self.account = env.account_id
        self.region = env.region
        self.ids: dict[str, str] = {}
        self.created: list[str] = []
        self._clients: dict[str, Any] = {}
        self.vpc_id: str | None = None
        self.subnets: list[str] = []

    def client(self, service: str) -> Any:
        if service not in self._clients:
            # A 12-digit access key names its own account in the sandbox (moto's rule): the environment's.
            self._clients[service] = boto3.client(
                service,
                endpoint_url=self.endpoint,
                region_name=self.region,
                aws_access_key_id=self.account,
                aws_secret_access_key="sandbox",
                config=BotoConfig(retries={"mode": "adaptive", "max_attempts": 8}),
            )
        return self._clients[service]

    # ------------------------------------------------------------------ network

    def network(self, plan_vpc_ids: Iterable[str], plan_subnet_ids: Iterable[str]) -> None:
        """One VPC with two subnets stands in for the network the plan refers to (not managed by it)."""
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock=VPC_CIDR)["Vpc"]["VpcId"]
        self.vpc_id = vpc
        zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
        for i, zone in enumerate(zones):
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=zone)
            self.subnets.append(subnet["Subnet"]["SubnetId"])
        for old in plan_vpc_ids:
            self.ids[old] = vpc
        for old in plan_subnet_ids:
            self.ids[old] = self.subnets[0]

    def resolve(self, value: Any) -> Any:
        return replace_ids(value, self.ids)

    # ------------------------------------------------------------------ creators per Terraform type

    def kms_key(self, r: TerraformResource) -> None:
        v = r.values
        kms = self.client("kms")
        meta = kms.create_key(
            Description=v.get("description") or "",
            KeyUsage=v.get("key_usage") or "ENCRYPT_DECRYPT",
            KeySpec=v.get("customer_master_key_spec") or "SYMMETRIC_DEFAULT",
            MultiRegion=bool(v.get("multi_region", False)),
        )["KeyMetadata"]
        if v.get("enable_key_rotation"):
            kms.enable_key_rotation(KeyId=meta["KeyId"])
        if v.get("is_enabled") is False:
            kms.disable_key(KeyId=meta["KeyId"])
        for key in ("key_id", "id"):
            if isinstance(v.get(key), str):
                self.ids[v[key]] = meta["KeyId"]

    def s3_bucket(self, r: TerraformResource) -> None:
        v = r.values
        s3 = self.client("s3")
        name = v["bucket"]
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})
        tags = v.get("tags") or {}
        if tags:
            s3.put_bucket_tagging(
                Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": str(t)} for k, t in tags.items()]}
            )
        configured = r.configured or frozenset()
        if "versioning" in configured and _first(v.get("versioning")).get("enabled"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if "server_side_encryption_configuration" in configured:
            rule = _first(_first(v.get("server_side_encryption_configuration")).get("rule"))
            self._put_sse(name, _first(rule.get("apply_server_side_encryption_by_default")), rule)
        if "logging" in configured and _first(v.get("logging")).get("target_bucket"):
            lg = _first(v.get("logging"))
            self._put_logging(name, lg["target_bucket"], lg.get("target_prefix", ""))

    def _put_sse(self, bucket: str, default: dict[str, Any], rule: dict[str, Any]) -> None:
        algorithm = default.get("sse_algorithm") or "AES256"
        by_default: dict[str, Any] = {"SSEAlgorithm": algorithm}
        key = self.resolve(default.get("kms_master_key_id") or "")
        if key:
            by_default["KMSMasterKeyID"] = key
        self.client("s3").put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": by_default,
                        "BucketKeyEnabled": bool(rule.get("bucket_key_enabled")),
                    }
                ]
            },
        )

    def s3_sse(self, r: TerraformResource) -> None:
        rule = _first(r.values.get("rule"))
        self._put_sse(r.values["bucket"], _first(rule.get("apply_server_side_encryption_by_default")), rule)

    def s3_versioning(self, r: TerraformResource) -> None:
        status = _first(r.values.get("versioning_configuration")).get("status", "Enabled")
        if status == "Disabled":
            return  # a bucket that was never versioned
        self.client("s3").put_bucket_versioning(Bucket=r.values["bucket"], VersioningConfiguration={"Status": status})

    def s3_pab(self, r: TerraformResource) -> None:
        v = r.values
        self.client("s3").put_public_access_block(
            Bucket=v["bucket"],
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": bool(v.get("block_public_acls")),
                "IgnorePublicAcls": bool(v.get("ignore_public_acls")),
                "BlockPublicPolicy": bool(v.get("block_public_policy")),
                "RestrictPublicBuckets": bool(v.get("restrict_public_buckets")),
            },
        )

    def _put_logging(self, bucket: str, target: str, prefix: str) -> None:
        s3 = self.client("s3")
        # The target bucket must let the logging service write (what the module's bucket policy does).
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "S3ServerAccessLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": ["s3:PutObject"],
                    "Resource": f"arn:aws:s3:::{target}/*",
                }
            ],
        }
        s3.put_bucket_policy(Bucket=target, Policy=json.dumps(policy))
        s3.put_bucket_logging(
            Bucket=bucket,
            BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": prefix or ""}},
        )

    def s3_logging(self, r: TerraformResource) -> None:
        v = r.values
        self._put_logging(v["bucket"], v["target_bucket"], v.get("target_prefix") or "")

    def security_group(self, r: TerraformResource) -> None:
        v = r.values
        ec2 = self.client("ec2")
        group = ec2.create_security_group(
            GroupName=v["name"],
            Description=v.get("description") or v["name"],
            VpcId=self.resolve(v.get("vpc_id")) or self.vpc_id,
        )["GroupId"]
        self.ids[v["id"]] = group
        ec2.create_tags(
            Resources=[group],
            Tags=[{"Key": k, "Value": str(t)} for k, t in (v.get("tags") or {}).items()]
            or [{"Key": "Name", "Value": v["name"]}],
        )

    def security_group_rules(self, r: TerraformResource) -> None:
        """Rules after every group exists (a rule may name another group)."""
        v = r.values
        ec2 = self.client("ec2")
        group = self.ids[v["id"]]
        default_egress = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissionsEgress"]
        if default_egress:
            ec2.revoke_security_group_egress(GroupId=group, IpPermissions=default_egress)
        configured = r.configured or frozenset()
        for direction, call in (
            ("ingress", ec2.authorize_security_group_ingress),
            ("egress", ec2.authorize_security_group_egress),
        ):
            if direction not in configured:
                continue
            perms = [self._permission(rule, group) for rule in v.get(direction) or []]
            if perms:
                call(GroupId=group, IpPermissions=perms)

    def _permission(self, rule: dict[str, Any], group: str) -> dict[str, Any]:
        protocol = str(rule.get("protocol", "-1"))
        perm: dict[str, Any] = {"IpProtocol": "-1" if protocol in ("-1", "all") else protocol}
        if perm["IpProtocol"] != "-1":
            perm["FromPort"], perm["ToPort"] = int(rule.get("from_port", 0)), int(rule.get("to_port", 0))
        description = rule.get("description") or None
        perm["IpRanges"] = [
            {"CidrIp": c, **({"Description": description} if description else {})}
            for c in rule.get("cidr_blocks") or []
        ]
        perm["Ipv6Ranges"] = [{"CidrIpv6": c} for c in rule.get("ipv6_cidr_blocks") or []]
        groups = [self.resolve(g) for g in rule.get("security_groups") or []]
        if rule.get("self"):
            groups.append(group)
        perm["UserIdGroupPairs"] = [{"GroupId": g} for g in groups]
        perm["PrefixListIds"] = [{"PrefixListId": p} for p in rule.get("prefix_list_ids") or []]
        return {k: val for k, val in perm.items() if val != []}

    def instance(self, r: TerraformResource) -> None:
        v = r.values
        ec2 = self.client("ec2")
        image = v.get("ami")
        images = ec2.describe_images(Owners=["amazon"])["Images"]
        known = {i["ImageId"] for i in images}
        if image not in known:
            # The plan's AMI is an account's own image; any image stands in for it (not a mapped attribute).
            self.ids[str(image)] = sorted(known)[0]
            image = sorted(known)[0]
        mo = _first(v.get("metadata_options"))
        options = {
            "HttpTokens": mo.get("http_tokens") or "optional",
            "HttpEndpoint": mo.get("http_endpoint") or "enabled",
            "HttpPutResponseHopLimit": int(mo.get("http_put_response_hop_limit") or 1),
            "InstanceMetadataTags": mo.get("instance_metadata_tags") or "disabled",
        }
        tags = [{"Key": k, "Value": str(t)} for k, t in (v.get("tags") or {}).items()]
        kwargs: dict[str, Any] = {
            "ImageId": image,
            "InstanceType": v.get("instance_type") or "t3.micro",
            "MinCount": 1,
            "MaxCount": 1,
            "SubnetId": self.resolve(v.get("subnet_id")) or self.subnets[0],
            "SecurityGroupIds": [self.resolve(g) for g in v.get("vpc_security_group_ids") or []],
            "MetadataOptions": options,
            "Monitoring": {"Enabled": bool(v.get("monitoring"))},
        }
        if tags:
            kwargs["TagSpecifications"] = [{"ResourceType": "instance", "Tags": tags}]
        if v.get("ebs_optimized") is not None:
            kwargs["EbsOptimized"] = bool(v["ebs_optimized"])
        if isinstance(v.get("key_name"), str) and v["key_name"]:
            self._key_pair(v["key_name"])
            kwargs["KeyName"] = v["key_name"]
        instance = ec2.run_instances(**kwargs)["Instances"][0]["InstanceId"]
        self.ids[v["id"]] = instance

    def _key_pair(self, name: str) -> None:
        ec2 = self.client("ec2")
        if not ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [name]}])["KeyPairs"]:
            ec2.create_key_pair(KeyName=name)

    def db_instance(self, r: TerraformResource) -> None:
        v = r.values
        rds = self.client("rds")
        group = v.get("db_subnet_group_name")
        if group:
            try:
                rds.create_db_subnet_group(
                    DBSubnetGroupName=group, DBSubnetGroupDescription=f"{group} (sandbox)", SubnetIds=self.subnets
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "DBSubnetGroupAlreadyExists":
                    raise
        kwargs: dict[str, Any] = {
            "DBInstanceIdentifier": v["identifier"],
            "DBInstanceClass": v.get("instance_class") or "db.t4g.medium",
            "Engine": v.get("engine") or "postgres",
            "AllocatedStorage": int(v.get("allocated_storage") or 20),
            "MasterUsername": v.get("username") if isinstance(v.get("username"), str) else "admin",
            "MasterUserPassword": secrets.token_urlsafe(18),  # sensitive in the plan; any value will do
            "MultiAZ": bool(v.get("multi_az")),
            "PubliclyAccessible": bool(v.get("publicly_accessible")),
            "StorageEncrypted": bool(v.get("storage_encrypted")),
            "DeletionProtection": bool(v.get("deletion_protection")),
            "BackupRetentionPeriod": int(v.get("backup_retention_period") or 0),
            "AutoMinorVersionUpgrade": bool(v.get("auto_minor_version_upgrade", True)),
            "Tags": [{"Key": k, "Value": str(t)} for k, t in (v.get("tags") or {}).items()],
        }
        for key, tf_key in (
            ("EngineVersion", "engine_version"),
            ("StorageType", "storage_type"),
            ("PreferredBackupWindow", "backup_window"),
            ("DBSubnetGroupName", "db_subnet_group_name"),
        ):
            if isinstance(v.get(tf_key), str) and v[tf_key]:
                kwargs[key] = v[tf_key]
        db = rds.create_db_instance(**kwargs)["DBInstance"]
        dbi = rds.describe_db_instances(DBInstanceIdentifier=db["DBInstanceIdentifier"])["DBInstances"][0][
            "DbiResourceId"
        ]
        for key in ("resource_id", "id"):
            if isinstance(v.get(key), str) and v[key] != v["identifier"]:
                self.ids[v[key]] = dbi

    def cloudtrail(self, r: TerraformResource) -> None:
        v = r.values
        ct = self.client("cloudtrail")
        ct.create_trail(
            Name=v["name"],
            S3BucketName=v["s3_bucket_name"],
            IsMultiRegionTrail=bool(v.get("is_multi_region_trail")),
            IncludeGlobalServiceEvents=bool(v.get("include_global_service_events", True)),
            EnableLogFileValidation=bool(v.get("enable_log_file_validation")),
        )
        if v.get("enable_logging", True):
            ct.start_logging(Name=v["name"])

    def ebs_default_encryption(self, r: TerraformResource) -> None:
        ec2 = self.client("ec2")
        if r.values.get("enabled", True):
            ec2.enable_ebs_encryption_by_default()
        else:
            ec2.disable_ebs_encryption_by_default()

    def flow_log(self, r: TerraformResource) -> None:
        v = r.values
        kwargs: dict[str, Any] = {
            "ResourceIds": [self.resolve(v["vpc_id"])],
            "ResourceType": "VPC",
            "TrafficType": v.get("traffic_type") or "ALL",
            "LogDestinationType": v.get("log_destination_type") or "cloud-watch-logs",
            "MaxAggregationInterval": int(v.get("max_aggregation_interval") or 600),
        }
        if v.get("log_destination"):
            kwargs["LogDestination"] = v["log_destination"]
        if v.get("iam_role_arn"):
            kwargs["DeliverLogsPermissionArn"] = v["iam_role_arn"]
        if v.get("log_group_name"):
            kwargs["LogGroupName"] = v["log_group_name"]
        flow = self.client("ec2").create_flow_logs(**kwargs)["FlowLogIds"][0]
        self.ids[v["id"]] = flow


# Creation order: what others refer to first (keys before buckets that use them, buckets before trails
# and flow logs that write to them, groups before instances, group rules after every group).
ORDER: tuple[tuple[str, str], ...] = (
    ("aws_kms_key", "kms_key"),
    ("aws_s3_bucket", "s3_bucket"),
    ("aws_s3_bucket_server_side_encryption_configuration", "s3_sse"),
    ("aws_s3_bucket_versioning", "s3_versioning"),
    ("aws_s3_bucket_public_access_block", "s3_pab"),
    ("aws_s3_bucket_logging", "s3_logging"),
    ("aws_security_group", "security_group"),
    ("aws_security_group", "security_group_rules"),
    ("aws_instance", "instance"),
    ("aws_db_instance", "db_instance"),
    ("aws_cloudtrail", "cloudtrail"),
    ("aws_ebs_encryption_by_default", "ebs_default_encryption"),
    ("aws_flow_log", "flow_log"),
)


def _network_refs(resources: list[TerraformResource]) -> tuple[set[str], set[str]]:
    vpcs: set[str] = set()
    subnets: set[str] = set()
    for r in resources:
        for key, bucket in (("vpc_id", vpcs), ("subnet_id", subnets)):
            value = r.values.get(key)
            if isinstance(value, str) and value:
                bucket.add(value)
    return vpcs, subnets


def build(seeder: Seeder, document: terraform.TerraformDocument, mappings: MappingSet) -> list[TerraformResource]:
    """Create every mapped resource the plan designs (not those it is about to create: they do not exist)."""
    resources = [
        r
        for r in document.resources
        if r.type in mappings.by_terraform_type and "create" not in r.actions and _known(r.values.get("id", "known"))
    ]
    vpcs, subnets = _network_refs(resources)
    seeder.network(sorted(vpcs), sorted(subnets))
    handled = {t for t, _ in ORDER}
    for tf_type, method in ORDER:
        for r in resources:
            if r.type == tf_type:
                getattr(seeder, method)(r)
                if method != "security_group_rules":
                    seeder.created.append(r.address)
    for r in resources:
        if r.type not in handled:
            log.warning("seed: no creator for %s (%s); skipped", r.type, r.address)
    return resources


# --------------------------------------------------------------------------- AWS Config


def module_values(env: EnvironmentConfig) -> dict[str, list[str]]:
    """What the Terraform module passes the runbooks (remediation parameters of kind ``module``)."""
    return {
        "automation_role_arn": [f"arn:aws:iam::{env.account_id}:role/drift-repair-automation-{env.name}"],
        "evidence_bucket": [env.evidence_bucket or f"drift-repair-evidence-{env.account_id}-{env.name}"],
        # The runbooks' aws:approve step waits for the principal the DAG signals with (the module's
        # approver_arns: the Airflow workers' role). In the sandbox that is the access key of the Airflow
        # connection. People approve in Airflow (two of them in prod); SSM counts principals: 1.
        "approvers": [os.environ.get("SANDBOX_APPROVER", "testing")],
        "min_required_approvals": ["1"],
        "loop_guard_window_hours": [str(int(env.loop_guard.window_hours))],
        "loop_guard_max_per_window": [str(env.loop_guard.max_per_window)],
    }


@functools.cache
def expected_defaults() -> dict[str, str]:
    """The module's static defaults for parameters the DAG fills with designed values (variables.tf)."""
    variables = REPO_ROOT / "include" / "terraform" / "modules" / "config-remediation" / "variables.tf"
    return {str(k): str(v) for k, v in (variable_default(variables, "expected_defaults") or {}).items()}


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise


def _ensure_automation_role(iam: Any, role_name: str) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ssm.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    try:
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise


def remediation_parameters(
    parameters: Mapping[str, Mapping[str, Any]], modules: dict[str, list[str]], defaults: Mapping[str, str] = {}
) -> dict[str, Any]:
    """A mapping's runbook parameters as Config remediation parameters (RESOURCE_ID or static values).

    ``expected`` values differ per resource: the DAG passes the designed value when it starts the runbook;
    the remediation configuration holds the module's static default (empty: the runbook's own default).
    """
    params: dict[str, Any] = {}
    for name, source in parameters.items():
        if source.get("resource_id"):
            params[name] = {"ResourceValue": {"Value": "RESOURCE_ID"}}
        elif "static" in source:
            values = source["static"] if isinstance(source["static"], list) else [source["static"]]
            params[name] = {"StaticValue": {"Values": [str(x) for x in values]}}
        elif "module" in source and source["module"] in modules:
            params[name] = {"StaticValue": {"Values": modules[source["module"]]}}
        elif "expected" in source and defaults.get(source["expected"]):
            params[name] = {"StaticValue": {"Values": [defaults[source["expected"]]]}}
    return params


def _put_rule(seeder: Seeder, rule: Any, modules: dict[str, list[str]]) -> None:
    cfg = seeder.client("config")
    spec: dict[str, Any] = {
        "ConfigRuleName": rule.name,
        "Source": {"Owner": "AWS", "SourceIdentifier": rule.source_identifier},
    }
    if rule.input_parameters:
        spec["InputParameters"] = json.dumps({k: str(v) for k, v in rule.input_parameters.items()})
    cfg.put_config_rule(ConfigRule=spec)
    if rule.remediation is None:
        return
    _register_runbook(seeder.client("ssm"), rule.remediation.runbook)
    cfg.put_remediation_configurations(
        RemediationConfigurations=[
            {
                "ConfigRuleName": rule.name,
                "TargetType": "SSM_DOCUMENT",
                "TargetId": rule.remediation.runbook,
                "Parameters": remediation_parameters(rule.remediation.parameters, modules, expected_defaults()),
                "Automatic": False,
                "MaximumAutomaticAttempts": rule.remediation.maximum_automatic_attempts,
                "RetryAttemptSeconds": rule.remediation.retry_attempt_seconds,
            }
        ]
    )


def turn_on_config(seeder: Seeder, mappings: MappingSet, present_types: set[str]) -> list[str]:
    """Recorder, delivery channel, rules, remediation configurations and runbooks, as the module deploys."""
    env = seeder.env
    cfg = seeder.client("config")
    modules = module_values(env)
    delivery = f"config-bucket-{env.account_id}-{env.name}"
    for bucket in (delivery, modules["evidence_bucket"][0]):
        _ensure_bucket(seeder.client("s3"), bucket, seeder.region)
    _ensure_automation_role(seeder.client("iam"), f"drift-repair-automation-{env.name}")
    service_role = "role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
    cfg.put_configuration_recorder(
        ConfigurationRecorder={
            "name": RECORDER,
            "roleARN": f"arn:aws:iam::{env.account_id}:{service_role}",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": False},
        }
    )
    cfg.put_delivery_channel(DeliveryChannel={"name": RECORDER, "s3BucketName": delivery})
    cfg.start_configuration_recorder(ConfigurationRecorderName=RECORDER)
    rules: list[str] = []
    for mapping in mappings.mappings:
        if mapping.config_resource_type in present_types:
            for rule in mapping.rules.values():
                _put_rule(seeder, rule, modules)
                rules.append(rule.name)
    return rules


def _register_runbook(ssm: Any, name: str) -> None:
    path = REPO_ROOT / "include" / "runbooks" / f"{name}.yaml"
    if not path.exists():
        return
    try:
        ssm.create_document(
            Name=name, Content=path.read_text(encoding="utf-8"), DocumentType="Automation", DocumentFormat="YAML"
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "DocumentAlreadyExists":
            raise


def reevaluate(seeder: Seeder, rules: list[str]) -> None:
    """Periodic rules see changes only when run: run them now (StartConfigRulesEvaluation takes 25 names)."""
    cfg = seeder.client("config")
    for i in range(0, len(rules), 25):
        try:
            cfg.start_config_rules_evaluation(ConfigRuleNames=rules[i : i + 25])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "LimitExceededException":
                raise
            log.warning("seed: %s (rules evaluated less than a minute ago keep their results)", exc)


# --------------------------------------------------------------------------- drift


def _s3_versioning_drifts(seeder: Seeder, r: TerraformResource) -> list[Drift]:
    s3 = seeder.client("s3")
    status = _first(r.values.get("versioning_configuration")).get("status")
    new = "Suspended" if status == "Enabled" else "Enabled"

    def do() -> None:
        s3.put_bucket_versioning(Bucket=r.values["bucket"], VersioningConfiguration={"Status": new})

    return [Drift(r.address, "versioning", "AWS::S3::Bucket", status, new, do)]


def _s3_pab_drifts(seeder: Seeder, r: TerraformResource) -> list[Drift]:
    s3 = seeder.client("s3")
    out = []
    for flag, api in (
        ("block_public_acls", "BlockPublicAcls"),
        ("ignore_public_acls", "IgnorePublicAcls"),
        ("block_public_policy", "BlockPublicPolicy"),
        ("restrict_public_buckets", "RestrictPublicBuckets"),
    ):

        def do(b: str = r.values["bucket"], a: str = api) -> None:
            current = s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]
            current[a] = not current[a]
            s3.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration=current)

        out.append(Drift(r.address, flag, "AWS::S3::Bucket", r.values.get(flag), not r.values.get(flag), do))
    return out


def _s3_sse_drifts(seeder: Seeder, r: TerraformResource) -> list[Drift]:
    s3 = seeder.client("s3")
    rule = _first(r.values.get("rule"))
    if _first(rule.get("apply_server_side_encryption_by_default")).get("sse_algorithm") != "AES256":
        return []  # from SSE-KMS to SSE-S3 would also change the key id: two attributes, not one

    def do() -> None:
        sse = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]}
        s3.put_bucket_encryption(Bucket=r.values["bucket"], ServerSideEncryptionConfiguration=sse)

    # SSE-KMS with the AWS managed key: the key id stays empty, as designed.
    return [Drift(r.address, "sse_algorithm", "AWS::S3::Bucket", "AES256", "aws:kms", do)]


def _db_drifts(seeder: Seeder, r: TerraformResource) -> list[Drift]:
    rds = seeder.client("rds")
    ident = r.values["identifier"]
    period = int(r.values.get("backup_retention_period") or 0)
    new_period = 1 if period != 1 else 7
    public = bool(r.values.get("publicly_accessible"))

    def do_backup() -> None:
        rds.modify_db_instance(DBInstanceIdentifier=ident, BackupRetentionPeriod=new_period, ApplyImmediately=True)

    def do_public() -> None:
        rds.modify_db_instance(DBInstanceIdentifier=ident, PubliclyAccessible=not public, ApplyImmediately=True)

    return [
        Drift(r.address, "backup_retention_period", "AWS::RDS::DBInstance", period, new_period, do_backup),
        Drift(r.address, "publicly_accessible", "AWS::RDS::DBInstance", public, not public, do_public),
    ]


def _instance_drifts(seeder: Seeder, r: TerraformResource) -> list[Drift]:
    ec2 = seeder.client("ec2")
    tokens = _first(r.values.get("metadata_options")).get("http_tokens") or "optional"
    new_tokens = "optional" if tokens == "required" else "required"
    instance = seeder.ids[r.values["id"]]

    def do() -> None:
        ec2.modify_instance_metadata_options(InstanceId=instance, HttpTokens=new_tokens)

    return [Drift(r.address, "http_tokens", "AWS::EC2::Instance", tokens, new_tokens, do)]


def _kms_drifts(seeder: Seeder, r: TerraformResource) -> list[Drift]:
    kms = seeder.client("kms")
    rotation = bool(r.values.get("enable_key_rotation"))
    key = seeder.ids[r.values["key_id"]]

    def do() -> None:
        (kms.disable_key_rotation if rotation else kms.enable_key_rotation)(KeyId=key)

    return [Drift(r.address, "enable_key_rotation", "AWS::KMS::Key", rotation, not rotation, do)]


def _trail_drifts(seeder: Seeder, r: TerraformResource) -> list[Drift]:
    ct = seeder.client("cloudtrail")
    validation = bool(r.values.get("enable_log_file_validation"))

    def do() -> None:
        ct.update_trail(Name=r.values["name"], EnableLogFileValidation=not validation)

    return [Drift(r.address, "enable_log_file_validation", "AWS::CloudTrail::Trail", validation, not validation, do)]


def _ebs_drifts(seeder: Seeder, r: TerraformResource) -> list[Drift]:
    ec2 = seeder.client("ec2")
    enabled = bool(r.values.get("enabled", True))

    def do() -> None:
        (ec2.disable_ebs_encryption_by_default if enabled else ec2.enable_ebs_encryption_by_default)()

    return [Drift(r.address, "enabled", "AWS::::Account", enabled, not enabled, do)]


DRIFTERS: dict[str, Callable[[Seeder, TerraformResource], list[Drift]]] = {
    "aws_s3_bucket_versioning": _s3_versioning_drifts,
    "aws_s3_bucket_public_access_block": _s3_pab_drifts,
    "aws_s3_bucket_server_side_encryption_configuration": _s3_sse_drifts,
    "aws_db_instance": _db_drifts,
    "aws_instance": _instance_drifts,
    "aws_kms_key": _kms_drifts,
    "aws_cloudtrail": _trail_drifts,
    "aws_ebs_encryption_by_default": _ebs_drifts,
}


def drift_candidates(seeder: Seeder, resources: list[TerraformResource], mappings: MappingSet) -> list[Drift]:
    """Attributes the seed can drift, each change moving exactly one compared value; only those a Config
    rule watches and a runbook repairs."""
    out: list[Drift] = []
    for r in resources:
        drifter = DRIFTERS.get(r.type)
        if drifter is None:
            continue
        mapping = mappings.by_terraform_type[r.type]
        for d in drifter(seeder, r):
            attribute = next((a for a in mapping.attributes if a.name == d.attribute), None)
            rule = mapping.rules.get(attribute.config_rule) if attribute and attribute.config_rule else None
            if rule is not None and rule.remediation is not None:
                out.append(d)
    return out


def choose(candidates: list[Drift], count: int, named: list[str]) -> list[Drift]:
    """Named attributes in order; otherwise one per resource type in turn, in plan order (deterministic)."""
    if named:
        chosen: list[Drift] = []
        for name in named:
            address, _, attribute = name.rpartition("@")
            match = next(
                (
                    d
                    for d in candidates
                    if d.attribute == attribute and (not address or d.address == address) and d not in chosen
                ),
                None,
            )
            if match is None:
                known = sorted({f"{d.address}@{d.attribute}" for d in candidates})
                raise SystemExit(f"seed: cannot drift {name!r}; driftable: {', '.join(known)}")
            chosen.append(match)
        return chosen
    queues: dict[str, list[Drift]] = {}
    for d in candidates:
        queues.setdefault(d.resource_type, []).append(d)
    chosen = []
    while len(chosen) < count and any(queues.values()):
        for queue in queues.values():
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    if len(chosen) < count:
        raise SystemExit(f"seed: only {len(chosen)} attributes can be drifted in this environment, not {count}")
    return chosen


# --------------------------------------------------------------------------- detection (verify)


def detect(endpoint: str, env: EnvironmentConfig, plan_path: str | Path) -> cmp.CompareResult:
    """The project's detection (core compare over the Config fetcher's items) against the sandbox."""
    document = terraform.load(plan_path)
    targets = cmp.build_targets(document, load_mappings(), env.context)
    client = boto3.client(
        "config",
        endpoint_url=endpoint,
        region_name=env.region,
        aws_access_key_id=env.account_id,
        aws_secret_access_key="sandbox",
    )
    fetcher = ConfigItemFetcher(client)
    index = fetcher.fetch(cmp.lookups(targets))
    existing = {r["ConfigRuleName"] for r in client.describe_config_rules().get("ConfigRules", [])}
    rules = sorted({a.config_rule for t in targets for a in t.mapping.attributes if a.config_rule} & existing)
    return cmp.compare(targets, index, fetcher.compliance(rules))


def _say(text: str) -> None:
    """The command's output (stdout), for people and for --json consumers."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    env = load_environment(args.env)
    plan_source = env.resolve(env.terraform.plan_json or env.terraform.state_json)
    if plan_source is None or plan_source.startswith("s3://"):
        sys.stderr.write(f"seed: {env.name} has no local plan/state JSON\n")
        return 2
    raw = json.loads(Path(plan_source).read_text(encoding="utf-8"))
    document = terraform.parse_document(raw, plan_source)
    mappings = load_mappings()
    named = [n.strip() for n in args.drift_attributes.split(",") if n.strip()]
    seeder = Seeder(env, args.endpoint)
    try:
        resources = build(seeder, document, mappings)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
        sys.stderr.write(
            f"seed: the sandbox already holds {env.name}'s resources ({exc.response['Error']['Code']}); "
            f"reset it first: curl -X POST {args.endpoint}/_sandbox/reset\n"
        )
        return 1
    present = {mappings.by_terraform_type[r.type].config_resource_type for r in resources}
    rules = turn_on_config(seeder, mappings, present)
    out = Path(args.out) if args.out else var_dir() / "sandbox" / env.name / "plan.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(replace_ids(raw, seeder.ids), indent=2) + "\n", encoding="utf-8")
    drifts = choose(drift_candidates(seeder, resources, mappings), args.drift, named) if (args.drift or named) else []
    for d in drifts:
        d.apply()
    reevaluate(seeder, rules)
    summary: dict[str, Any] = {
        "environment": env.name,
        "endpoint": args.endpoint,
        "plan": str(out),
        "resources": len(seeder.created),
        "config_rules": rules,
        "ids": seeder.ids,
        "drifted": [d.describe() for d in drifts],
    }
    if args.verify:
        result = detect(args.endpoint, env, out)
        summary["verdicts"] = result.summary["verdicts"]
    if args.json:
        _say(json.dumps(summary, indent=2, default=str))
        return 0
    _say(f"seeded {env.name}: {len(seeder.created)} resources, {len(rules)} Config rules at {args.endpoint}")
    _say(f"plan with the sandbox's ids: {out}")
    for d in drifts:
        _say(f"drifted {d.address} {d.attribute}: {d.designed!r} -> {d.drifted!r}")
    if args.verify:
        _say("detection: " + ", ".join(f"{k} {v}" for k, v in summary["verdicts"].items()))
    return 0
