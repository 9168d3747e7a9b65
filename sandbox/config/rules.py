"""AWS managed Config rules the project deploys, evaluated as the AWS Config developer guide documents them.

Each rule is a pure function from a resource (or the account) to a compliance type and an annotation.
Trigger types follow AWS: *configuration change* rules evaluate the recorded configuration item of a
resource each time a new item is recorded; *periodic* rules call the service APIs themselves (the
CMK rule needs ``kms:DescribeKey``, the EBS rule reads an account setting no item records), so they
evaluate the live state, and only when invoked: when the rule is created and on
StartConfigRulesEvaluation (the sandbox has no 24-hour clock). Choices where AWS documents nothing are
marked "sandbox choice" and listed in the report of issue 6.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.config import items as ci
from sandbox.config.items import ResourceState

COMPLIANT = "COMPLIANT"
NON_COMPLIANT = "NON_COMPLIANT"
NOT_APPLICABLE = "NOT_APPLICABLE"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"

Verdict = tuple[str, str | None]  # (compliance type, annotation)


@dataclass(frozen=True)
class Context:
    """What a periodic rule may look at besides the resource: the account and the region's resources."""

    account_id: str
    region: str
    resources: Mapping[str, list[ResourceState]]


ItemCheck = Callable[[ResourceState, Mapping[str, str], Context], Verdict]


@dataclass(frozen=True)
class ManagedRule:
    identifier: str
    resource_type: str  # the type evaluations are reported against
    periodic: bool
    check: ItemCheck | None = None  # per resource of resource_type
    account_check: Callable[[str, str, Mapping[str, str]], Verdict] | None = None  # AWS::::Account rules


def _supplementary(resource: ResourceState, key: str) -> Any:
    return resource.supplementary.get(key)


def _policy_denies_unencrypted_puts(policy_text: Any) -> bool:
    """The documented alternative to default encryption: a bucket policy that denies PutObject without SSE."""
    if not policy_text:
        return False
    try:
        policy = json.loads(policy_text) if isinstance(policy_text, str) else policy_text
    except ValueError:
        return False
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict) or st.get("Effect") != "Deny":
            continue
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("s3:PutObject", "s3:*", "*") for a in actions):
            continue
        condition = json.dumps(st.get("Condition", {})).lower()
        if "s3:x-amz-server-side-encryption" in condition:
            return True
    return False


def s3_sse(resource: ResourceState, _params: Mapping[str, str], _ctx: Context) -> Verdict:
    sse = _supplementary(resource, "ServerSideEncryptionConfiguration") or {}
    for rule in sse.get("rules") or []:
        if (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm"):
            return COMPLIANT, None
    policy = (_supplementary(resource, "BucketPolicy") or {}).get("policyText")
    if _policy_denies_unencrypted_puts(policy):
        return COMPLIANT, None
    return NON_COMPLIANT, "The bucket has no default encryption and its policy allows unencrypted uploads."


def s3_versioning(resource: ResourceState, params: Mapping[str, str], _ctx: Context) -> Verdict:
    cfg = _supplementary(resource, "BucketVersioningConfiguration") or {}
    if cfg.get("status") != "Enabled":
        return NON_COMPLIANT, f"Versioning is {cfg.get('status') or 'Off'}."
    if str(params.get("isMfaDeleteEnabled", "")).lower() == "true" and cfg.get("isMfaDeleteEnabled") is not True:
        return NON_COMPLIANT, "MFA delete is not enabled."
    return COMPLIANT, None


_PAB_FLAGS = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")


def s3_bucket_level_pab(resource: ResourceState, params: Mapping[str, str], _ctx: Context) -> Verdict:
    excluded = {b.strip() for b in str(params.get("excludedPublicBuckets", "")).split(",") if b.strip()}
    if resource.resource_id in excluded:
        return COMPLIANT, None  # the documented exception list
    pab = _supplementary(resource, "PublicAccessBlockConfiguration") or {}
    off = [flag for flag in _PAB_FLAGS if pab.get(flag) is not True]
    if off:
        return NON_COMPLIANT, f"Bucket-level public access block settings are off: {', '.join(off)}."
    return COMPLIANT, None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def db_backup(resource: ResourceState, params: Mapping[str, str], _ctx: Context) -> Verdict:
    cfg = resource.configuration
    is_replica = bool(cfg.get("readReplicaSourceDBInstanceIdentifier"))
    if is_replica and str(params.get("checkReadReplicas", "false")).lower() != "true":
        return NOT_APPLICABLE, None  # sandbox choice: replicas are checked only when asked
    period = _int(cfg.get("backupRetentionPeriod")) or 0
    if period <= 0:
        return NON_COMPLIANT, "Automated backups are disabled (backupRetentionPeriod 0)."
    exact = _int(params.get("backupRetentionPeriod"))
    if exact is not None and period != exact:
        return NON_COMPLIANT, f"backupRetentionPeriod is {period}, expected {exact}."
    minimum = _int(params.get("backupRetentionMinimum"))
    if minimum is not None and period < minimum:
        return NON_COMPLIANT, f"backupRetentionPeriod is {period}, below the minimum {minimum}."
    window = params.get("preferredBackupWindow")
    if window and cfg.get("preferredBackupWindow") != window:
        return NON_COMPLIANT, f"preferredBackupWindow is {cfg.get('preferredBackupWindow')}, expected {window}."
    return COMPLIANT, None


def rds_public_access(resource: ResourceState, _params: Mapping[str, str], _ctx: Context) -> Verdict:
    if resource.configuration.get("publiclyAccessible") is True:
        return NON_COMPLIANT, "publiclyAccessible is true."
    return COMPLIANT, None


def cmk_rotation(resource: ResourceState, _params: Mapping[str, str], _ctx: Context) -> Verdict:
    cfg = resource.configuration
    # Rotation exists only for customer managed, symmetric keys with AWS-generated material
    # (sandbox choice for what AWS does not spell out: everything else is NOT_APPLICABLE).
    if cfg.get("keyManager") != "CUSTOMER":
        return NOT_APPLICABLE, None
    if cfg.get("keySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT" or cfg.get("origin", "AWS_KMS") != "AWS_KMS":
        return NOT_APPLICABLE, None
    if cfg.get("keyState") in ("PendingDeletion", "PendingReplicaDeletion"):
        return NOT_APPLICABLE, None
    if str(_supplementary(resource, "KeyRotationStatus")).lower() == "true":
        return COMPLIANT, None
    return NON_COMPLIANT, "Automatic key rotation is not enabled."


def cloudtrail_validation(resource: ResourceState, _params: Mapping[str, str], _ctx: Context) -> Verdict:
    if resource.configuration.get("logFileValidationEnabled") is True:
        return COMPLIANT, None
    return NON_COMPLIANT, "Log file validation is not enabled."


def ebs_default_encryption(account_id: str, region: str, _params: Mapping[str, str]) -> Verdict:
    if ci.ebs_encryption_by_default(account_id, region):
        return COMPLIANT, None
    return NON_COMPLIANT, "EBS encryption by default is disabled in this Region."


def vpc_flow_logs(resource: ResourceState, params: Mapping[str, str], ctx: Context) -> Verdict:
    wanted = str(params.get("trafficType", "")).strip().upper()
    for fl in ctx.resources.get(ci.EC2_FLOW_LOG, []):
        cfg = fl.configuration
        if cfg.get("resourceId") != resource.resource_id or cfg.get("flowLogStatus", "ACTIVE") != "ACTIVE":
            continue
        traffic = str(cfg.get("trafficType", "")).upper()
        # Sandbox choice: a flow log of ALL traffic also satisfies ACCEPT or REJECT (it logs both).
        if not wanted or traffic in (wanted, "ALL"):
            return COMPLIANT, None
    suffix = f" with trafficType {wanted}" if wanted else ""
    return NON_COMPLIANT, f"No active flow log{suffix} for this VPC."


def imdsv2(resource: ResourceState, _params: Mapping[str, str], _ctx: Context) -> Verdict:
    tokens = (resource.configuration.get("metadataOptions") or {}).get("httpTokens")
    if tokens == "optional":
        return NON_COMPLIANT, "HttpTokens is optional (IMDSv1 allowed)."
    return COMPLIANT, None


MANAGED_RULES: dict[str, ManagedRule] = {
    r.identifier: r
    for r in (
        ManagedRule("S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED", ci.S3_BUCKET, False, s3_sse),
        ManagedRule("S3_BUCKET_VERSIONING_ENABLED", ci.S3_BUCKET, False, s3_versioning),
        ManagedRule("S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED", ci.S3_BUCKET, False, s3_bucket_level_pab),
        ManagedRule("DB_INSTANCE_BACKUP_ENABLED", ci.RDS_DB_INSTANCE, False, db_backup),
        ManagedRule("RDS_INSTANCE_PUBLIC_ACCESS_CHECK", ci.RDS_DB_INSTANCE, False, rds_public_access),
        ManagedRule("CMK_BACKING_KEY_ROTATION_ENABLED", ci.KMS_KEY, True, cmk_rotation),
        ManagedRule("CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED", ci.CLOUDTRAIL_TRAIL, True, cloudtrail_validation),
        ManagedRule("EC2_EBS_ENCRYPTION_BY_DEFAULT", ci.ACCOUNT, True, account_check=ebs_default_encryption),
        ManagedRule("VPC_FLOW_LOGS_ENABLED", ci.EC2_VPC, True, vpc_flow_logs),
        ManagedRule("EC2_IMDSV2_CHECK", ci.EC2_INSTANCE, False, imdsv2),
    )
}


def in_scope(rule: Any, resource: ResourceState) -> bool:
    """A rule's Scope: resource types, one resource id, a tag key (and value)."""
    scope = getattr(rule, "scope", None)
    if scope is None:
        return True
    types = getattr(scope, "compliance_resource_types", None)
    if types and resource.resource_type not in types:
        return False
    rid = getattr(scope, "compliance_resource_id", None)
    if rid and resource.resource_id != rid:
        return False
    tags = getattr(scope, "tags", None) or {}
    return all(key in resource.tags and (not value or resource.tags[key] == value) for key, value in tags.items())


def rule_parameters(rule: Any) -> dict[str, str]:
    params = getattr(rule, "input_parameters_dict", None) or {}
    return {str(k): "" if v is None else str(v) for k, v in params.items()}


def managed_rule(rule: Any) -> ManagedRule | None:
    source = getattr(rule, "source", None)
    if getattr(source, "owner", None) != "AWS":
        return None
    return MANAGED_RULES.get(getattr(source, "source_identifier", ""))


def is_periodic(rule: Any) -> bool:
    managed = managed_rule(rule)
    if managed is not None:
        return managed.periodic
    details = getattr(getattr(rule, "source", None), "source_details", None) or []
    return any(getattr(d, "message_type", "") == "ScheduledNotification" for d in details)


def is_change_triggered(rule: Any) -> bool:
    managed = managed_rule(rule)
    if managed is not None:
        return not managed.periodic
    details = getattr(getattr(rule, "source", None), "source_details", None) or []
    return any("ConfigurationItemChangeNotification" in str(getattr(d, "message_type", "")) for d in details)
