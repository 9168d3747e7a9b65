"""The project's ten runbooks, each against a drifted resource in the running sandbox, through boto3 only.

Every test gets an AWS account of its own (a 12-digit access key names an account in the sandbox), set up
as the Terraform module deploys it (``sandbox.seed.turn_on_config``: recorder, the mappings' Config rules,
their remediation configurations, the runbooks, the evidence bucket). The runbook is started as the DAG
starts it: the remediation configuration's parameters resolved for the resource, the designed values
passed, and the DAG's principal (here: the test's) as the approver answering the ``aws:approve`` step with
SendAutomationSignal. So tests are independent without resetting the shared sandbox, and account-wide
settings (EBS encryption by default) cannot leak from one test into another.

Per runbook:

* drifted -> approved -> compliant by the Config rule's own evaluation and by the attribute (the Config
  item, through the mapping's path, and the service API); a re-run makes no mutating call at all;
* approval rejected -> Failed, nothing changed; approval timed out -> TimedOut, nothing changed;
* the change step failing all its attempts (fault injection) -> Rollback Success, execution Failed, the
  resource's Config item exactly as before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import pytest
from ssm_support import Runbooks, step_of, steps_status, unique

from drift_repair.core.config_items import parse_item
from drift_repair.core.environment import REPO_ROOT, load_environment
from drift_repair.core.mappings import MappingSet, ResourceMapping, load_mappings
from drift_repair.core.remediation import resolve_parameters
from sandbox import seed

pytestmark = pytest.mark.sandbox

MAPPINGS: MappingSet = load_mappings()
ALL_RESULTS = ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"]
# Config items: everything but the capture metadata (time, state id), which changes with every recording.
ITEM_STATE = ("configuration", "supplementaryConfiguration", "tags", "relationships")
# The approval's 86400 s shrunk to ~1 s (aws:approve's timeout only: see _approval_times_out).
APPROVAL_TIME_SCALE = 1 / 86400


# --------------------------------------------------------------------------- an account as the module deploys it


@dataclass
class Resource:
    """A drifted resource: its Config key, the id API calls (and so the call record) name, other ids."""

    config_type: str
    config_id: str
    call_id: str  # the id the call record and fault injection match (bucket, DB identifier, key id...)
    extra: dict[str, str] = field(default_factory=dict)


class Account:
    """A fresh account with Config on and the mappings' rules, remediation configurations and runbooks."""

    def __init__(self, sandbox: Any, config_type: str) -> None:
        self.sandbox = sandbox
        self.id = str(200_000_000_000 + uuid.uuid4().int % 700_000_000_000)
        dev = load_environment("dev")
        self.env = dataclasses.replace(
            dev, account_id=self.id, evidence_bucket=f"drift-repair-evidence-{self.id}-{dev.name}"
        )
        self.seeder = seed.Seeder(self.env, sandbox.url)
        self.rules = seed.turn_on_config(self.seeder, MAPPINGS, {config_type})
        # The sandbox names a caller arn:aws:iam::<account>:user/<access key>: the DAG's principal here.
        self.principal = f"arn:aws:iam::{self.id}:user/{self.id}"
        self.runbooks = Runbooks(sandbox, aws_access_key_id=self.id)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.sandbox.client(service, aws_access_key_id=self.id)
        return self._clients[service]

    def register(self, runbook: str) -> None:
        """A runbook no mapping names yet (the module deploys it all the same)."""
        text = (REPO_ROOT / "include" / "runbooks" / f"{runbook}.yaml").read_text(encoding="utf-8")
        self.client("ssm").create_document(Name=runbook, Content=text, DocumentType="Automation", DocumentFormat="YAML")

    # ------------------------------------------------------------------ Config

    def item(self, resource: Resource) -> dict[str, Any]:
        key = {"resourceType": resource.config_type, "resourceId": resource.config_id}
        found = self.client("config").batch_get_resource_config(resourceKeys=[key])["baseConfigurationItems"]
        assert len(found) == 1, f"no Config item for {key}"
        return found[0]  # type: ignore[no-any-return]

    def item_state(self, resource: Resource) -> dict[str, Any]:
        """The recorded state of the resource, parsed (supplementaryConfiguration values are JSON strings)."""
        parsed = parse_item(self.item(resource)).document()
        raw = self.item(resource)
        return {
            "configuration": parsed["configuration"],
            "supplementaryConfiguration": parsed["supplementaryConfiguration"],
            "tags": raw.get("tags"),
            "relationships": raw.get("relationships"),
        }

    def compliance(self, rule: str, resource: Resource, periodic: bool) -> str:
        """The rule's own evaluation of the resource (periodic rules run first, as an operator would)."""
        config = self.client("config")
        if periodic:
            config.start_config_rules_evaluation(ConfigRuleNames=[rule])
        results = config.get_compliance_details_by_config_rule(
            ConfigRuleName=rule, ComplianceTypes=ALL_RESULTS, Limit=100
        )["EvaluationResults"]
        for result in results:
            q = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            if (q["ResourceType"], q["ResourceId"]) == (resource.config_type, resource.config_id):
                return str(result["ComplianceType"])
        return "NO_RESULT"

    # ------------------------------------------------------------------ the call record

    def mutating_calls(self, since: str, resource: str | None = None) -> list[dict[str, Any]]:
        """Mutating calls in this account since ``since`` (on ``resource`` when given)."""
        query = f"/calls?since={since}" + (f"&resource={resource}" if resource else "")
        return [c for c in self.sandbox.admin("GET", query)["calls"] if c["accountId"] == self.id]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- the ten runbooks


@contextmanager
def _before_2023(sandbox: Any) -> Iterator[None]:
    """S3 as it was before default encryption (January 2023), for the whole block: new buckets have no
    default encryption and DeleteBucketEncryption removes it again. Since then every bucket has SSE-S3, so
    the managed rule s3-bucket-server-side-encryption-enabled can report a bucket NON_COMPLIANT only there.
    """
    sandbox.admin("POST", "/s3/default-encryption", {"enabled": False})
    try:
        yield
    finally:
        sandbox.admin("POST", "/s3/default-encryption", {"enabled": True})


def _bucket(account: Account) -> str:
    name = unique("drifted")
    account.client("s3").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": account.env.region}
    )
    return name


def _unencrypted_bucket(account: Account) -> Resource:
    name = _bucket(account)  # in the world before 2023 (Case.before_2023)
    return Resource("AWS::S3::Bucket", name, name)


def _suspended_versioning(account: Account) -> Resource:
    name = _bucket(account)
    account.client("s3").put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    account.client("s3").put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    return Resource("AWS::S3::Bucket", name, name)


def _public_access_partly_open(account: Account) -> Resource:
    name = _bucket(account)
    account.client("s3").put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    return Resource("AWS::S3::Bucket", name, name)


def _db(account: Account, **overrides: Any) -> Resource:
    name = unique("db")
    kwargs: dict[str, Any] = {
        "DBInstanceIdentifier": name,
        "DBInstanceClass": "db.t4g.medium",
        "Engine": "postgres",
        "AllocatedStorage": 20,
        "MasterUsername": "app",
        "MasterUserPassword": "sandbox-password-1",
        "BackupRetentionPeriod": 7,
        "PubliclyAccessible": False,
        **overrides,
    }
    rds = account.client("rds")
    rds.create_db_instance(**kwargs)
    dbi = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DbiResourceId"]
    return Resource("AWS::RDS::DBInstance", dbi, name)


def _short_backups(account: Account) -> Resource:
    return _db(account, BackupRetentionPeriod=1)


def _public_db(account: Account) -> Resource:
    return _db(account, PubliclyAccessible=True)


def _key_without_rotation(account: Account) -> Resource:
    key = account.client("kms").create_key(Description="drifted")["KeyMetadata"]["KeyId"]
    return Resource("AWS::KMS::Key", key, key)


def _trail_without_validation(account: Account) -> Resource:
    bucket = _bucket(account)
    name = unique("trail")
    cloudtrail = account.client("cloudtrail")
    arn = cloudtrail.create_trail(Name=name, S3BucketName=bucket, EnableLogFileValidation=False)["TrailARN"]
    cloudtrail.start_logging(Name=name)
    config_id = _config_id(account, "AWS::CloudTrail::Trail", name, arn)
    return Resource("AWS::CloudTrail::Trail", config_id, name)


def _config_id(account: Account, config_type: str, name: str, arn: str) -> str:
    """The id Config gives the resource (trails: by name or ARN, as the recorder lists them)."""
    listed = account.client("config").list_discovered_resources(resourceType=config_type)["resourceIdentifiers"]
    ids = [
        r["resourceId"] for r in listed if name in (r.get("resourceName"), r["resourceId"]) or r["resourceId"] == arn
    ]
    assert len(ids) == 1, listed
    return str(ids[0])


def _ebs_default_encryption_off(account: Account) -> Resource:
    account.client("ec2").disable_ebs_encryption_by_default()
    return Resource("AWS::::Account", account.id, account.id)


def _imdsv1_allowed(account: Account) -> Resource:
    ec2 = account.client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1, MetadataOptions={"HttpTokens": "optional"}
    )["Instances"][0]["InstanceId"]
    return Resource("AWS::EC2::Instance", instance, instance)


def _live_encryption(account: Account, r: Resource) -> Any:
    rules = account.client("s3").get_bucket_encryption(Bucket=r.call_id)["ServerSideEncryptionConfiguration"]["Rules"]
    return rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]


def _live_versioning(account: Account, r: Resource) -> Any:
    return account.client("s3").get_bucket_versioning(Bucket=r.call_id).get("Status")


def _live_public_access_block(account: Account, r: Resource) -> Any:
    return account.client("s3").get_public_access_block(Bucket=r.call_id)["PublicAccessBlockConfiguration"]


def _live_db(key: str) -> Callable[[Account, Resource], Any]:
    def read(account: Account, r: Resource) -> Any:
        return account.client("rds").describe_db_instances(DBInstanceIdentifier=r.call_id)["DBInstances"][0][key]

    return read


def _live_rotation(account: Account, r: Resource) -> Any:
    return account.client("kms").get_key_rotation_status(KeyId=r.call_id)["KeyRotationEnabled"]


def _live_validation(account: Account, r: Resource) -> Any:
    return account.client("cloudtrail").get_trail(Name=r.call_id)["Trail"]["LogFileValidationEnabled"]


def _live_ebs_default(account: Account, r: Resource) -> Any:
    return account.client("ec2").get_ebs_encryption_by_default()["EbsEncryptionByDefault"]


def _live_http_tokens(account: Account, r: Resource) -> Any:
    ec2 = account.client("ec2")
    instance = ec2.describe_instances(InstanceIds=[r.call_id])["Reservations"][0]["Instances"][0]
    return instance["MetadataOptions"]["HttpTokens"]


ALL_BLOCKED = {
    name: True for name in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
}


@dataclass(frozen=True)
class Case:
    runbook: str
    rule: str  # the mapping's Config rule whose remediation configuration starts the runbook
    drift: Callable[[Account], Resource]
    attributes: dict[str, Any]  # mapping attribute -> designed value (read from the Config item)
    live: Callable[[Account, Resource], Any]  # the attribute through the service API
    live_value: Any
    apply_step: str
    apply_api: str  # the operation the change step calls (fault injection target)
    fault: str = "InternalFailure"
    overrides: dict[str, list[str]] = field(default_factory=dict)  # designed values the DAG passes
    register: bool = False  # deployed by the module, named by no mapping
    before_2023: bool = False  # S3 without default encryption (see _before_2023)

    @property
    def mapping(self) -> ResourceMapping:
        return next(m for m in MAPPINGS.mappings if self.rule in m.rules)

    @property
    def periodic(self) -> bool:
        from sandbox.config.rules import MANAGED_RULES

        return MANAGED_RULES[self.mapping.rules[self.rule].source_identifier].periodic


CASES = [
    Case(
        "DriftRepair-S3-EnableEncryption",
        "s3-bucket-server-side-encryption-enabled",
        _unencrypted_bucket,
        {"sse_algorithm": "AES256"},
        _live_encryption,
        "AES256",
        "ApplyEncryptionSseS3",
        "PutBucketEncryption",
        fault="InternalError",
        overrides={"SSEAlgorithm": ["AES256"]},
        before_2023=True,
    ),
    Case(
        "DriftRepair-S3-EnableEncryptionScript",
        "s3-bucket-server-side-encryption-enabled",
        _unencrypted_bucket,
        {"sse_algorithm": "AES256"},
        _live_encryption,
        "AES256",
        "ApplyEncryption",
        "PutBucketEncryption",
        fault="InternalError",
        overrides={"SSEAlgorithm": ["AES256"]},
        register=True,
        before_2023=True,
    ),
    Case(
        "DriftRepair-S3-EnableVersioning",
        "s3-bucket-versioning-enabled",
        _suspended_versioning,
        {"versioning": "Enabled"},
        _live_versioning,
        "Enabled",
        "ApplyVersioning",
        "PutBucketVersioning",
        fault="InternalError",
    ),
    Case(
        "DriftRepair-S3-BlockPublicAccess",
        "s3-bucket-level-public-access-prohibited",
        _public_access_partly_open,
        {
            "block_public_acls": True,
            "ignore_public_acls": True,
            "block_public_policy": True,
            "restrict_public_buckets": True,
        },
        _live_public_access_block,
        ALL_BLOCKED,
        "ApplyPublicAccessBlock",
        "PutPublicAccessBlock",
        fault="InternalError",
    ),
    Case(
        "DriftRepair-RDS-EnableBackupRetention",
        "db-instance-backup-enabled",
        _short_backups,
        {"backup_retention_period": 7},
        _live_db("BackupRetentionPeriod"),
        7,
        "ApplyBackupRetention",
        "ModifyDBInstance",
        overrides={"BackupRetentionPeriod": ["7"]},
    ),
    Case(
        "DriftRepair-RDS-DisablePublicAccess",
        "rds-instance-public-access-check",
        _public_db,
        {"publicly_accessible": False},
        _live_db("PubliclyAccessible"),
        False,
        "ApplyDisablePublicAccess",
        "ModifyDBInstance",
    ),
    Case(
        "DriftRepair-KMS-EnableKeyRotation",
        "cmk-backing-key-rotation-enabled",
        _key_without_rotation,
        {"enable_key_rotation": True},
        _live_rotation,
        True,
        "ApplyKeyRotation",
        "EnableKeyRotation",
        fault="KMSInternalException",
    ),
    Case(
        "DriftRepair-CloudTrail-EnableLogFileValidation",
        "cloud-trail-log-file-validation-enabled",
        _trail_without_validation,
        {"enable_log_file_validation": True},
        _live_validation,
        True,
        "ApplyLogFileValidation",
        "UpdateTrail",
    ),
    Case(
        "DriftRepair-EC2-EnableEbsEncryptionByDefault",
        "ec2-ebs-encryption-by-default",
        _ebs_default_encryption_off,
        {},  # an account setting: Config records no item (the mapping reads the rule's result instead)
        _live_ebs_default,
        True,
        "ApplyEbsEncryptionByDefault",
        "EnableEbsEncryptionByDefault",
        fault="InternalError",
    ),
    Case(
        "DriftRepair-EC2-RequireImdsV2",
        "ec2-imdsv2-check",
        _imdsv1_allowed,
        {"http_tokens": "required"},
        _live_http_tokens,
        "required",
        "ApplyRequireImdsV2",
        "ModifyInstanceMetadataOptions",
        fault="InternalError",
    ),
]
IDS = [c.runbook.removeprefix("DriftRepair-") for c in CASES]


# --------------------------------------------------------------------------- one run of a case


@dataclass
class Run:
    case: Case
    account: Account
    resource: Resource

    @property
    def runbooks(self) -> Runbooks:
        return self.account.runbooks

    def parameters(self) -> dict[str, list[str]]:
        """What the DAG passes: the remediation configuration resolved for the resource, designed values, and
        its own principal as the approver."""
        config = self.account.client("config")
        configurations = config.describe_remediation_configurations(ConfigRuleNames=[self.case.rule])
        (configuration,) = configurations["RemediationConfigurations"]
        return resolve_parameters(
            configuration, self.resource.config_id, {**self.case.overrides, "Approvers": [self.account.principal]}
        )

    def start(self) -> str:
        return self.runbooks.start(self.case.runbook, self.parameters())

    def answer(self, execution_id: str, signal: str) -> dict[str, Any]:
        self.runbooks.wait_step(execution_id, "ApproveChange", ["Waiting"])
        self.runbooks.ssm.send_automation_signal(
            AutomationExecutionId=execution_id, SignalType=signal, Payload={"Comment": [f"{signal} by the test"]}
        )
        return self.runbooks.wait(execution_id)

    def state(self) -> Any:
        """What must not change when nothing is repaired: the Config item (or, for an account setting that
        Config records no item of, the setting through the service API)."""
        if self.case.attributes:
            return self.account.item_state(self.resource)
        return self.case.live(self.account, self.resource)

    def attributes(self) -> dict[str, Any]:
        """The mapped attributes as detection reads them off the Config item."""
        if not self.case.attributes:
            return {}
        document = parse_item(self.account.item(self.resource)).document()
        by_name = {a.name: a for a in self.case.mapping.attributes}
        return {name: by_name[name].config_path.get(document) for name in self.case.attributes}

    def compliance(self) -> str:
        return self.account.compliance(self.case.rule, self.resource, self.case.periodic)


@contextmanager
def _drifted(sandbox: Any, case: Case) -> Iterator[Run]:
    """A fresh account with the case's resource drifted, as the rule reports it."""
    with _before_2023(sandbox) if case.before_2023 else nullcontext():
        account = Account(sandbox, case.mapping.config_resource_type)
        if case.register:
            account.register(case.runbook)
        run = Run(case, account, case.drift(account))
        assert run.compliance() == "NON_COMPLIANT", "the drift is what the rule reports"
        yield run


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_drifted_resource_is_repaired_and_a_rerun_changes_nothing(sandbox: Any, case: Case) -> None:
    with _drifted(sandbox, case) as run:
        execution = run.answer(run.start(), "Approve")
        assert execution["AutomationExecutionStatus"] == "Success", _why(execution)
        assert step_of(execution, case.apply_step)["StepStatus"] == "Success"
        approval = step_of(execution, "ApproveChange")["Outputs"]
        assert approval["ApprovalStatus"] == ["Approved"]
        assert run.account.principal in approval["ApproverDecisions"][0]

        assert run.compliance() == "COMPLIANT"  # the Config rule's own evaluation
        assert run.attributes() == case.attributes  # the Config item, read as detection reads it
        assert case.live(run.account, run.resource) == case.live_value  # and the service itself
        changes = run.account.mutating_calls(_started(execution), run.resource.call_id)
        assert [c["operation"] for c in changes if c["outcome"] == "success"] == [case.apply_api]

        since = _now()
        rerun = run.runbooks.wait(run.start())
        assert rerun["AutomationExecutionStatus"] == "Success", _why(rerun)
        ran = {s["StepName"] for s in rerun["StepExecutions"] if s["StepStatus"] != "Pending"}
        assert "ApproveChange" not in ran and case.apply_step not in ran
        # No mutating call at all (not even to the evidence bucket): only the test's StartAutomationExecution.
        assert [c["operation"] for c in run.account.mutating_calls(since)] == ["StartAutomationExecution"]
        assert run.compliance() == "COMPLIANT"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_rejected_approval_changes_nothing(sandbox: Any, case: Case) -> None:
    with _drifted(sandbox, case) as run:
        before, since = run.state(), _now()
        execution = run.answer(run.start(), "Reject")
        assert execution["AutomationExecutionStatus"] == "Failed", _why(execution)
        assert step_of(execution, "ApproveChange")["StepStatus"] == "Failed"
        assert step_of(execution, "SavePreState")["StepStatus"] == "Pending"
        _assert_unchanged(run, before, since)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_an_approval_timeout_changes_nothing(sandbox: Any, case: Case) -> None:
    with _drifted(sandbox, case) as run:
        before, since = run.state(), _now()
        execution = _approval_times_out(run)
        assert execution["AutomationExecutionStatus"] == "TimedOut", _why(execution)
        assert step_of(execution, "ApproveChange")["StepStatus"] == "TimedOut"
        assert step_of(execution, "SavePreState")["StepStatus"] == "Pending"
        _assert_unchanged(run, before, since)


def _approval_times_out(run: Run) -> dict[str, Any]:
    """Run until the approval times out, its 86400 s shrunk to ~1 s by the sandbox's clock.

    The engine fixes a step's deadline when the step starts, at the clock's scale of that moment; the steps
    before the approval (scripts, whose 600 s limit must not shrink with it) run at the normal scale. The
    loop guard's S3 listing is held back a little (a latency fault), so the scale is switched while the loop
    guard runs: the approval step, next, starts at the small scale.
    """
    sandbox = run.account.sandbox
    hold = {"operation": "ListObjectsV2", "resource": run.account.env.evidence_bucket, "latency_ms": 1000}
    (fault,) = sandbox.admin("POST", "/faults", hold)["ids"]
    try:
        execution_id = run.start()
        run.runbooks.wait_step(execution_id, "LoopGuard", ["InProgress"])
        with run.runbooks.time_scale(APPROVAL_TIME_SCALE):
            assert step_of(run.runbooks.get(execution_id), "ApproveChange")["StepStatus"] == "Pending"
            return run.runbooks.wait(execution_id, timeout=30)
    finally:
        sandbox.admin("DELETE", "/faults", {"id": fault})


# How the change step fails: AWS refuses the call (nothing changes), or the change lands and the caller still
# sees the error (a 5xx after the fact, a lost response), so the rollback has something to undo.
REFUSED, LANDED = "refused", "landed"
ROLLBACK_CASES = [
    pytest.param(case, mode, id=f"{mode}-{case_id}")
    for mode in (REFUSED, LANDED)
    for case, case_id in zip(CASES, IDS, strict=True)
    # The script variant re-reads before it writes: its second attempt finds the landed change and succeeds
    # (test_the_script_variant_retries_into_a_change_that_landed).
    if not (mode == LANDED and case.runbook == "DriftRepair-S3-EnableEncryptionScript")
]


@pytest.mark.parametrize(("case", "mode"), ROLLBACK_CASES)
def test_a_failed_change_is_rolled_back_exactly(sandbox: Any, case: Case, mode: str) -> None:
    with _drifted(sandbox, case) as run, _failing(run, mode) as fault:
        before = run.state()
        execution = run.answer(run.start(), "Approve")
        assert execution["AutomationExecutionStatus"] == "Failed", _why(execution)
        apply = step_of(execution, case.apply_step)
        assert apply["StepStatus"] == "Failed" and case.fault in apply["FailureMessage"]
        rollback = step_of(execution, "Rollback")
        assert rollback["StepStatus"] == "Success", _why(execution)
        assert rollback["Outputs"]["Restored"] == [str(mode == LANDED).lower()]  # nothing to undo when nothing landed
        assert rollback["Outputs"]["Exact"] == ["true"]
        assert step_of(execution, "FailAfterRestore")["StepStatus"] == "Failed"
        assert fault() == 3  # the change step's maxAttempts

        assert run.state() == before  # the pre-state, exactly: the Config item before == after
        calls = run.account.mutating_calls(_started(execution), run.resource.call_id)
        assert [(c["operation"], c["errorCode"]) for c in calls[:3]] == [(case.apply_api, case.fault)] * 3
        assert len(calls) == (3 if mode == REFUSED else 4)  # the restore: one call
        assert run.compliance() == "NON_COMPLIANT"


def test_the_script_variant_retries_into_a_change_that_landed(sandbox: Any) -> None:
    case = next(c for c in CASES if c.runbook == "DriftRepair-S3-EnableEncryptionScript")
    with _drifted(sandbox, case) as run, _failing(run, LANDED) as fault:
        execution = run.answer(run.start(), "Approve")
        assert execution["AutomationExecutionStatus"] == "Success", _why(execution)
        assert step_of(execution, "Rollback")["StepStatus"] == "Pending"
        assert fault() == 1  # the first attempt's PutBucketEncryption landed; the second found it done
        calls = run.account.mutating_calls(_started(execution), run.resource.call_id)
        assert [(c["operation"], c["errorCode"]) for c in calls] == [(case.apply_api, case.fault)]
        assert run.compliance() == "COMPLIANT"
        assert run.attributes() == case.attributes


@contextmanager
def _failing(run: Run, mode: str) -> Iterator[Callable[[], int]]:
    """The change step's API call fails (3 times, for maxAttempts 3) on this resource only; yields how often
    the fault applied."""
    sandbox = run.account.sandbox
    spec = {
        "operation": run.case.apply_api,
        "error": run.case.fault,
        "count": 3,
        "resource": run.resource.call_id,
        "after_effect": mode == LANDED,
    }
    (fault,) = sandbox.admin("POST", "/faults", spec)["ids"]
    try:
        yield lambda: next(f["applied"] for f in sandbox.admin("GET", "/faults")["faults"] if f["id"] == fault)
    finally:
        sandbox.admin("DELETE", "/faults", {"id": fault})


def _assert_unchanged(run: Run, before: Any, since: str) -> None:
    assert run.state() == before
    assert run.account.mutating_calls(since, run.resource.call_id) == []
    assert run.compliance() == "NON_COMPLIANT"


def _started(execution: dict[str, Any]) -> str:
    started: dt.datetime = execution["ExecutionStartTime"]
    return started.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _why(execution: dict[str, Any]) -> tuple[Any, ...]:
    return execution.get("FailureMessage"), steps_status(execution)
