"""Helpers for the sandbox's Config and control tests (clients, the recorder, an engine stand-in, accounts
set up as the Terraform module deploys them)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import threading
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import make_server

from drift_repair.core.config_items import parse_item
from drift_repair.core.environment import REPO_ROOT, load_environment
from drift_repair.core.mappings import MappingSet, load_mappings
from sandbox import seed
from sandbox.config.rules import MANAGED_RULES
from sandbox.server import AwsError, RequestContext, SandboxApp, build_app

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"
MAPPINGS: MappingSet = load_mappings()
# What GetComplianceDetailsByConfigRule accepts (INSUFFICIENT_DATA is not a result a resource can have).
EVALUATION_RESULTS = ["COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"]
# boto3's default session is not thread-safe: clients are created under this lock (using them is safe).
CLIENTS_LOCK = threading.Lock()


def start_recorder(config_client: Any, s3_client: Any, bucket: str = "config-delivery-sandbox") -> None:
    """What every account that uses AWS Config has: a recorder, a delivery channel, recording on."""
    s3_client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    config_client.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": f"arn:aws:iam::{ACCOUNT}:role/config"}
    )
    config_client.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": bucket})
    config_client.start_configuration_recorder(ConfigurationRecorderName="default")


@dataclass
class Clients:
    sandbox: Any
    config: Any
    s3: Any
    ec2: Any
    rds: Any
    kms: Any
    cloudtrail: Any

    def bucket(self, name: str | None = None) -> str:
        name = name or f"bkt-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        return name


def clients_for(target: Any) -> Clients:
    return Clients(
        sandbox=target,
        config=target.client("config"),
        s3=target.client("s3"),
        ec2=target.client("ec2"),
        rds=target.client("rds"),
        kms=target.client("kms"),
        cloudtrail=target.client("cloudtrail"),
    )


def network(aws: Clients) -> tuple[str, str]:
    vpc = aws.ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in aws.ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = [
        aws.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=z)["Subnet"]["SubnetId"]
        for i, z in enumerate(zones)
    ]
    return vpc, subnets[0]


def db(aws: Clients, name: str, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "DBInstanceIdentifier": name,
        "DBInstanceClass": "db.t4g.medium",
        "Engine": "postgres",
        "AllocatedStorage": 20,
        "MasterUsername": "app",
        "MasterUserPassword": "sandbox-password-1",
        "BackupRetentionPeriod": 7,
        "PubliclyAccessible": False,
    }
    kwargs.update(overrides)
    aws.rds.create_db_instance(**kwargs)
    return aws.rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]  # type: ignore[no-any-return]


def lambda_function(aws: Clients, name: str) -> str:
    """The custom rule's function must exist (AWS checks it can invoke it); its code never runs here."""
    iam = aws.sandbox.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    function = aws.sandbox.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler", Code={"ZipFile": code.getvalue()}
    )
    return str(function["FunctionArn"])


# --------------------------------------------------------------------------- accounts as the module deploys them


# S3 default encryption is a switch of the whole sandbox: tests that need the world before 2023 take turns.
_S3_BEFORE_2023 = threading.Lock()


@contextmanager
def s3_before_2023(target: Any) -> Iterator[None]:
    """S3 as it was before default encryption (5 January 2023), for the whole block: new buckets have no
    default encryption and DeleteBucketEncryption removes it again. Since then every bucket has SSE-S3, so the
    managed rule S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED can find a bucket NON_COMPLIANT only in this world.
    """
    with _S3_BEFORE_2023:
        target.admin("POST", "/s3/default-encryption", {"enabled": False})
        try:
            yield
        finally:
            target.admin("POST", "/s3/default-encryption", {"enabled": True})


def now() -> str:
    """The current time as the call record writes it (``since`` / ``until`` filters compare text)."""
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


class Account:
    """A fresh AWS account in the running sandbox with Config on as the Terraform module deploys it.

    A 12-digit access key names its account in the sandbox, so every Account is isolated from the others and
    from the default account: no reset needed, account-wide settings (EBS encryption by default) stay in it.
    ``sandbox.seed.turn_on_config`` deploys what the module does for the given Config resource types: the
    recorder and delivery channel, the mappings' managed rules with their remediation configurations, the
    runbooks they name, the evidence bucket and the automation role.
    """

    def __init__(self, target: Any, config_types: Iterable[str], environment: str = "dev") -> None:
        self.sandbox = target
        self.id = str(200_000_000_000 + uuid.uuid4().int % 700_000_000_000)
        base = load_environment(environment)
        self.env = dataclasses.replace(
            base, account_id=self.id, evidence_bucket=f"drift-repair-evidence-{self.id}-{base.name}"
        )
        # The sandbox names a caller arn:aws:iam::<account>:user/<access key>: the principal of this account's
        # clients, the one the DAG would list as the runbooks' approver.
        self.principal = f"arn:aws:iam::{self.id}:user/{self.id}"
        self.role_arn = f"arn:aws:iam::{self.id}:role/drift-repair-automation-{base.name}"
        self._clients: dict[str, Any] = {}
        self.seeder = seed.Seeder(self.env, target.url)
        with CLIENTS_LOCK:
            for service in ("config", "s3", "iam", "ssm"):
                self.seeder.client(service)
        self.rules = seed.turn_on_config(self.seeder, MAPPINGS, set(config_types))

    def client(self, service: str, **kwargs: Any) -> Any:
        key = f"{service}:{kwargs.get('region_name', '')}"
        if key not in self._clients:
            with CLIENTS_LOCK:
                self._clients[key] = self.sandbox.client(service, aws_access_key_id=self.id, **kwargs)
        return self._clients[key]

    def register(self, runbook: str) -> None:
        """A runbook of include/runbooks/ that no mapping names (the module deploys every one)."""
        text = (REPO_ROOT / "include" / "runbooks" / f"{runbook}.yaml").read_text(encoding="utf-8")
        self.client("ssm").create_document(Name=runbook, Content=text, DocumentType="Automation", DocumentFormat="YAML")

    # ------------------------------------------------------------------ Config

    def item(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        key = {"resourceType": resource_type, "resourceId": resource_id}
        found = self.client("config").batch_get_resource_config(resourceKeys=[key])["baseConfigurationItems"]
        assert len(found) == 1, f"no Config item for {key}"
        return found[0]  # type: ignore[no-any-return]

    def item_state(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        """A Config item without its capture metadata (time, state id), values parsed (supplementary
        configuration values are JSON strings): what must be equal when nothing changed."""
        raw = self.item(resource_type, resource_id)
        parsed = parse_item(raw).document()
        return {
            "configuration": parsed["configuration"],
            "supplementaryConfiguration": parsed["supplementaryConfiguration"],
            "tags": raw.get("tags"),
            "relationships": raw.get("relationships"),
        }

    def compliance(self, rule: str, resource_type: str, resource_id: str) -> str:
        """The rule's own evaluation of one resource; a periodic rule is run first, as an operator would
        (configuration-change rules evaluate each recorded change by themselves)."""
        config = self.client("config")
        (described,) = config.describe_config_rules(ConfigRuleNames=[rule])["ConfigRules"]
        managed = MANAGED_RULES.get(described["Source"].get("SourceIdentifier", ""))
        if managed is not None and managed.periodic:
            config.start_config_rules_evaluation(ConfigRuleNames=[rule])
        results = config.get_compliance_details_by_config_rule(
            ConfigRuleName=rule, ComplianceTypes=EVALUATION_RESULTS, Limit=100
        )["EvaluationResults"]
        for result in results:
            q = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            if (q["ResourceType"], q["ResourceId"]) == (resource_type, resource_id):
                return str(result["ComplianceType"])
        return "NO_RESULT"

    # ------------------------------------------------------------------ the call record

    def mutating_calls(self, since: str, resource: str | None = None) -> list[dict[str, Any]]:
        """The record's mutating calls in this account since ``since`` (naming ``resource`` when given)."""
        query = f"/calls?since={since}" + (f"&resource={resource}" if resource else "")
        return [c for c in self.sandbox.admin("GET", query)["calls"] if c["accountId"] == self.id]


# --------------------------------------------------------------------------- in-process sandbox


@dataclass
class FakeExecution:
    document: str
    parameters: dict[str, list[str]]
    status: str = "InProgress"
    steps: list[dict[str, Any]] = field(default_factory=list)


class FakeAutomationEngine:
    """Stands in for sandbox/ssm's engine: records what Config asked, answers what the test sets."""

    def __init__(self, documents: set[str]) -> None:
        self.documents = documents
        self.executions: dict[str, FakeExecution] = {}
        self.lock = threading.Lock()

    def start_execution(
        self,
        ctx: RequestContext,
        document_name: str,
        parameters: dict[str, list[str]],
        document_version: str | None = None,
        client_token: str | None = None,
    ) -> str:
        if document_name not in self.documents:
            raise AwsError("InvalidDocument", f"Document {document_name} does not exist.")
        execution_id = str(uuid.uuid4())
        with self.lock:
            self.executions[execution_id] = FakeExecution(document_name, parameters)
        return execution_id

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        with self.lock:
            ex = self.executions[execution_id]
            return {
                "AutomationExecutionId": execution_id,
                "DocumentName": ex.document,
                "AutomationExecutionStatus": ex.status,
                "StepExecutions": list(ex.steps),
            }

    def finish(self, status: str, steps: list[dict[str, Any]]) -> None:
        with self.lock:
            for ex in self.executions.values():
                ex.status = status
                ex.steps = steps


class LocalSandbox:
    """The sandbox application served from this process (for the in-process engine interface)."""

    def __init__(self) -> None:
        self.app: SandboxApp = build_app()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=MotoRequestHandler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.app.self_url = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def client(self, service: str, **kwargs: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
            **kwargs,
        )

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import urllib.request

        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}/_sandbox{path}", data=data, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def reset(self) -> None:
        self.admin("POST", "/reset", {})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
