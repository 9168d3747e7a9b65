"""The project's ten runbooks, each against a drifted resource in the running sandbox, through boto3 only.

Every scenario gets an AWS account of its own (config_support.Account: a 12-digit access key names an account
in the sandbox), set up as the Terraform module deploys it: recorder, the mappings' Config rules and their
remediation configurations, the runbooks, the evidence bucket. The runbook is started as the DAG starts it:
the remediation configuration's parameters resolved for the resource, the designed values passed, and the
DAG's principal (here: the test's) listed as the approver that answers ``aws:approve`` with
SendAutomationSignal. Scenarios are therefore independent without resetting the shared sandbox, and
account-wide settings (EBS encryption by default) cannot leak between them.

Per runbook:

* drifted -> approved -> compliant by the Config rule's own evaluation and by the attribute (the Config
  item, read through the mapping's path as detection reads it, and the service API); a re-run on the
  compliant resource makes no mutating call at all;
* approval rejected -> Failed, nothing changed; approval timed out -> TimedOut, nothing changed;
* the change step failing all its attempts (fault injection), whether AWS refused the call or the change
  landed and the caller saw an error anyway -> Rollback Success, the execution Failed, the resource's Config
  item exactly as before.

Speed: the cost is the runbooks' executeScript steps (a Python process each). The scenarios of the selected
tests are started together when the module starts, a few at a time (:class:`Scenarios`); each test waits for
its own and reports it. The approval-timeout tests change the sandbox's clock for every execution, so they
run alone, after the others.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import pytest
from config_support import CLIENTS_LOCK, MAPPINGS, Account, now, s3_before_2023
from ssm_support import Runbooks, step_of, steps_status, unique

from drift_repair.core.config_items import parse_item
from drift_repair.core.mappings import ResourceMapping
from drift_repair.core.remediation import resolve_parameters

pytestmark = pytest.mark.sandbox

# The approval's 86400 s shrunk to ~1 s (aws:approve's timeout only: see _approval_times_out).
APPROVAL_TIME_SCALE = 1 / 86400
# Scenarios running at once: enough to keep two cores busy while others wait for an approval.
WORKERS = 4


@dataclass(frozen=True)
class Resource:
    """A drifted resource: its Config key and the id API calls name (the call record and faults match it)."""

    config_type: str
    config_id: str
    call_id: str  # bucket, DB identifier, key id, trail name, instance id, account id


# --------------------------------------------------------------------------- drifted resources


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
    for status in ("Enabled", "Suspended"):  # versioned as designed, then suspended
        account.client("s3").put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
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


def _db(account: Account, **drift: Any) -> Resource:
    name = unique("db")
    rds = account.client("rds")
    rds.create_db_instance(
        **{
            "DBInstanceIdentifier": name,
            "DBInstanceClass": "db.t4g.medium",
            "Engine": "postgres",
            "AllocatedStorage": 20,
            "MasterUsername": "app",
            "MasterUserPassword": "sandbox-password-1",
            "BackupRetentionPeriod": 7,
            "PubliclyAccessible": False,
            **drift,
        }
    )
    dbi = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DbiResourceId"]
    return Resource("AWS::RDS::DBInstance", dbi, name)  # Config's id is the DbiResourceId, APIs take the name


def _short_backups(account: Account) -> Resource:
    return _db(account, BackupRetentionPeriod=1)


def _public_db(account: Account) -> Resource:
    return _db(account, PubliclyAccessible=True)


def _key_without_rotation(account: Account) -> Resource:
    key = account.client("kms").create_key(Description="drifted")["KeyMetadata"]["KeyId"]
    return Resource("AWS::KMS::Key", key, key)


def _trail_without_validation(account: Account) -> Resource:
    name = unique("trail")
    cloudtrail = account.client("cloudtrail")
    cloudtrail.create_trail(Name=name, S3BucketName=_bucket(account), EnableLogFileValidation=False)
    cloudtrail.start_logging(Name=name)
    return Resource("AWS::CloudTrail::Trail", name, name)


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


# --------------------------------------------------------------------------- the attribute, from the service


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
    reservations = account.client("ec2").describe_instances(InstanceIds=[r.call_id])["Reservations"]
    return reservations[0]["Instances"][0]["MetadataOptions"]["HttpTokens"]


# --------------------------------------------------------------------------- the ten runbooks


@dataclass(frozen=True)
class Case:
    runbook: str
    rule: str  # the mapping's Config rule whose remediation configuration starts the runbook
    drift: Callable[[Account], Resource]
    attributes: dict[str, Any]  # mapping attribute -> designed value, read off the Config item
    live: Callable[[Account, Resource], Any]  # the attribute through the service API
    live_value: Any
    apply_step: str
    apply_api: str  # the operation the change step calls (the fault's target)
    fault: str = "InternalFailure"  # an error the service answers with (5xx)
    overrides: dict[str, list[str]] = field(default_factory=dict)  # designed values the DAG passes
    register: bool = False  # deployed by the module, named by no mapping
    before_2023: bool = False  # S3 without default encryption (config_support.s3_before_2023)

    @property
    def mapping(self) -> ResourceMapping:
        return next(m for m in MAPPINGS.mappings if self.rule in m.rules)


ALL_BLOCKED = dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)
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
        {},  # an account setting: Config records no item of it (the mapping reads the rule's result instead)
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


def test_every_runbook_has_a_case() -> None:
    from tests.runbooks.support import runbook_files

    assert sorted(c.runbook for c in CASES) == sorted(r.name for r in runbook_files())


# --------------------------------------------------------------------------- one drifted resource and its runbook


@dataclass
class Run:
    case: Case
    account: Account
    resource: Resource
    runbooks: Runbooks

    def parameters(self) -> dict[str, list[str]]:
        """What the DAG passes: the remediation configuration resolved for the resource, the designed values,
        and its own principal as the approver."""
        config = self.account.client("config")
        (configuration,) = config.describe_remediation_configurations(ConfigRuleNames=[self.case.rule])[
            "RemediationConfigurations"
        ]
        overrides = {**self.case.overrides, "Approvers": [self.account.principal]}
        return resolve_parameters(configuration, self.resource.config_id, overrides)

    def start(self) -> str:
        return self.runbooks.start(self.case.runbook, self.parameters())

    def answer(self, execution_id: str, signal: str) -> dict[str, Any]:
        """Answer the approval as the listed approver, then wait for the end."""
        self.runbooks.wait_step(execution_id, "ApproveChange", ["Waiting"])
        self.runbooks.ssm.send_automation_signal(
            AutomationExecutionId=execution_id, SignalType=signal, Payload={"Comment": [f"{signal} by the test"]}
        )
        return self.runbooks.wait(execution_id)

    def state(self) -> Any:
        """What must not change when nothing is repaired: the Config item (for an account setting, which
        Config records no item of, the setting through the service API)."""
        if not self.case.attributes:
            return self.case.live(self.account, self.resource)
        return self.account.item_state(self.resource.config_type, self.resource.config_id)

    def attributes(self) -> dict[str, Any]:
        """The mapped attributes as detection reads them off the Config item."""
        if not self.case.attributes:
            return {}
        item = self.account.item(self.resource.config_type, self.resource.config_id)
        document = parse_item(item).document()
        paths = {a.name: a.config_path for a in self.case.mapping.attributes}
        return {name: paths[name].get(document) for name in self.case.attributes}  # type: ignore[union-attr]

    def compliance(self) -> str:
        return self.account.compliance(self.case.rule, self.resource.config_type, self.resource.config_id)

    def pre_states(self, execution: dict[str, Any]) -> list[str]:
        """Keys of the pre-state objects the execution saved in the evidence bucket (from the call record)."""
        bucket = self.account.env.evidence_bucket
        puts = self.account.mutating_calls(_started(execution), bucket)
        keys = [r["id"] for c in puts if c["operation"] == "PutObject" for r in c["resources"]]
        return [k for k in keys if k.startswith(f"{bucket}/pre-state/") and execution["AutomationExecutionId"] in k]

    def calls(self, since: str) -> list[dict[str, Any]]:
        """Mutating calls on the resource since ``since``."""
        return self.account.mutating_calls(since, self.resource.call_id)


@contextmanager
def _drifted(sandbox: Any, case: Case) -> Iterator[Run]:
    """A fresh account with the case's resource drifted, as its Config rule reports."""
    # Scenarios running meanwhile get buckets without default encryption too; none of them looks at it.
    with s3_before_2023(sandbox) if case.before_2023 else nullcontext():
        account = Account(sandbox, {case.mapping.config_resource_type})
        if case.register:
            account.register(case.runbook)
        with CLIENTS_LOCK:
            runbooks = Runbooks(sandbox, aws_access_key_id=account.id)
        run = Run(case, account, case.drift(account), runbooks)
        assert run.compliance() == "NON_COMPLIANT", "the drift is what the rule reports"
        yield run


# --------------------------------------------------------------------------- running scenarios together

SCENARIOS: dict[str, Callable[..., None]] = {}


def scenario_of(test: Callable[..., None]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register the body of ``test``: ``scenario(sandbox, **the test's parameters)``."""

    def register(scenario: Callable[..., None]) -> Callable[..., None]:
        SCENARIOS[test.__name__] = scenario
        return scenario

    return register


class Scenarios:
    """Runs the registered scenarios of the module's selected tests, ``WORKERS`` at a time, in test order."""

    def __init__(self, sandbox: Any, items: list[pytest.Item]) -> None:
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="scenario")
        self.futures: dict[str, Future[None]] = {}
        for item in items:
            scenario = SCENARIOS.get(getattr(item, "originalname", ""))
            if scenario is not None:
                params = item.callspec.params  # type: ignore[attr-defined]
                self.futures[item.nodeid] = self.pool.submit(scenario, sandbox, **params)

    def outcome(self, request: pytest.FixtureRequest) -> None:
        """The test's own scenario: returns when it passed, raises what it raised."""
        self.futures[request.node.nodeid].result()

    def drain(self) -> None:
        wait(self.futures.values())

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def scenarios(sandbox: Any, request: pytest.FixtureRequest) -> Iterator[Scenarios]:
    items = [i for i in request.session.items if getattr(i, "module", None) is request.module]
    started = Scenarios(sandbox, items)
    try:
        yield started
    finally:
        started.close()


# --------------------------------------------------------------------------- repair, then re-run


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_drifted_resource_is_repaired_and_a_rerun_changes_nothing(
    scenarios: Scenarios, request: pytest.FixtureRequest, case: Case
) -> None:
    scenarios.outcome(request)


@scenario_of(test_drifted_resource_is_repaired_and_a_rerun_changes_nothing)
def _repaired_then_rerun(sandbox: Any, case: Case) -> None:
    with _drifted(sandbox, case) as run:
        execution = run.answer(run.start(), "Approve")
        assert execution["AutomationExecutionStatus"] == "Success", _why(execution)
        assert step_of(execution, case.apply_step)["StepStatus"] == "Success"
        approval = step_of(execution, "ApproveChange")["Outputs"]
        assert approval["ApprovalStatus"] == ["Approved"]
        assert run.account.principal in approval["ApproverDecisions"][0]

        assert run.compliance() == "COMPLIANT"  # the Config rule's own evaluation
        assert run.attributes() == case.attributes  # the Config item, read as detection reads it
        assert case.live(run.account, run.resource) == case.live_value  # the service itself
        changes = [c["operation"] for c in run.calls(_started(execution)) if c["outcome"] == "success"]
        assert changes == [case.apply_api]
        (saved,) = run.pre_states(execution)  # the safe pattern: the pre-state went to the evidence bucket first
        assert run.resource.config_id in saved

        since = now()
        rerun = run.runbooks.wait(run.start())
        assert rerun["AutomationExecutionStatus"] == "Success", _why(rerun)
        ran = {s["StepName"] for s in rerun["StepExecutions"] if s["StepStatus"] != "Pending"}
        assert "ApproveChange" not in ran and case.apply_step not in ran
        # No mutating call at all (not even to the evidence bucket): only the test's StartAutomationExecution.
        assert [c["operation"] for c in run.account.mutating_calls(since)] == ["StartAutomationExecution"]
        assert run.compliance() == "COMPLIANT"


# --------------------------------------------------------------------------- approval rejected


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_rejected_approval_changes_nothing(scenarios: Scenarios, request: pytest.FixtureRequest, case: Case) -> None:
    scenarios.outcome(request)


@scenario_of(test_a_rejected_approval_changes_nothing)
def _rejected(sandbox: Any, case: Case) -> None:
    with _drifted(sandbox, case) as run:
        before, since = run.state(), now()
        execution = run.answer(run.start(), "Reject")
        assert execution["AutomationExecutionStatus"] == "Failed", _why(execution)
        assert step_of(execution, "ApproveChange")["StepStatus"] == "Failed"
        assert step_of(execution, "SavePreState")["StepStatus"] == "Pending"
        _assert_unchanged(run, before, since)


# --------------------------------------------------------------------------- the change fails: rollback

# How the change step fails: AWS refuses the call (nothing changes), or the change lands and the caller still
# sees an error (a 5xx after the fact, a lost response), so the rollback has something to undo.
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
def test_a_failed_change_is_rolled_back_exactly(
    scenarios: Scenarios, request: pytest.FixtureRequest, case: Case, mode: str
) -> None:
    scenarios.outcome(request)


@scenario_of(test_a_failed_change_is_rolled_back_exactly)
def _rolled_back(sandbox: Any, case: Case, mode: str) -> None:
    with _drifted(sandbox, case) as run, _failing(run, mode) as applied:
        before = run.state()
        execution = run.answer(run.start(), "Approve")
        assert execution["AutomationExecutionStatus"] == "Failed", _why(execution)
        apply = step_of(execution, case.apply_step)
        assert apply["StepStatus"] == "Failed" and case.fault in apply["FailureMessage"]
        rollback = step_of(execution, "Rollback")
        assert rollback["StepStatus"] == "Success", _why(execution)
        assert rollback["Outputs"]["Restored"] == [str(mode == LANDED).lower()]  # nothing to undo if nothing landed
        assert rollback["Outputs"]["Exact"] == ["true"]
        assert step_of(execution, "FailAfterRestore")["StepStatus"] == "Failed"
        assert applied() == 3  # the change step's maxAttempts

        assert run.state() == before  # the pre-state, exactly: the Config item before == after
        calls = run.calls(_started(execution))
        assert [(c["operation"], c["errorCode"]) for c in calls[:3]] == [(case.apply_api, case.fault)] * 3
        assert len(calls) == (3 if mode == REFUSED else 4)  # a landed change: one restoring call
        assert run.compliance() == "NON_COMPLIANT"


SCRIPT_CASE = next(c for c in CASES if c.runbook == "DriftRepair-S3-EnableEncryptionScript")


@pytest.mark.parametrize("case", [SCRIPT_CASE], ids=["S3-EnableEncryptionScript"])
def test_the_script_variant_retries_into_a_change_that_landed(
    scenarios: Scenarios, request: pytest.FixtureRequest, case: Case
) -> None:
    scenarios.outcome(request)


@scenario_of(test_the_script_variant_retries_into_a_change_that_landed)
def _retried_into_landed_change(sandbox: Any, case: Case) -> None:
    with _drifted(sandbox, case) as run, _failing(run, LANDED) as applied:
        execution = run.answer(run.start(), "Approve")
        assert execution["AutomationExecutionStatus"] == "Success", _why(execution)
        assert step_of(execution, "Rollback")["StepStatus"] == "Pending"
        assert applied() == 1  # the first attempt's PutBucketEncryption landed; the second found it done
        calls = run.calls(_started(execution))
        assert [(c["operation"], c["errorCode"]) for c in calls] == [(case.apply_api, case.fault)]
        assert run.compliance() == "COMPLIANT"
        assert run.attributes() == case.attributes


def _never_versioned(account: Account) -> Resource:
    name = _bucket(account)
    return Resource("AWS::S3::Bucket", name, name)


NEVER_VERSIONED = dataclasses.replace(
    next(c for c in CASES if c.runbook == "DriftRepair-S3-EnableVersioning"), drift=_never_versioned
)


@pytest.mark.parametrize("case", [NEVER_VERSIONED], ids=["S3-EnableVersioning-never-versioned"])
def test_a_never_versioned_bucket_is_rolled_back_to_suspended(
    scenarios: Scenarios, request: pytest.FixtureRequest, case: Case
) -> None:
    """The one pre-state no runbook can restore: S3 has no way back to "never versioned" once versioning was
    on. The rollback leaves the nearest state, Suspended (no new versions), and says it is not exact."""
    scenarios.outcome(request)


@scenario_of(test_a_never_versioned_bucket_is_rolled_back_to_suspended)
def _rolled_back_to_suspended(sandbox: Any, case: Case) -> None:
    with _drifted(sandbox, case) as run, _failing(run, LANDED):
        before = run.state()
        assert run.attributes() == {"versioning": "Off"}
        execution = run.answer(run.start(), "Approve")
        assert execution["AutomationExecutionStatus"] == "Failed", _why(execution)
        rollback = step_of(execution, "Rollback")
        assert rollback["StepStatus"] == "Success", _why(execution)
        assert (rollback["Outputs"]["Restored"], rollback["Outputs"]["Exact"]) == (["true"], ["false"])
        assert run.attributes() == {"versioning": "Suspended"}
        after = run.state()
        for state in (before, after):  # everything else exactly as before
            state["supplementaryConfiguration"].pop("BucketVersioningConfiguration", None)
        assert after == before
        assert run.compliance() == "NON_COMPLIANT"


@contextmanager
def _failing(run: Run, mode: str) -> Iterator[Callable[[], int]]:
    """The change step's API call fails on this resource only, 3 times (maxAttempts 3); yields how often the
    fault applied."""
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


# --------------------------------------------------------------------------- approval timed out (alone: clock)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_an_approval_timeout_changes_nothing(sandbox: Any, scenarios: Scenarios, case: Case) -> None:
    scenarios.drain()  # the clock is the whole sandbox's: nothing else may run meanwhile
    with _drifted(sandbox, case) as run:
        before, since = run.state(), now()
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


# --------------------------------------------------------------------------- helpers


def _assert_unchanged(run: Run, before: Any, since: str) -> None:
    assert run.state() == before
    assert run.calls(since) == []
    assert run.compliance() == "NON_COMPLIANT"


def _started(execution: dict[str, Any]) -> str:
    """The execution's start as the call record writes times."""
    return execution["ExecutionStartTime"].astimezone(dt.UTC).isoformat().replace("+00:00", "Z")  # type: ignore[no-any-return]


def _why(execution: dict[str, Any]) -> tuple[Any, ...]:
    return execution.get("FailureMessage"), steps_status(execution)
