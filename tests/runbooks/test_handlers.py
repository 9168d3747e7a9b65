"""The runbooks' Python handlers and change steps, run against moto (in-process AWS) with every call recorded.

What is tested is the deployed text: scripts are exec'd from the YAML, their InputPayload is resolved from the
YAML, and each executeAwsApi change step is sent as written. The decisions that make a runbook safe:
a compliant resource gets no mutating call (not even a pre-state write), the pre-state is saved before the
change, rollback restores it exactly (and does nothing when the change never landed), an existing SSE-KMS
configuration is never overwritten, a longer backup retention is never shortened, the loop guard refuses at
its cap. Running whole executions (approval, timeouts, fault injection) belongs to the sandbox's engine tests.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore import xform_name
from moto import mock_aws

from sandbox import moto_fixes
from tests.runbooks.support import RunbookFile, load_runbook, payload, resolve, script_module

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"  # moto's default account
EVIDENCE = "drift-repair-evidence-test"
EXECUTION_ID = "0123abcd-0000-4000-8000-000000000001"
READ_ONLY = re.compile(r"^(Get|Describe|List|Head)")
SSE_S3 = {"SSEAlgorithm": "AES256"}
KMS_K1 = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k1"}
MOTO_AMI = "ami-12c6146b"  # one of moto's built-in images (listing them all is slow)


class RecordingBoto3:
    """Stands in for the ``boto3`` module inside a script: real (moto) clients, every API call recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def client(self, service: str, **kwargs: Any) -> Any:
        client = boto3.client(service, region_name=REGION, **kwargs)
        client.meta.events.register("before-call.*.*", self._record)
        return client

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append((model.service_model.endpoint_prefix, model.name))

    def mutating(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if not READ_ONLY.match(c[1])]

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingBoto3]:
    # The test session pins AWS_ENDPOINT_URL to a closed port; moto intercepts AWS's own endpoints only.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # Once a test served the sandbox in this process (tests/sandbox LocalSandbox), its moto fixes apply to every
    # in-process moto: keep S3 as moto has it here (buckets without default encryption, as before 2023).
    monkeypatch.setitem(moto_fixes.S3_DEFAULT_ENCRYPTION, "enabled", False)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=EVIDENCE, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield RecordingBoto3()


# ---------------------------------------------------------------------------------------------- cases


def _bucket(name: str = "app-data-bucket") -> dict[str, Any]:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return {"BucketName": name}


def _db(retention: int = 1, public: bool = True) -> dict[str, Any]:
    rds = boto3.client("rds", region_name=REGION)
    db = rds.create_db_instance(
        DBInstanceIdentifier="app-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
        BackupRetentionPeriod=retention,
        PubliclyAccessible=public,
    )["DBInstance"]
    return {"DbiResourceId": db["DbiResourceId"], "SavePreState.DBInstanceIdentifier": db["DBInstanceIdentifier"]}


def _key() -> dict[str, Any]:
    return {"KeyId": boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["KeyId"]}


def _trail() -> dict[str, Any]:
    _bucket("trail-logs-bucket")
    boto3.client("cloudtrail", region_name=REGION).create_trail(Name="org-trail", S3BucketName="trail-logs-bucket")
    return {"TrailName": "org-trail"}


def _ebs() -> dict[str, Any]:
    return {"AccountId": ACCOUNT}


def _instance() -> dict[str, Any]:
    ec2 = boto3.client("ec2", region_name=REGION)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, MetadataOptions={"HttpTokens": "optional"})[
        "Instances"
    ][0]
    return {"InstanceId": instance["InstanceId"]}


def _versioning_suspended() -> dict[str, Any]:
    values = _bucket()
    boto3.client("s3", region_name=REGION).put_bucket_versioning(
        Bucket=values["BucketName"], VersioningConfiguration={"Status": "Suspended"}
    )
    return values


def _partial_public_access_block() -> dict[str, Any]:
    values = _bucket()
    boto3.client("s3", region_name=REGION).put_public_access_block(
        Bucket=values["BucketName"],
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": False,
        },
    )
    return values


@dataclass(frozen=True)
class Case:
    id: str
    runbook: str
    setup: Callable[[], dict[str, Any]]  # creates the resource drifted; returns parameter (and output) values
    apply_step: str  # the change step to run (the branch's choice for these values)
    params: dict[str, Any] = field(default_factory=dict)
    exact_rollback: bool = True


CASES = [
    Case("s3-encryption", "DriftRepair-S3-EnableEncryption", _bucket, "ApplyEncryptionSseS3"),
    Case("s3-encryption-script", "DriftRepair-S3-EnableEncryptionScript", _bucket, "ApplyEncryption"),
    Case("s3-versioning-never", "DriftRepair-S3-EnableVersioning", _bucket, "ApplyVersioning", exact_rollback=False),
    Case("s3-versioning-suspended", "DriftRepair-S3-EnableVersioning", _versioning_suspended, "ApplyVersioning"),
    Case("s3-public-access-none", "DriftRepair-S3-BlockPublicAccess", _bucket, "ApplyPublicAccessBlock"),
    Case(
        "s3-public-access-partial",
        "DriftRepair-S3-BlockPublicAccess",
        _partial_public_access_block,
        "ApplyPublicAccessBlock",
    ),
    Case(
        "rds-backup",
        "DriftRepair-RDS-EnableBackupRetention",
        _db,
        "ApplyBackupRetention",
        {"BackupRetentionPeriod": 7},
    ),
    Case("rds-public", "DriftRepair-RDS-DisablePublicAccess", _db, "ApplyDisablePublicAccess"),
    Case("kms-rotation", "DriftRepair-KMS-EnableKeyRotation", _key, "ApplyKeyRotation"),
    Case("cloudtrail-validation", "DriftRepair-CloudTrail-EnableLogFileValidation", _trail, "ApplyLogFileValidation"),
    Case("ebs-default", "DriftRepair-EC2-EnableEbsEncryptionByDefault", _ebs, "ApplyEbsEncryptionByDefault"),
    Case("imdsv2", "DriftRepair-EC2-RequireImdsV2", _instance, "ApplyRequireImdsV2"),
]


@dataclass
class Harness:
    """One runbook against one resource: resolve payloads from the YAML and run handlers and change steps."""

    rb: RunbookFile
    values: dict[str, Any]
    boto: RecordingBoto3

    def handler(self, step: str, **overrides: Any) -> Any:
        spec = self.rb.step(step)
        module = script_module(spec["inputs"]["Script"], boto3_module=self.boto)
        events = payload(self.rb, step, self.values) | overrides
        return getattr(module, spec["inputs"]["Handler"])(events, {})

    def module(self) -> Any:
        return script_module(self.rb.resource_script, boto3_module=self.boto)

    def events(self, step: str = "SavePreState") -> dict[str, Any]:
        return payload(self.rb, step, self.values)

    def apply(self, step: str) -> None:
        """Run a change step as Automation would: executeAwsApi as written, or the script's handler."""
        spec = self.rb.step(step)
        if spec["action"] == "aws:executeScript":
            self.handler(step)
            return
        inputs = dict(spec["inputs"])
        service, api = inputs.pop("Service"), inputs.pop("Api")
        params = resolve(inputs, self._lookup)
        getattr(self.boto.client(service), xform_name(api))(**params)

    def _lookup(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        return self.rb.parameters[name]["default"]


def _harness(case: Case, boto: RecordingBoto3) -> Harness:
    rb = load_runbook(case.runbook)
    values = {
        "EvidenceBucketName": EVIDENCE,
        "automation:EXECUTION_ID": EXECUTION_ID,
        "global:ACCOUNT_ID": ACCOUNT,
        "global:REGION": REGION,
        **case.setup(),
        **case.params,
    }
    return Harness(rb, values, boto)


def _saved(harness: Harness) -> dict[str, Any]:
    key = harness.events()["PreStateKey"]
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=EVIDENCE, Key=key)["Body"].read()
    return json.loads(body)


# ---------------------------------------------------------------------------------------------- every runbook


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_drifted_resource_is_detected_read_only_then_saved_changed_and_verified(
    case: Case, aws: RecordingBoto3
) -> None:
    h = _harness(case, aws)
    aws.reset()
    check = h.handler("SavePreState", SavePreState=False)  # what CheckCompliance runs
    assert check["Compliant"] is False
    assert check["ChangeNeeded"] is True
    assert check["PreStateKey"] == ""
    assert aws.mutating() == [], "the check never writes"

    saved = h.handler("SavePreState")
    assert saved["ChangeNeeded"] is True
    assert saved["PreStateKey"] == f"{h.events()['PreStateKey']}"
    assert saved["PreStateKey"].endswith(f"/{EXECUTION_ID}.json")
    assert aws.mutating() == [("s3", "PutObject")], "the only write before the change is the pre-state"
    document = _saved(h)
    assert document["state"] == json.loads(check["State"])
    assert document["runbook"] == case.runbook
    assert document["execution_id"] == EXECUTION_ID

    module = h.module()
    with pytest.raises(RuntimeError, match="not compliant"):
        module.verify(h.events(), {})
    h.apply(case.apply_step)
    module.verify(h.events(), {})


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_compliant_resource_gets_no_mutating_call_at_all(case: Case, aws: RecordingBoto3) -> None:
    h = _harness(case, aws)
    h.apply(case.apply_step)
    aws.reset()
    for save in (False, True):
        result = h.handler("SavePreState", SavePreState=save)
        assert result["Compliant"] is True
        assert result["ChangeNeeded"] is False
        assert result["PreStateKey"] == ""
    assert aws.mutating() == []


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rollback_restores_the_saved_pre_state_exactly(case: Case, aws: RecordingBoto3) -> None:
    h = _harness(case, aws)
    module = h.module()
    before, _ = module.read_state(h.events())
    key = h.handler("SavePreState")["PreStateKey"]
    h.apply(case.apply_step)
    assert module.read_state(h.events())[0] != before

    h.values["SavePreState.PreStateKey"] = key
    result = h.handler("Rollback")
    after, _ = module.read_state(h.events())
    assert result["Restored"] is True
    assert result["Exact"] is case.exact_rollback
    if case.exact_rollback:
        assert after == before
    else:  # S3 versioning: "never versioned" cannot come back; Suspended is the nearest state
        assert after == {"Status": "Suspended"}
        assert before == {"Status": None}

    h.values |= {"Rollback.Exact": result["Exact"]}
    with pytest.raises(RuntimeError, match="was restored"):
        h.handler("FailAfterRestore")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rollback_writes_nothing_when_the_change_never_landed(case: Case, aws: RecordingBoto3) -> None:
    h = _harness(case, aws)
    h.values["SavePreState.PreStateKey"] = h.handler("SavePreState")["PreStateKey"]
    aws.reset()
    result = h.handler("Rollback")
    assert result == {"Restored": False, "Exact": True, "State": result["State"]}
    assert aws.mutating() == []


# ---------------------------------------------------------------------------------------------- decisions


def _encrypt_with_kms(bucket: str, key_id: str) -> None:
    boto3.client("s3", region_name=REGION).put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}]
        },
    )


@pytest.mark.parametrize(
    "designed",
    [
        {"SSEAlgorithm": "AES256"},
        {"SSEAlgorithm": "aws:kms", "KMSMasterKeyId": "arn:aws:kms:ap-northeast-1:123456789012:key/other"},
        {"SSEAlgorithm": "aws:kms"},
    ],
    ids=["designed-sse-s3", "designed-other-key", "designed-aws-managed-key"],
)
def test_script_variant_never_overwrites_an_existing_kms_configuration(
    designed: dict[str, str], aws: RecordingBoto3
) -> None:
    case = Case("kms-kept", "DriftRepair-S3-EnableEncryptionScript", _bucket, "ApplyEncryption", designed)
    h = _harness(case, aws)
    existing = "arn:aws:kms:ap-northeast-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    _encrypt_with_kms(h.values["BucketName"], existing)
    aws.reset()
    assert h.handler("SavePreState")["Compliant"] is True
    result = h.handler("ApplyEncryption")  # even when run regardless of the check
    assert result["Changed"] is False
    assert aws.mutating() == []
    config = boto3.client("s3", region_name=REGION).get_bucket_encryption(Bucket=h.values["BucketName"])
    rule = config["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert rule == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": existing}


def test_script_variant_upgrades_sse_s3_to_the_designed_kms_key(aws: RecordingBoto3) -> None:
    key = "arn:aws:kms:ap-northeast-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    designed = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyId": key, "BucketKeyEnabled": True}
    h = _harness(Case("kms-up", "DriftRepair-S3-EnableEncryptionScript", _bucket, "ApplyEncryption", designed), aws)
    boto3.client("s3", region_name=REGION).put_bucket_encryption(
        Bucket=h.values["BucketName"],
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": SSE_S3}]},
    )
    assert h.handler("SavePreState")["ChangeNeeded"] is True
    assert h.handler("ApplyEncryption")["Changed"] is True
    config = boto3.client("s3", region_name=REGION).get_bucket_encryption(Bucket=h.values["BucketName"])
    rule = config["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    assert rule["BucketKeyEnabled"] is True


@pytest.mark.parametrize(
    ("current", "designed", "compliant"),
    [
        (None, SSE_S3, False),
        (SSE_S3, SSE_S3, True),
        (SSE_S3, {"SSEAlgorithm": "aws:kms"}, False),
        (KMS_K1, {"SSEAlgorithm": "aws:kms"}, True),
        (KMS_K1, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyId": "k1"}, True),
        (KMS_K1, {"SSEAlgorithm": "aws:kms", "KMSMasterKeyId": "k2"}, False),
        (KMS_K1, SSE_S3, False),
    ],
)
def test_api_variant_applies_the_design_algorithm_and_key(
    current: dict[str, str] | None, designed: dict[str, str], compliant: bool
) -> None:
    """The executeAwsApi variant repairs to the design (its asserts); its script agrees, for SavePreState."""
    module = script_module(load_runbook("DriftRepair-S3-EnableEncryption").resource_script)
    config = None if current is None else {"Rules": [{"ApplyServerSideEncryptionByDefault": current}]}
    state = {"ServerSideEncryptionConfiguration": config}
    assert module.is_compliant(state, {"KMSMasterKeyId": "", **designed}) is compliant


@pytest.mark.parametrize(("current", "compliant"), [(1, False), (6, False), (7, True), (14, True)])
def test_backup_retention_is_raised_to_the_minimum_and_never_shortened(
    current: int, compliant: bool, aws: RecordingBoto3
) -> None:
    case = Case("rds", "DriftRepair-RDS-EnableBackupRetention", lambda: _db(retention=current), "x", {})
    h = _harness(case, aws)
    aws.reset()
    result = h.handler("SavePreState")
    assert result["Compliant"] is compliant
    assert result["DBInstanceIdentifier"] == "app-db"
    assert (aws.mutating() == []) is compliant


def test_ebs_runbook_refuses_a_finding_for_another_account(aws: RecordingBoto3) -> None:
    case = Case("ebs", "DriftRepair-EC2-EnableEbsEncryptionByDefault", lambda: {"AccountId": "999999999999"}, "x")
    h = _harness(case, aws)
    with pytest.raises(RuntimeError, match="account 999999999999"):
        h.handler("SavePreState")
    assert aws.mutating() == []


# ---------------------------------------------------------------------------------------------- loop guard


class FakeS3:
    """Just enough of an S3 client for the loop guard: one page of listed objects."""

    def __init__(self, ages_hours: list[float]) -> None:
        now = dt.datetime.now(dt.UTC)
        self.objects = [{"Key": f"k{i}", "LastModified": now - dt.timedelta(hours=h)} for i, h in enumerate(ages_hours)]
        self.prefixes: list[str] = []

    def get_paginator(self, name: str) -> FakeS3:
        assert name == "list_objects_v2"
        return self

    def paginate(self, Bucket: str, Prefix: str) -> list[dict[str, Any]]:
        self.prefixes.append(Prefix)
        return [{"Contents": self.objects}] if self.objects else [{}]


class FakeBoto3:
    def __init__(self, s3: FakeS3) -> None:
        self.s3 = s3

    def client(self, service: str, **_: Any) -> FakeS3:
        assert service == "s3"
        return self.s3


def _loop_guard(ages: list[float], window: int, cap: int) -> tuple[dict[str, Any], FakeS3]:
    rb = load_runbook("DriftRepair-S3-EnableVersioning")
    s3 = FakeS3(ages)
    module = script_module(rb.step("LoopGuard")["inputs"]["Script"], boto3_module=FakeBoto3(s3))
    values = {"BucketName": "app-data-bucket", "EvidenceBucketName": EVIDENCE}
    events = payload(rb, "LoopGuard", values | {"LoopGuardWindowHours": window, "LoopGuardMaxPerWindow": cap})
    return module.loop_guard(events, {}), s3


def test_loop_guard_counts_only_this_resource_and_setting_inside_the_window() -> None:
    result, s3 = _loop_guard([1, 5, 30, 200], window=24, cap=3)
    assert result == {"RecentRemediations": 2, "Enforced": True}
    assert s3.prefixes == ["pre-state/s3-bucket/app-data-bucket/versioning/"]


def test_loop_guard_refuses_at_the_cap() -> None:
    with pytest.raises(RuntimeError, match="remediated 3 times in the last 24 h"):
        _loop_guard([1, 2, 3], window=24, cap=3)


def test_loop_guard_is_off_with_cap_zero() -> None:
    result, s3 = _loop_guard([1, 2, 3, 4], window=24, cap=0)
    assert result == {"RecentRemediations": 0, "Enforced": False}
    assert s3.prefixes == []
