"""Helpers for the sandbox's Config and control tests (clients, the recorder, an engine stand-in)."""

from __future__ import annotations

import io
import json
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from moto.moto_server.werkzeug_app import MotoRequestHandler
from werkzeug.serving import make_server

from sandbox.server import AwsError, RequestContext, SandboxApp, build_app

REGION = "ap-northeast-1"
ACCOUNT = "123456789012"


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
