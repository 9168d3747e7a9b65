"""Configuration items built from moto's live backends, in the shapes AWS Config returns.

AWS Config does not read resources when asked: its recorder captures a configuration item (CI) whenever a
resource changes, and the read APIs return the recorded items. The sandbox builds the *current* state of
every recordable resource from moto's in-memory backends (:func:`current_resources`); the recorder
(:mod:`sandbox.config.recorder`) compares it with the last recorded item and records a new CI when it
differs. This module only knows how each resource type looks in Config:

* keys are Config's own spelling (``dBInstanceClass``, ``dbiResourceId``, ``trailARN``, ``awsaccountId``),
  as listed in awslabs/aws-config-resource-schema;
* ``supplementaryConfiguration`` values are kept as objects here and rendered as JSON strings by
  :func:`base_item` / :func:`history_item`, as the API returns them (``AccessControlList`` is encoded twice,
  as AWS does);
* account-level settings with no resource type (EBS encryption by default) have no item at all.

Everything read from moto goes through ``getattr`` with a default: a moto upgrade that renames an
attribute degrades one field, it does not break recording.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sandbox import backends

S3_BUCKET = "AWS::S3::Bucket"
RDS_DB_INSTANCE = "AWS::RDS::DBInstance"
EC2_INSTANCE = "AWS::EC2::Instance"
EC2_SECURITY_GROUP = "AWS::EC2::SecurityGroup"
EC2_VPC = "AWS::EC2::VPC"
EC2_FLOW_LOG = "AWS::EC2::FlowLog"
KMS_KEY = "AWS::KMS::Key"
CLOUDTRAIL_TRAIL = "AWS::CloudTrail::Trail"
ACCOUNT = "AWS::::Account"  # what account-level rules report against; never a configuration item

CI_VERSION = "1.3"


@dataclass(frozen=True)
class ResourceState:
    """One resource as AWS Config would capture it now (before recording: no capture time, no status)."""

    resource_type: str
    resource_id: str
    resource_name: str | None
    arn: str
    region: str
    availability_zone: str | None
    created: dt.datetime | None
    configuration: dict[str, Any]
    supplementary: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    relationships: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.resource_type, self.resource_id)

    def fingerprint(self) -> str:
        """What a change is: any difference in the recorded content (not in capture metadata)."""
        content = {
            "name": self.resource_name,
            "configuration": self.configuration,
            "supplementary": self.supplementary,
            "tags": self.tags,
            "relationships": self.relationships,
        }
        return hashlib.md5(_dumps(content, sort_keys=True).encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class RecordedItem:
    """A configuration item as recorded: the state plus capture metadata."""

    state: ResourceState | None  # None for a ResourceDeleted item (no configuration any more)
    resource_type: str
    resource_id: str
    resource_name: str | None
    arn: str
    region: str
    account_id: str
    status: str  # ResourceDiscovered | OK | ResourceDeleted
    capture_time: dt.datetime
    state_id: str
    fingerprint: str
    created: dt.datetime | None = None
    availability_zone: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.resource_type, self.resource_id)

    @property
    def is_deleted(self) -> bool:
        return self.status == "ResourceDeleted"


# --------------------------------------------------------------------------- rendering


def _dumps(value: Any, **kwargs: Any) -> str:
    """Compact JSON, as Config writes the strings inside its responses."""
    return json.dumps(value, default=_json_default, separators=(",", ":"), **kwargs)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return iso(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def iso(value: dt.datetime | None) -> str | None:
    """Config's timestamp text inside configuration documents: ``2026-11-29T18:00:00.000Z``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _supplementary_strings(supplementary: dict[str, Any]) -> dict[str, str]:
    return {k: _dumps(v) for k, v in supplementary.items()}


def base_item(item: RecordedItem) -> dict[str, Any]:
    """BatchGetResourceConfig's BaseConfigurationItem: configuration and supplementary values as strings."""
    state = item.state
    out: dict[str, Any] = {
        "version": CI_VERSION,
        "accountId": item.account_id,
        "configurationItemCaptureTime": item.capture_time,
        "configurationItemStatus": item.status,
        "configurationStateId": item.state_id,
        "arn": item.arn,
        "resourceType": item.resource_type,
        "resourceId": item.resource_id,
        "awsRegion": item.region,
        "availabilityZone": item.availability_zone,
        "configuration": _dumps(state.configuration) if state else None,
        "supplementaryConfiguration": _supplementary_strings(state.supplementary) if state else {},
        "recordingFrequency": "CONTINUOUS",
    }
    if item.resource_name is not None:
        out["resourceName"] = item.resource_name
    if item.created is not None:
        out["resourceCreationTime"] = item.created
    return {k: v for k, v in out.items() if v is not None}


def history_item(item: RecordedItem) -> dict[str, Any]:
    """GetResourceConfigHistory's ConfigurationItem: the base item plus tags, relationships, hash."""
    out = base_item(item)
    state = item.state
    out["configurationItemMD5Hash"] = ""
    out["tags"] = dict(state.tags) if state else {}
    out["relatedEvents"] = []
    out["relationships"] = list(state.relationships) if state else []
    return out


def query_document(item: RecordedItem) -> dict[str, Any]:
    """The document advanced queries select from: configuration and supplementary values as objects."""
    state = item.state
    doc: dict[str, Any] = {
        "version": CI_VERSION,
        "accountId": item.account_id,
        "configurationItemCaptureTime": iso(item.capture_time),
        "configurationItemStatus": item.status,
        "configurationStateId": item.state_id,
        "arn": item.arn,
        "resourceType": item.resource_type,
        "resourceId": item.resource_id,
        "resourceName": item.resource_name,
        "awsRegion": item.region,
        "availabilityZone": item.availability_zone,
        "resourceCreationTime": iso(item.created),
        "tags": [{"key": k, "value": v, "tag": f"{k}={v}"} for k, v in sorted((state.tags if state else {}).items())],
        "relationships": list(state.relationships) if state else [],
        "configuration": json.loads(_dumps(state.configuration)) if state else {},
        "supplementaryConfiguration": json.loads(_dumps(state.supplementary)) if state else {},
    }
    return {k: v for k, v in doc.items() if v is not None}


# --------------------------------------------------------------------------- builders per resource type


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    """An attribute of a moto model, or the default (some moto properties raise on read)."""
    try:
        return getattr(obj, name, default)
    except Exception:
        return default


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]


def _ec2_tags(resource: Any) -> dict[str, str]:
    try:
        return {t["key"]: t["value"] for t in resource.get_tags()}
    except Exception:  # moto keeps tags on the backend; a resource without that helper simply has none
        return {}


def _to_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _s3_encryption(raw: Any) -> dict[str, Any] | None:
    """moto keeps the parsed XML of PutBucketEncryption; Config shows it as ``{"rules": [...]}``."""
    if not raw:
        return None
    rules = raw.get("Rule") if isinstance(raw, dict) else None
    if rules is None:
        return None
    out = []
    for rule in rules if isinstance(rules, list) else [rules]:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        out.append(
            {
                "applyServerSideEncryptionByDefault": {
                    "sseAlgorithm": default.get("SSEAlgorithm"),
                    "kmsMasterKeyID": default.get("KMSMasterKeyID") or None,
                },
                "bucketKeyEnabled": _bool(rule.get("BucketKeyEnabled", False)),
            }
        )
    return {"rules": out}


def s3_buckets(account_id: str, region: str) -> Iterator[ResourceState]:
    backend = backends.s3_backend(account_id)
    owner = backends.s3_owner_id()
    for bucket in list(backend.buckets.values()):
        if _attr(bucket, "region_name", region) != region:
            continue  # Config records a bucket in the region that holds it
        name = bucket.name
        try:
            tags = {t["Key"]: t["Value"] for t in backend.get_bucket_tagging(name).get("Tags", [])}
        except Exception:
            tags = {}
        acl = bucket.acl.to_config_dict() if _attr(bucket, "acl", None) else {"grantSet": None, "owner": {}}
        logging_cfg = _attr(bucket, "logging", None) or {}
        policy = _attr(bucket, "policy", None)
        supplementary: dict[str, Any] = {
            # A JSON string inside the JSON string: AWS encodes this one twice.
            "AccessControlList": _dumps(acl),
            "BucketAccelerateConfiguration": {"status": _attr(bucket, "accelerate_configuration", None)},
            "BucketLoggingConfiguration": {
                "destinationBucketName": logging_cfg.get("TargetBucket"),
                "logFilePrefix": logging_cfg.get("TargetPrefix"),
            },
            "BucketNotificationConfiguration": {"configurations": {}},
            "BucketPolicy": {"policyText": policy.decode() if isinstance(policy, bytes) else policy},
            "BucketVersioningConfiguration": {
                "status": _attr(bucket, "versioning_status", None) or "Off",
                "isMfaDeleteEnabled": None,
            },
            "IsRequesterPaysEnabled": _attr(bucket, "payer", "BucketOwner") == "Requester",
        }
        encryption = _s3_encryption(_attr(bucket, "encryption", None))
        if encryption:
            supplementary["ServerSideEncryptionConfiguration"] = encryption
        pab = _attr(bucket, "public_access_block", None)
        if pab is not None:
            supplementary["PublicAccessBlockConfiguration"] = pab.to_config_dict()
        if tags:
            supplementary["BucketTaggingConfiguration"] = {"tagSets": [{"tags": dict(tags)}]}
        rules = _attr(bucket, "rules", None)
        if rules:
            supplementary["BucketLifecycleConfiguration"] = {"rules": [r.to_config_dict() for r in rules]}
        created = _to_datetime(_attr(bucket, "creation_date", None))
        yield ResourceState(
            resource_type=S3_BUCKET,
            resource_id=name,
            resource_name=name,
            arn=f"arn:aws:s3:::{name}",
            region=region,
            availability_zone="Regional",
            created=created,
            configuration={
                "name": name,
                "owner": {"displayName": None, "id": owner},
                "creationDate": iso(created),
            },
            supplementary=supplementary,
            tags=tags,
        )


def rds_instances(account_id: str, region: str) -> Iterator[ResourceState]:
    backend = backends.rds_backend(account_id, region)
    for db in list(backend.databases.values()):
        if _attr(db, "status", "available") == "deleted":
            continue
        tags = {t["Key"]: t["Value"] for t in _attr(db, "tags", []) or [] if "Key" in t}
        sg_ids = list(_attr(db, "vpc_security_group_ids", []) or [])
        multi_az = bool(_attr(db, "multi_az", False))
        az = _attr(db, "availability_zone", None)
        configuration = {
            "dBInstanceIdentifier": db.db_instance_identifier,
            "dBInstanceClass": _attr(db, "db_instance_class", None),
            "engine": _attr(db, "engine", None),
            "dBInstanceStatus": _attr(db, "status", "available"),
            "masterUsername": _attr(db, "master_username", None),
            "dBName": _attr(db, "db_name", None),
            "endpoint": {
                "address": _attr(db, "address", None),
                "port": _attr(db, "port", None),
                "hostedZoneId": "Z24O6O9L7SGTNB",
            },
            "allocatedStorage": _attr(db, "allocated_storage", None),
            "instanceCreateTime": iso(_to_datetime(_attr(db, "instance_create_time", None))),
            "preferredBackupWindow": _attr(db, "preferred_backup_window", None),
            "backupRetentionPeriod": int(_attr(db, "backup_retention_period", 0) or 0),
            "dBSecurityGroups": [],
            "vpcSecurityGroups": [{"vpcSecurityGroupId": g, "status": "active"} for g in sg_ids],
            "dBSubnetGroup": {"dBSubnetGroupName": _attr(db, "_db_subnet_group_name")}
            if _attr(db, "_db_subnet_group_name")
            else None,
            "availabilityZone": az,
            "preferredMaintenanceWindow": _attr(db, "preferred_maintenance_window", None),
            "pendingModifiedValues": {},
            "multiAZ": multi_az,
            "engineVersion": _attr(db, "engine_version", None),
            "autoMinorVersionUpgrade": _bool(_attr(db, "auto_minor_version_upgrade", True)),
            "readReplicaSourceDBInstanceIdentifier": _attr(db, "source_db_instance_identifier", None),
            "readReplicaDBInstanceIdentifiers": list(_attr(db, "replicas", []) or []),
            "licenseModel": _attr(db, "license_model", None),
            # AWS always answers a boolean; moto keeps None when the request did not say.
            "publiclyAccessible": bool(_attr(db, "publicly_accessible", False)),
            "storageType": _attr(db, "storage_type", None),
            "dbInstancePort": 0,
            "storageEncrypted": bool(_attr(db, "storage_encrypted", False)),
            "kmsKeyId": _attr(db, "kms_key_id", None),
            "dbiResourceId": db.dbi_resource_id,
            "cACertificateIdentifier": _attr(db, "ca_certificate_identifier", None),
            "copyTagsToSnapshot": bool(_attr(db, "copy_tags_to_snapshot", False)),
            "monitoringInterval": _attr(db, "monitoring_interval", 0),
            "dBInstanceArn": db.db_instance_arn,
            "iAMDatabaseAuthenticationEnabled": bool(_attr(db, "enable_iam_database_authentication", False)),
            "deletionProtection": bool(_attr(db, "deletion_protection", False)),
        }
        relationships = [
            {
                "resourceType": EC2_SECURITY_GROUP,
                "resourceId": g,
                "relationshipName": "Is associated with SecurityGroup",
            }
            for g in sg_ids
        ]
        yield ResourceState(
            resource_type=RDS_DB_INSTANCE,
            resource_id=db.dbi_resource_id,
            resource_name=db.db_instance_identifier,
            arn=db.db_instance_arn,
            region=region,
            availability_zone="Multiple Availability Zones" if multi_az else az,
            created=_to_datetime(_attr(db, "instance_create_time", None)),
            configuration={k: v for k, v in configuration.items() if v is not None},
            tags=tags,
            relationships=relationships,
        )


def ec2_instances(account_id: str, region: str) -> Iterator[ResourceState]:
    backend = backends.ec2_backend(account_id, region)
    for reservation in list(backend.reservations.values()):
        for inst in list(reservation.instances):
            state = _attr(inst, "_state", None)
            state_name = _attr(state, "name", "running")
            if state_name == "terminated":
                continue  # Config records a terminated instance as deleted
            mo = _attr(inst, "metadata_options", None)
            groups = [{"groupName": g.name, "groupId": g.id} for g in _attr(inst, "security_groups", []) or []]
            tags = _ec2_tags(inst)
            zone = _attr(_attr(inst, "placement", None), "zone", None)
            configuration = {
                "amiLaunchIndex": _attr(inst, "ami_launch_index", 0),
                "imageId": _attr(inst, "image_id", None),
                "instanceId": inst.id,
                "instanceType": _attr(inst, "instance_type", None),
                "keyName": _attr(inst, "key_name", None),
                "launchTime": iso(_to_datetime(_attr(inst, "launch_time", None))),
                "monitoring": {"state": _attr(inst, "monitoring_state", "disabled")},
                "placement": {"availabilityZone": zone, "groupName": "", "tenancy": "default"},
                "privateIpAddress": _attr(inst, "private_ip", None),
                "publicIpAddress": _attr(inst, "public_ip", None),
                "state": {"code": _attr(state, "code", 16), "name": state_name},
                "subnetId": _attr(inst, "subnet_id", None),
                "vpcId": _attr(inst, "vpc_id", None) or _subnet_vpc(backend, _attr(inst, "subnet_id", None)),
                "architecture": _attr(inst, "architecture", "x86_64"),
                "ebsOptimized": _bool(_attr(inst, "ebs_optimized", False)),
                "rootDeviceName": _attr(inst, "root_device_name", "/dev/sda1"),
                "rootDeviceType": "ebs",
                "securityGroups": groups,
                "sourceDestCheck": _bool(_attr(inst, "source_dest_check", "true")),
                "tags": _tag_list(tags),
                "virtualizationType": _attr(inst, "virtualization_type", "hvm"),
                "metadataOptions": {
                    "state": _attr(mo, "state", "applied"),
                    "httpTokens": _attr(mo, "http_tokens", "optional"),
                    "httpPutResponseHopLimit": _attr(mo, "http_put_response_hop_limit", 1),
                    "httpEndpoint": _attr(mo, "http_endpoint", "enabled"),
                    "httpProtocolIpv6": _attr(mo, "http_protocol_ipv6", "disabled"),
                    "instanceMetadataTags": _attr(mo, "instance_metadata_tags", "disabled"),
                },
            }
            relationships = [
                {
                    "resourceType": EC2_SECURITY_GROUP,
                    "resourceId": g["groupId"],
                    "relationshipName": "Is associated with SecurityGroup",
                }
                for g in groups
            ]
            if configuration["subnetId"]:
                relationships.append(
                    {
                        "resourceType": "AWS::EC2::Subnet",
                        "resourceId": configuration["subnetId"],
                        "relationshipName": "Is contained in Subnet",
                    }
                )
            if configuration["vpcId"]:
                relationships.append(
                    {
                        "resourceType": EC2_VPC,
                        "resourceId": configuration["vpcId"],
                        "relationshipName": "Is contained in Vpc",
                    }
                )
            yield ResourceState(
                resource_type=EC2_INSTANCE,
                resource_id=inst.id,
                resource_name=None,
                arn=f"arn:aws:ec2:{region}:{account_id}:instance/{inst.id}",
                region=region,
                availability_zone=zone,
                created=_to_datetime(_attr(inst, "launch_time", None)),
                configuration={k: v for k, v in configuration.items() if v is not None},
                tags=tags,
                relationships=relationships,
            )


def _subnet_vpc(backend: Any, subnet_id: str | None) -> str | None:
    if not subnet_id:
        return None
    try:
        return str(backend.get_subnet(subnet_id).vpc_id)
    except Exception:
        return None


def _permissions(views: list[Any]) -> list[dict[str, Any]]:
    """moto's grouped rule views → Config's ipPermissions (ipRanges and ipv4Ranges both, as AWS does)."""
    out = []
    for view in views:
        protocol = str(view.ip_protocol) if view.ip_protocol is not None else "-1"
        v4 = [r for r in view.ip_ranges]
        v6 = [r for r in view.ipv6_ranges]
        perm: dict[str, Any] = {
            "ipProtocol": protocol,
            "ipv6Ranges": [
                {"cidrIpv6": r["CidrIpv6"], **({"description": r["Description"]} if r.get("Description") else {})}
                for r in v6
            ],
            "prefixListIds": [{"prefixListId": p.get("PrefixListId")} for p in view.prefix_list_ids],
            "userIdGroupPairs": [
                {"groupId": p.get("GroupId"), "userId": p.get("UserId"), "groupName": p.get("GroupName")}
                for p in view.user_id_group_pairs
            ],
            "ipv4Ranges": [
                {"cidrIp": r["CidrIp"], **({"description": r["Description"]} if r.get("Description") else {})}
                for r in v4
            ],
            "ipRanges": [r["CidrIp"] for r in v4],
        }
        perm["userIdGroupPairs"] = [{k: v for k, v in p.items() if v is not None} for p in perm["userIdGroupPairs"]]
        if protocol != "-1":
            perm["fromPort"] = view.from_port
            perm["toPort"] = view.to_port
        out.append(perm)
    return out


def security_groups(account_id: str, region: str) -> Iterator[ResourceState]:
    backend = backends.ec2_backend(account_id, region)
    for groups in list(backend.groups.values()):
        for group in list(groups.values()):
            tags = _ec2_tags(group)
            configuration = {
                "description": group.description,
                "groupName": group.name,
                "ipPermissions": _permissions(group.ip_permissions),
                "ownerId": account_id,
                "groupId": group.id,
                "ipPermissionsEgress": _permissions(group.ip_permissions_egress),
                "tags": _tag_list(tags),
                "vpcId": group.vpc_id,
            }
            relationships = []
            if group.vpc_id:
                relationships.append(
                    {"resourceType": EC2_VPC, "resourceId": group.vpc_id, "relationshipName": "Is contained in Vpc"}
                )
            yield ResourceState(
                resource_type=EC2_SECURITY_GROUP,
                resource_id=group.id,
                resource_name=group.name,
                arn=f"arn:aws:ec2:{region}:{account_id}:security-group/{group.id}",
                region=region,
                availability_zone="Not Applicable",
                created=None,
                configuration=configuration,
                tags=tags,
                relationships=relationships,
            )


def vpcs(account_id: str, region: str) -> Iterator[ResourceState]:
    backend = backends.ec2_backend(account_id, region)
    for vpc in list(backend.vpcs.values()):
        tags = _ec2_tags(vpc)
        associations = []
        try:
            for assoc in vpc.get_cidr_block_association_set():
                associations.append(
                    {
                        "associationId": assoc.get("association_id"),
                        "cidrBlock": assoc.get("cidr_block"),
                        "cidrBlockState": {"state": assoc.get("cidr_block_state", {}).get("state", "associated")},
                    }
                )
        except Exception:
            associations = []
        dhcp = _attr(vpc, "dhcp_options", None)
        configuration = {
            "cidrBlock": vpc.cidr_block,
            "dhcpOptionsId": _attr(dhcp, "id", None) or "default",
            "state": _attr(vpc, "state", "available"),
            "vpcId": vpc.id,
            "ownerId": account_id,
            "instanceTenancy": _attr(vpc, "instance_tenancy", "default"),
            "ipv6CidrBlockAssociationSet": [],
            "cidrBlockAssociationSet": associations,
            "isDefault": bool(_attr(vpc, "is_default", False)),
            "tags": _tag_list(tags),
        }
        yield ResourceState(
            resource_type=EC2_VPC,
            resource_id=vpc.id,
            resource_name=None,
            arn=f"arn:aws:ec2:{region}:{account_id}:vpc/{vpc.id}",
            region=region,
            availability_zone="Multiple Availability Zones",
            created=None,
            configuration=configuration,
            tags=tags,
        )


def flow_logs(account_id: str, region: str) -> Iterator[ResourceState]:
    backend = backends.ec2_backend(account_id, region)
    for fl in list(_attr(backend, "flow_logs", {}).values()):
        tags = _ec2_tags(fl)
        destination_type = _attr(fl, "log_destination_type", None) or "cloud-watch-logs"
        configuration = {
            "creationTime": iso(_to_datetime(_attr(fl, "creation_time", None))),
            "deliverLogsErrorMessage": _attr(fl, "deliver_logs_error_message", None),
            "deliverLogsPermissionArn": _attr(fl, "deliver_logs_permission_arn", None),
            "deliverLogsStatus": _attr(fl, "deliver_logs_status", None) or "SUCCESS",
            "flowLogId": fl.id,
            "flowLogStatus": _attr(fl, "flow_log_status", "ACTIVE"),
            "logGroupName": _attr(fl, "log_group_name", None),
            "resourceId": fl.resource_id,
            "trafficType": fl.traffic_type,
            "logDestinationType": destination_type,
            "logDestination": _attr(fl, "log_destination", None),
            "logFormat": _attr(fl, "log_format", None)
            or "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
            "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}",
            "tags": _tag_list(tags),
            "maxAggregationInterval": int(_attr(fl, "max_aggregation_interval", 600) or 600),
        }
        relationships = []
        if str(fl.resource_id).startswith("vpc-"):
            relationships.append(
                {"resourceType": EC2_VPC, "resourceId": fl.resource_id, "relationshipName": "Is associated with Vpc"}
            )
        yield ResourceState(
            resource_type=EC2_FLOW_LOG,
            resource_id=fl.id,
            resource_name=None,
            arn=f"arn:aws:ec2:{region}:{account_id}:vpc-flow-log/{fl.id}",
            region=region,
            availability_zone="Not Applicable",
            created=_to_datetime(_attr(fl, "creation_time", None)),
            configuration={k: v for k, v in configuration.items() if v is not None},
            tags=tags,
            relationships=relationships,
        )


_SYMMETRIC = "SYMMETRIC_DEFAULT"


def kms_keys(account_id: str, region: str) -> Iterator[ResourceState]:
    backend = backends.kms_backend(account_id, region)
    for key in list(backend.keys.values()):
        created = _to_datetime(_attr(key, "creation_date", None))
        spec = _attr(key, "key_spec", _SYMMETRIC) or _SYMMETRIC
        usage = _attr(key, "key_usage", "ENCRYPT_DECRYPT")
        manager = _attr(key, "key_manager", "CUSTOMER")
        try:
            tags = {t["TagKey"]: t["TagValue"] for t in backend.list_resource_tags(key.id).get("Tags", [])}
        except Exception:
            tags = {}
        configuration = {
            "keyId": key.id,
            "arn": key.arn,
            "awsaccountId": account_id,
            "creationDate": iso(created),
            "enabled": bool(_attr(key, "enabled", True)),
            "description": _attr(key, "description", ""),
            "keyUsage": usage,
            "keyState": _attr(key, "key_state", "Enabled"),
            "origin": _attr(key, "origin", "AWS_KMS"),
            "keyManager": manager,
            "customerMasterKeySpec": spec,
            "keySpec": spec,
            "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"] if spec == _SYMMETRIC else [],
            "signingAlgorithms": [],
            "multiRegion": bool(_attr(key, "multi_region", False)),
        }
        deletion = _attr(key, "deletion_date", None)
        if deletion:
            configuration["deletionDate"] = iso(_to_datetime(deletion))
        rotation = True if manager == "AWS" else bool(_attr(key, "key_rotation_status", False))
        yield ResourceState(
            resource_type=KMS_KEY,
            resource_id=key.id,
            resource_name=key.id,
            arn=key.arn,
            region=region,
            availability_zone="Regional",
            created=created,
            configuration=configuration,
            supplementary={"KeyRotationStatus": rotation},
            tags=tags,
        )


def cloudtrail_trails(account_id: str, region: str) -> Iterator[ResourceState]:
    backend = backends.cloudtrail_backend(account_id, region)
    for trail in list(backend.trails.values()):
        if _attr(trail, "region_name", region) != region:
            continue  # a multi-region trail is one resource, recorded in its home region
        name = trail.trail_name
        try:
            topic_arn = trail.topic_arn
        except Exception:
            topic_arn = None
        configuration = {
            "name": name,
            "s3BucketName": _attr(trail, "bucket_name", None),
            "s3KeyPrefix": _attr(trail, "s3_key_prefix", None),
            "snsTopicName": _attr(trail, "sns_topic_name", None),
            "snsTopicARN": topic_arn,
            "includeGlobalServiceEvents": bool(_attr(trail, "include_global_service_events", True)),
            "isMultiRegionTrail": bool(_attr(trail, "is_multi_region", False)),
            "homeRegion": region,
            "trailARN": trail.arn,
            "logFileValidationEnabled": bool(_attr(trail, "log_validation", False)),
            "cloudWatchLogsLogGroupArn": _attr(trail, "cw_log_group_arn", None),
            "cloudWatchLogsRoleArn": _attr(trail, "cw_role_arn", None),
            "kmsKeyId": _attr(trail, "kms_key_id", None),
            "hasCustomEventSelectors": bool(_attr(trail, "event_selectors", None)),
            "hasInsightSelectors": bool(_attr(trail, "insight_selectors", None)),
            "isOrganizationTrail": bool(_attr(trail, "is_org_trail", False)),
        }
        yield ResourceState(
            resource_type=CLOUDTRAIL_TRAIL,
            resource_id=name,
            resource_name=name,
            arn=trail.arn,
            region=region,
            availability_zone="Regional",
            created=None,
            configuration={k: v for k, v in configuration.items() if v is not None},
        )


BUILDERS: dict[str, Callable[[str, str], Iterator[ResourceState]]] = {
    S3_BUCKET: s3_buckets,
    RDS_DB_INSTANCE: rds_instances,
    EC2_INSTANCE: ec2_instances,
    EC2_SECURITY_GROUP: security_groups,
    EC2_VPC: vpcs,
    EC2_FLOW_LOG: flow_logs,
    KMS_KEY: kms_keys,
    CLOUDTRAIL_TRAIL: cloudtrail_trails,
}

RECORDABLE_TYPES = frozenset(BUILDERS)


def current_resources(account_id: str, region: str, types: frozenset[str] | None = None) -> list[ResourceState]:
    """Every recordable resource of the account and region as it is now.

    moto's backends are plain dicts that other request threads may change while this reads them; a read
    that races with a write (``dictionary changed size during iteration``) is simply retried.
    """
    wanted = RECORDABLE_TYPES if types is None else RECORDABLE_TYPES & types
    out: list[ResourceState] = []
    for resource_type in sorted(wanted):
        for attempt in range(5):
            try:
                batch = list(BUILDERS[resource_type](account_id, region))
            except RuntimeError:
                if attempt == 4:
                    raise
                continue
            out.extend(batch)
            break
    return out


def ebs_encryption_by_default(account_id: str, region: str) -> bool:
    """The account-and-region setting EC2_EBS_ENCRYPTION_BY_DEFAULT checks (no configuration item)."""
    return bool(_attr(backends.ec2_backend(account_id, region), "ebs_encryption_by_default", False))


def snapshot_item(item: RecordedItem) -> dict[str, Any]:
    """The item as a rule's invoking event (and a delivered snapshot file) carries it: objects, ``ARN``."""
    state = item.state
    return {
        "relatedEvents": [],
        "relationships": list(state.relationships) if state else [],
        "configuration": json.loads(_dumps(state.configuration)) if state else None,
        "supplementaryConfiguration": json.loads(_dumps(state.supplementary)) if state else {},
        "tags": dict(state.tags) if state else {},
        "configurationItemVersion": CI_VERSION,
        "configurationItemCaptureTime": iso(item.capture_time),
        "configurationStateId": int(item.state_id),
        "awsAccountId": item.account_id,
        "configurationItemStatus": item.status,
        "resourceType": item.resource_type,
        "resourceId": item.resource_id,
        "resourceName": item.resource_name,
        "ARN": item.arn,
        "awsRegion": item.region,
        "availabilityZone": item.availability_zone,
        "configurationStateMd5Hash": "",
        "resourceCreationTime": iso(item.created),
    }
