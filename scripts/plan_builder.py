"""Builders for realistic ``terraform show -json`` plans and matching AWS Config items.

Used to write the bundled example environments (scripts/example_env.py) and the synthetic estates of the
benchmarks. Each builder returns a :class:`Res`: the Terraform address parts, the designed values, the
arguments written in the configuration, and the Config item AWS would record for it. A plan is then laid
out exactly as Terraform 1.x lays it out: planned_values (nested child_modules), resource_changes with
before/after/after_unknown/after_sensitive, prior_state, configuration with expressions.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
TF_VERSION = "1.9.8"
PROVIDER = "registry.terraform.io/hashicorp/aws"
CAPTURE_TIME = "2026-11-29T18:00:00.000Z"


@dataclass
class Res:
    type: str
    name: str
    values: dict[str, Any]
    module: str = ""  # "module.storage" or ""
    index: Any = None
    configured: list[str] = field(default_factory=list)
    after_unknown: dict[str, Any] = field(default_factory=dict)
    sensitive: dict[str, Any] = field(default_factory=dict)
    action: str = "no-op"
    before: dict[str, Any] | None = None  # the refreshed (drifted) values when action is update

    @property
    def address(self) -> str:
        idx = ""
        if isinstance(self.index, int):
            idx = f"[{self.index}]"
        elif isinstance(self.index, str):
            idx = f'["{self.index}"]'
        base = f"{self.type}.{self.name}{idx}"
        return f"{self.module}.{base}" if self.module else base


def _id(prefix: str, seed: str, n: int = 17) -> str:
    return prefix + hashlib.sha256(seed.encode()).hexdigest()[:n]


def uuid_for(seed: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


# --------------------------------------------------------------------------- Terraform resources


def s3_bucket(name: str, bucket: str, module: str = "", index: Any = None, **inline: Any) -> Res:
    values = {
        "bucket": bucket,
        "bucket_prefix": "",
        "force_destroy": False,
        "object_lock_enabled": False,
        "tags": {"Environment": "dev", "ManagedBy": "terraform"},
        "tags_all": {"Environment": "dev", "ManagedBy": "terraform"},
        "id": bucket,
        "arn": f"arn:aws:s3:::{bucket}",
        "bucket_domain_name": f"{bucket}.s3.amazonaws.com",
        "region": REGION,
        "versioning": [{"enabled": False, "mfa_delete": False}],
        "server_side_encryption_configuration": [
            {
                "rule": [
                    {
                        "apply_server_side_encryption_by_default": [
                            {"sse_algorithm": "AES256", "kms_master_key_id": ""}
                        ],
                        "bucket_key_enabled": False,
                    }
                ]
            }
        ],
        "logging": [],
    }
    configured = ["bucket", "tags"]
    values.update(inline)
    configured += list(inline)
    return Res("aws_s3_bucket", name, values, module, index, configured)


def s3_sse(
    name: str, bucket: str, algorithm: str = "AES256", kms_key: str | None = None, module: str = "", index: Any = None
) -> Res:
    values = {
        "bucket": bucket,
        "id": bucket,
        "expected_bucket_owner": "",
        "rule": [
            {
                "apply_server_side_encryption_by_default": [
                    {"sse_algorithm": algorithm, "kms_master_key_id": kms_key or ""}
                ],
                "bucket_key_enabled": kms_key is not None,
            }
        ],
    }
    return Res("aws_s3_bucket_server_side_encryption_configuration", name, values, module, index, ["bucket", "rule"])


def s3_versioning(name: str, bucket: str, status: str = "Enabled", module: str = "", index: Any = None) -> Res:
    values = {
        "bucket": bucket,
        "id": bucket,
        "expected_bucket_owner": "",
        "mfa": None,
        "versioning_configuration": [{"status": status, "mfa_delete": "Disabled"}],
    }
    return Res("aws_s3_bucket_versioning", name, values, module, index, ["bucket", "versioning_configuration"])


def s3_pab(name: str, bucket: str, module: str = "", index: Any = None, **flags: bool) -> Res:
    values = {
        "bucket": bucket,
        "id": bucket,
        "block_public_acls": True,
        "block_public_policy": True,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
    }
    values.update(flags)
    return Res(
        "aws_s3_bucket_public_access_block",
        name,
        values,
        module,
        index,
        ["bucket", "block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"],
    )


def s3_logging(name: str, bucket: str, target: str, prefix: str, module: str = "", index: Any = None) -> Res:
    values = {
        "bucket": bucket,
        "id": bucket,
        "expected_bucket_owner": "",
        "target_bucket": target,
        "target_prefix": prefix,
        "target_grant": [],
        "target_object_key_format": [],
    }
    return Res("aws_s3_bucket_logging", name, values, module, index, ["bucket", "target_bucket", "target_prefix"])


def db_instance(name: str, identifier: str, module: str = "", **overrides: Any) -> Res:
    values = {
        "identifier": identifier,
        "id": _id("db-", identifier, 26).upper().replace("DB-", "db-"),
        "resource_id": _id("db-", identifier, 26).upper().replace("DB-", "db-"),
        "arn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{identifier}",
        "engine": "postgres",
        "engine_version": "16.4",
        "instance_class": "db.t4g.medium",
        "allocated_storage": 50,
        "storage_type": "gp3",
        "storage_encrypted": True,
        "multi_az": True,
        "publicly_accessible": False,
        "deletion_protection": True,
        "auto_minor_version_upgrade": False,
        "backup_retention_period": 7,
        "backup_window": "18:00-19:00",
        "username": "app",
        "password": "not-a-real-password",  # sensitive in the plan, never compared
        "db_subnet_group_name": f"{identifier}-subnets",
        "skip_final_snapshot": False,
        "tags": {"Environment": "dev"},
    }
    values.update(overrides)
    configured = [
        "identifier",
        "engine",
        "engine_version",
        "instance_class",
        "allocated_storage",
        "storage_type",
        "storage_encrypted",
        "multi_az",
        "publicly_accessible",
        "deletion_protection",
        "auto_minor_version_upgrade",
        "backup_retention_period",
        "backup_window",
        "username",
        "password",
        "db_subnet_group_name",
        "tags",
    ]
    return Res("aws_db_instance", name, values, module, None, configured, sensitive={"password": True})


def ec2_instance(name: str, seed: str, module: str = "", index: Any = None, **overrides: Any) -> Res:
    iid = _id("i-", seed)
    values = {
        "id": iid,
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{iid}",
        "ami": "ami-0abcdef1234567890",
        "instance_type": "t3.micro",
        "monitoring": True,
        "key_name": "ops",
        "ebs_optimized": True,
        "source_dest_check": True,
        "metadata_options": [
            {
                "http_tokens": "required",
                "http_endpoint": "enabled",
                "http_put_response_hop_limit": 1,
                "instance_metadata_tags": "disabled",
            }
        ],
        "subnet_id": _id("subnet-", "app"),
        "vpc_security_group_ids": [],
        "tags": {"Name": seed},
    }
    values.update(overrides)
    return Res(
        "aws_instance",
        name,
        values,
        module,
        index,
        [
            "ami",
            "instance_type",
            "monitoring",
            "key_name",
            "ebs_optimized",
            "metadata_options",
            "subnet_id",
            "vpc_security_group_ids",
            "tags",
        ],
    )


def security_group(
    name: str, seed: str, ingress: list[dict[str, Any]], module: str = "", egress: list[dict[str, Any]] | None = None
) -> Res:
    gid = _id("sg-", seed)

    def rule(r: dict[str, Any]) -> dict[str, Any]:
        base = {
            "cidr_blocks": [],
            "ipv6_cidr_blocks": [],
            "prefix_list_ids": [],
            "security_groups": [],
            "self": False,
            "description": "",
        }
        base.update(r)
        return base

    egress = (
        egress
        if egress is not None
        else [{"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}]
    )
    values = {
        "id": gid,
        "name": seed,
        "description": f"{seed} security group",
        "vpc_id": _id("vpc-", "main"),
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{gid}",
        "ingress": [rule(r) for r in ingress],
        "egress": [rule(r) for r in egress],
        "revoke_rules_on_delete": False,
        "tags": {"Name": seed},
    }
    return Res("aws_security_group", name, values, module, None, ["name", "description", "vpc_id", "ingress", "egress"])


def kms_key(name: str, seed: str, rotation: bool = True) -> Res:
    kid = uuid_for(seed)
    values = {
        "key_id": kid,
        "id": kid,
        "arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{kid}",
        "description": f"{seed} data key",
        "enable_key_rotation": rotation,
        "rotation_period_in_days": 365,
        "is_enabled": True,
        "key_usage": "ENCRYPT_DECRYPT",
        "customer_master_key_spec": "SYMMETRIC_DEFAULT",
        "deletion_window_in_days": 30,
        "multi_region": False,
    }
    return Res("aws_kms_key", name, values, "", None, ["description", "enable_key_rotation", "deletion_window_in_days"])


def cloudtrail(name: str, trail: str, bucket: str) -> Res:
    values = {
        "name": trail,
        "id": trail,
        "arn": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail}",
        "s3_bucket_name": bucket,
        "enable_log_file_validation": True,
        "is_multi_region_trail": True,
        "include_global_service_events": True,
        "enable_logging": True,
        "home_region": REGION,
    }
    return Res(
        "aws_cloudtrail",
        name,
        values,
        "",
        None,
        ["name", "s3_bucket_name", "enable_log_file_validation", "is_multi_region_trail"],
    )


def ebs_default_encryption(name: str = "this") -> Res:
    return Res("aws_ebs_encryption_by_default", name, {"id": REGION, "enabled": True}, "", None, ["enabled"])


def flow_log(name: str, seed: str, vpc_id: str, destination: str) -> Res:
    fid = _id("fl-", seed)
    values = {
        "id": fid,
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-flow-log/{fid}",
        "vpc_id": vpc_id,
        "traffic_type": "ALL",
        "log_destination_type": "s3",
        "log_destination": f"arn:aws:s3:::{destination}",
        "max_aggregation_interval": 600,
    }
    return Res(
        "aws_flow_log", name, values, "", None, ["vpc_id", "traffic_type", "log_destination_type", "log_destination"]
    )


# --------------------------------------------------------------------------- Config items


def _item(
    resource_type: str,
    resource_id: str,
    name: str | None,
    arn: str,
    configuration: dict[str, Any],
    supplementary: dict[str, Any] | None = None,
    status: str = "OK",
) -> dict[str, Any]:
    """A configuration item in the form a snapshot file delivered to S3 has it (objects, not strings)."""
    return {
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": CAPTURE_TIME,
        "configurationStateId": int(hashlib.sha256(resource_id.encode()).hexdigest()[:12], 16),
        "awsAccountId": ACCOUNT,
        "configurationItemStatus": status,
        "resourceType": resource_type,
        "resourceId": resource_id,
        "resourceName": name,
        "ARN": arn,
        "awsRegion": REGION,
        "availabilityZone": "Regional" if resource_type == "AWS::S3::Bucket" else "Multiple Availability Zones",
        "configurationStateMd5Hash": "",
        "resourceCreationTime": "2025-04-01T00:00:00.000Z",
        "tags": {},
        "relatedEvents": [],
        "relationships": [],
        "configuration": configuration,
        "supplementaryConfiguration": supplementary or {},
    }


def s3_item(
    bucket: str,
    *,
    sse: str | None = "AES256",
    kms_key: str | None = None,
    versioning: str = "Off",
    pab: dict[str, bool] | None = None,
    logging: tuple[str, str] | None = None,
) -> dict[str, Any]:
    supplementary: dict[str, Any] = {
        "AccessControlList": json.dumps({"grantList": [], "owner": {"displayName": None, "id": "0" * 64}}),
        "BucketAccelerateConfiguration": {"status": None},
        "BucketLoggingConfiguration": {"destinationBucketName": logging[0], "logFilePrefix": logging[1]}
        if logging
        else {"destinationBucketName": None, "logFilePrefix": None},
        "BucketNotificationConfiguration": {"configurations": {}},
        "BucketPolicy": {"policyText": None},
        "BucketVersioningConfiguration": {"status": versioning, "isMfaDeleteEnabled": None},
        "IsRequesterPaysEnabled": False,
    }
    if sse:
        supplementary["ServerSideEncryptionConfiguration"] = {
            "rules": [
                {
                    "applyServerSideEncryptionByDefault": {"sseAlgorithm": sse, "kmsMasterKeyID": kms_key},
                    "bucketKeyEnabled": kms_key is not None,
                }
            ]
        }
    if pab is not None:
        supplementary["PublicAccessBlockConfiguration"] = pab
    configuration = {
        "name": bucket,
        "owner": {"displayName": None, "id": "0" * 64},
        "creationDate": "2025-04-01T00:00:00.000Z",
    }
    return _item("AWS::S3::Bucket", bucket, bucket, f"arn:aws:s3:::{bucket}", configuration, supplementary)


def rds_item(res: Res, **drift: Any) -> dict[str, Any]:
    v = {**res.values, **drift}
    configuration = {
        "dBInstanceIdentifier": v["identifier"],
        "dBInstanceClass": v["instance_class"],
        "engine": v["engine"],
        "engineVersion": v["engine_version"],
        "dBInstanceStatus": "available",
        "masterUsername": v["username"],
        "allocatedStorage": v["allocated_storage"],
        "preferredBackupWindow": v["backup_window"],
        "backupRetentionPeriod": v["backup_retention_period"],
        "multiAZ": v["multi_az"],
        "publiclyAccessible": v["publicly_accessible"],
        "storageType": v["storage_type"],
        "storageEncrypted": v["storage_encrypted"],
        "dbiResourceId": v["resource_id"],
        "deletionProtection": v["deletion_protection"],
        "autoMinorVersionUpgrade": v["auto_minor_version_upgrade"],
        "dBInstanceArn": v["arn"],
    }
    return _item("AWS::RDS::DBInstance", v["resource_id"], v["identifier"], v["arn"], configuration)


def ec2_item(res: Res, **drift: Any) -> dict[str, Any]:
    v = {**res.values, **drift}
    mo = v["metadata_options"][0]
    configuration = {
        "instanceId": v["id"],
        "imageId": v["ami"],
        "instanceType": v["instance_type"],
        "state": {"code": 16, "name": "running"},
        "subnetId": v["subnet_id"],
        "keyName": v["key_name"],
        "ebsOptimized": v["ebs_optimized"],
        "sourceDestCheck": v["source_dest_check"],
        "monitoring": {"state": "enabled" if v["monitoring"] else "disabled"},
        "metadataOptions": {
            "state": "applied",
            "httpTokens": mo["http_tokens"],
            "httpPutResponseHopLimit": mo["http_put_response_hop_limit"],
            "httpEndpoint": mo["http_endpoint"],
            "instanceMetadataTags": mo["instance_metadata_tags"],
        },
    }
    return _item("AWS::EC2::Instance", v["id"], None, v["arn"], configuration)


def _permissions(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rules:
        perm: dict[str, Any] = {
            "ipProtocol": r["protocol"],
            "ipv6Ranges": [],
            "prefixListIds": [],
            "userIdGroupPairs": [{"groupId": g} for g in r.get("security_groups", [])],
            "ipv4Ranges": [{"cidrIp": c} for c in r.get("cidr_blocks", [])],
            "ipRanges": list(r.get("cidr_blocks", [])),
        }
        if r["protocol"] != "-1":
            perm["fromPort"], perm["toPort"] = r["from_port"], r["to_port"]
        out.append(perm)
    return out


def sg_item(res: Res, extra_ingress: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    v = res.values
    configuration = {
        "description": v["description"],
        "groupName": v["name"],
        "ownerId": ACCOUNT,
        "groupId": v["id"],
        "vpcId": v["vpc_id"],
        "ipPermissions": _permissions(v["ingress"] + (extra_ingress or [])),
        "ipPermissionsEgress": _permissions(v["egress"]),
        "tags": [],
    }
    return _item("AWS::EC2::SecurityGroup", v["id"], v["name"], v["arn"], configuration)


def kms_item(res: Res, rotation: bool | None = None) -> dict[str, Any]:
    v = res.values
    configuration = {
        "keyId": v["key_id"],
        "arn": v["arn"],
        "awsaccountId": ACCOUNT,
        "enabled": v["is_enabled"],
        "keyManager": "CUSTOMER",
        "keyState": "Enabled",
        "keyUsage": v["key_usage"],
        "origin": "AWS_KMS",
        "description": v["description"],
    }
    supplementary = {"KeyRotationStatus": v["enable_key_rotation"] if rotation is None else rotation}
    return _item("AWS::KMS::Key", v["key_id"], v["key_id"], v["arn"], configuration, supplementary)


def trail_item(res: Res, **drift: Any) -> dict[str, Any]:
    v = {**res.values, **drift}
    configuration = {
        "name": v["name"],
        "s3BucketName": v["s3_bucket_name"],
        "trailARN": v["arn"],
        "isMultiRegionTrail": v["is_multi_region_trail"],
        "homeRegion": REGION,
        "logFileValidationEnabled": v["enable_log_file_validation"],
        "includeGlobalServiceEvents": v["include_global_service_events"],
    }
    return _item("AWS::CloudTrail::Trail", v["name"], v["name"], v["arn"], configuration)


def flow_log_item(res: Res, **drift: Any) -> dict[str, Any]:
    v = {**res.values, **drift}
    configuration = {
        "flowLogId": v["id"],
        "flowLogStatus": "ACTIVE",
        "resourceId": v["vpc_id"],
        "trafficType": v["traffic_type"],
        "logDestinationType": v["log_destination_type"],
        "logDestination": v["log_destination"],
        "maxAggregationInterval": v["max_aggregation_interval"],
        "deliverLogsStatus": "SUCCESS",
    }
    return _item("AWS::EC2::FlowLog", v["id"], None, v["arn"], configuration)


# --------------------------------------------------------------------------- plan layout


def _false_tree(values: Any) -> Any:
    """The shape Terraform writes for after_unknown / sensitive_values where nothing is marked."""
    if isinstance(values, dict):
        return {k: _false_tree(v) for k, v in values.items() if isinstance(v, (dict, list))}
    if isinstance(values, list):
        return [_false_tree(v) if isinstance(v, (dict, list)) else False for v in values]
    return False


def _merge_marks(base: Any, marks: dict[str, Any]) -> Any:
    out = copy.deepcopy(base) if isinstance(base, dict) else {}
    out.update(marks)
    return out


def _instance(r: Res, values: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"address": r.address, "mode": "managed", "type": r.type, "name": r.name}
    if r.index is not None:
        entry["index"] = r.index
    entry.update(
        {
            "provider_name": PROVIDER,
            "schema_version": 0,
            "values": values,
            "sensitive_values": _merge_marks(_false_tree(values), r.sensitive),
        }
    )
    return entry


def _module_tree(entries: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    root: dict[str, Any] = {"resources": []}
    children: dict[str, dict[str, Any]] = {}
    for module, entry in entries:
        if not module:
            root["resources"].append(entry)
            continue
        # support one level of nesting per dotted segment pair: module.a or module.a.module.b
        parts = module.split(".")
        path = ""
        parent = root
        for i in range(0, len(parts), 2):
            path = ".".join(parts[: i + 2])
            if path not in children:
                children[path] = {"resources": [], "address": path}
                parent.setdefault("child_modules", []).append(children[path])
            parent = children[path]
        parent["resources"].append(entry)
    return root


def _configuration(resources: list[Res]) -> dict[str, Any]:
    root: dict[str, Any] = {
        "provider_config": {
            "aws": {"name": "aws", "full_name": PROVIDER, "expressions": {"region": {"constant_value": REGION}}}
        },
        "resources": [],
        "module_calls": {},
    }
    seen: set[tuple[str, str]] = set()
    for r in resources:
        key = (r.module, f"{r.type}.{r.name}")
        if key in seen:
            continue
        seen.add(key)
        target = root
        if r.module:
            for segment in r.module.split(".")[1::2]:
                call = segment.split("[")[0]
                mc = target["module_calls"].setdefault(
                    call, {"source": f"./modules/{call}", "module": {"resources": [], "module_calls": {}}}
                )
                target = mc["module"]
        res_cfg: dict[str, Any] = {
            "address": f"{r.type}.{r.name}",
            "mode": "managed",
            "type": r.type,
            "name": r.name,
            "provider_config_key": "aws",
            "schema_version": 0,
            "expressions": {k: {"constant_value": r.values.get(k)} for k in r.configured},
        }
        if isinstance(r.index, int):
            res_cfg["count_expression"] = {"constant_value": 2}
        elif isinstance(r.index, str):
            res_cfg["for_each_expression"] = {"references": ["local.buckets"]}
        target["resources"].append(res_cfg)
    return {"provider_config": root.pop("provider_config"), "root_module": root}


def plan_document(resources: list[Res]) -> dict[str, Any]:
    """A ``terraform show -json plan.tfplan`` document for the given resources."""
    planned, prior, changes, drift = [], [], [], []
    for r in resources:
        after = {k: v for k, v in r.values.items() if k not in r.after_unknown}
        planned.append((r.module, _instance(r, after)))
        if r.action != "create":
            before = r.before if r.before is not None else r.values
            prior.append((r.module, _instance(r, before)))
        actions = {"no-op": ["no-op"], "update": ["update"], "create": ["create"]}[r.action]
        change = {
            "actions": actions,
            "before": None if r.action == "create" else (r.before if r.before is not None else r.values),
            "after": after,
            "after_unknown": _merge_marks(_false_tree(after), r.after_unknown),
            "before_sensitive": False if r.action == "create" else _merge_marks(_false_tree(r.values), r.sensitive),
            "after_sensitive": _merge_marks(_false_tree(after), r.sensitive),
        }
        rc = {
            "address": r.address,
            "mode": "managed",
            "type": r.type,
            "name": r.name,
            "provider_name": PROVIDER,
            "change": change,
        }
        if r.module:
            rc["module_address"] = r.module
        if r.index is not None:
            rc["index"] = r.index
        changes.append(rc)
        if r.before is not None:
            drift.append({**rc, "change": {**change, "actions": ["update"], "after": r.before}})
    doc = {
        "format_version": "1.2",
        "terraform_version": TF_VERSION,
        "planned_values": {"root_module": _module_tree(planned)},
        "resource_drift": drift,
        "resource_changes": changes,
        "prior_state": {
            "format_version": "1.0",
            "terraform_version": TF_VERSION,
            "values": {"root_module": _module_tree(prior)},
        },
        "configuration": _configuration(resources),
        "timestamp": "2026-11-29T17:55:00Z",
        "applyable": any(r.action != "no-op" for r in resources),
        "complete": True,
        "errored": False,
    }
    return doc


def snapshot_document(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON an AWS Config delivery channel writes to S3 as a configuration snapshot."""
    return {
        "fileVersion": "1.0",
        "configSnapshotId": uuid_for("snapshot" + str(len(items))),
        "configurationItems": items,
    }
