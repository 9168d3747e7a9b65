"""Which AWS operation a raw HTTP request is, whatever its protocol.

boto3 speaks four wire protocols to the services the project uses:

* JSON (``X-Amz-Target: AmazonSSM.StartAutomationExecution``): SSM, Config, KMS, CloudTrail, EventBridge;
* query (``Action=ModifyDBInstance`` in a form body): RDS, IAM, STS, SNS; EC2 is query with its own
  error shape;
* S3's REST-XML: the operation is the method, the path (bucket, key) and a sub-resource in the query
  string (``PUT /bucket?versioning`` is PutBucketVersioning);
* Smithy RPC v2 CBOR (``/service/<Service>/operation/<Operation>``), which newer botocore uses for some
  services.

The signing service and region come from the SigV4 credential scope (header or presigned query), the
caller from its access key. Nothing here changes the request: the body is read and put back.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from sandbox.server import DEFAULT_REGION, SandboxApp, account_for_access_key

_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_QUERY_CREDENTIAL_RE = re.compile(r"^([^/]+)/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request$")
_CBOR_PATH_RE = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")
_VHOST_RE = re.compile(r"^(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.(?:s3[.-]|localhost)")

# JSON target prefixes of services whose requests may arrive unsigned (tests, tools).
TARGET_SERVICES = {
    "AmazonSSM": "ssm",
    "StarlingDoveService": "config",
    "TrentService": "kms",
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101": "cloudtrail",
    "AWSEvents": "events",
    "Logs_20140328": "logs",
    "DynamoDB_20120810": "dynamodb",
    "AWSStepFunctions": "states",
}

# Operation-name prefixes and names that never change anything (CloudTrail's readOnly=true).
READ_ONLY_PREFIXES = (
    "Describe",
    "Get",
    "List",
    "Lookup",
    "Select",
    "BatchGet",
    "Head",
    "Search",
    "Query",
    "Scan",
    "Check",
    "Validate",
    "Preview",
    "Estimate",
    "Simulate",
    "Test",
    "Filter",
)
READ_ONLY_OPERATIONS = frozenset(
    {
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateRandom",
        "GenerateMac",
        "VerifyMac",
        "Sign",
        "Verify",
        "AssumeRole",
        "AssumeRoleWithWebIdentity",
        "AssumeRoleWithSAML",
        "DecodeAuthorizationMessage",
    }
)

# S3 sub-resources: query key -> (GET, PUT, DELETE, POST) operation names on a bucket
_S3_BUCKET_SUBRESOURCES: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    "encryption": ("GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption", None),
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None, None),
    "publicAccessBlock": ("GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock", None),
    "logging": ("GetBucketLogging", "PutBucketLogging", None, None),
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy", None),
    "policyStatus": ("GetBucketPolicyStatus", None, None, None),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "DeleteBucketTagging", None),
    "acl": ("GetBucketAcl", "PutBucketAcl", None, None),
    "lifecycle": ("GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration", "DeleteBucketLifecycle", None),
    "notification": ("GetBucketNotificationConfiguration", "PutBucketNotificationConfiguration", None, None),
    "cors": ("GetBucketCors", "PutBucketCors", "DeleteBucketCors", None),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite", None),
    "replication": ("GetBucketReplication", "PutBucketReplication", "DeleteBucketReplication", None),
    "accelerate": ("GetBucketAccelerateConfiguration", "PutBucketAccelerateConfiguration", None, None),
    "ownershipControls": (
        "GetBucketOwnershipControls",
        "PutBucketOwnershipControls",
        "DeleteBucketOwnershipControls",
        None,
    ),
    "object-lock": ("GetObjectLockConfiguration", "PutObjectLockConfiguration", None, None),
    "location": ("GetBucketLocation", None, None, None),
    "requestPayment": ("GetBucketRequestPayment", "PutBucketRequestPayment", None, None),
    "versions": ("ListObjectVersions", None, None, None),
    "uploads": ("ListMultipartUploads", None, None, None),
    "inventory": (
        "GetBucketInventoryConfiguration",
        "PutBucketInventoryConfiguration",
        "DeleteBucketInventoryConfiguration",
        None,
    ),
    "delete": (None, None, None, "DeleteObjects"),
}
_S3_OBJECT_SUBRESOURCES: dict[str, tuple[str | None, str | None, str | None, str | None]] = {
    "tagging": ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging", None),
    "acl": ("GetObjectAcl", "PutObjectAcl", None, None),
    "retention": ("GetObjectRetention", "PutObjectRetention", None, None),
    "legal-hold": ("GetObjectLegalHold", "PutObjectLegalHold", None, None),
    "attributes": ("GetObjectAttributes", None, None, None),
    "restore": (None, None, None, "RestoreObject"),
    "uploads": (None, None, None, "CreateMultipartUpload"),
}
_METHOD_INDEX = {"GET": 0, "HEAD": 0, "PUT": 1, "DELETE": 2, "POST": 3}

# Request parameters naming the resource a call acts on: (service or "*", parameter) -> Config-style type.
_RESOURCE_PARAMETERS: tuple[tuple[str, str, str], ...] = (
    ("config", "ConfigRuleName", "AWS::Config::ConfigRule"),
    ("config", "ConfigurationRecorderName", "AWS::Config::ConfigurationRecorder"),
    ("config", "ConfigurationRecorder.name", "AWS::Config::ConfigurationRecorder"),
    ("config", "DeliveryChannel.name", "AWS::Config::DeliveryChannel"),
    ("config", "DeliveryChannelName", "AWS::Config::DeliveryChannel"),
    ("ssm", "AutomationExecutionId", "AWS::SSM::AutomationExecution"),
    ("ssm", "DocumentName", "AWS::SSM::Document"),
    ("ssm", "Name", "AWS::SSM::Document"),
    ("kms", "KeyId", "AWS::KMS::Key"),
    ("kms", "AliasName", "AWS::KMS::Alias"),
    ("cloudtrail", "Name", "AWS::CloudTrail::Trail"),
    ("cloudtrail", "TrailName", "AWS::CloudTrail::Trail"),
    ("rds", "DBInstanceIdentifier", "AWS::RDS::DBInstance"),
    ("rds", "DBClusterIdentifier", "AWS::RDS::DBCluster"),
    ("rds", "DBSnapshotIdentifier", "AWS::RDS::DBSnapshot"),
    ("ec2", "InstanceId", "AWS::EC2::Instance"),
    ("ec2", "GroupId", "AWS::EC2::SecurityGroup"),
    ("ec2", "FlowLogId", "AWS::EC2::FlowLog"),
    ("ec2", "VpcId", "AWS::EC2::VPC"),
    ("ec2", "VolumeId", "AWS::EC2::Volume"),
    ("ec2", "SubnetId", "AWS::EC2::Subnet"),
    ("iam", "RoleName", "AWS::IAM::Role"),
    ("iam", "UserName", "AWS::IAM::User"),
    ("iam", "PolicyArn", "AWS::IAM::Policy"),
    ("sns", "TopicArn", "AWS::SNS::Topic"),
    ("events", "Name", "AWS::Events::Rule"),
)
# Resource ids a successful create call returns (response body): regex -> type.
_RESPONSE_IDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"<instanceId>(i-[0-9a-f]+)</instanceId>"), "AWS::EC2::Instance"),
    (re.compile(r"<groupId>(sg-[0-9a-f]+)</groupId>"), "AWS::EC2::SecurityGroup"),
    (re.compile(r"<item>(fl-[0-9a-f]+)</item>"), "AWS::EC2::FlowLog"),
    (re.compile(r"<vpcId>(vpc-[0-9a-f]+)</vpcId>"), "AWS::EC2::VPC"),
    (re.compile(r'"KeyId":\s*"([0-9a-f-]{36})"'), "AWS::KMS::Key"),
    (re.compile(r'"AutomationExecutionId":\s*"([^"]+)"'), "AWS::SSM::AutomationExecution"),
)
_EBS_DEFAULT_OPERATIONS = frozenset({"EnableEbsEncryptionByDefault", "DisableEbsEncryptionByDefault"})


@dataclass
class Call:
    """One API request, identified."""

    service: str
    operation: str
    protocol: str  # json | query | ec2 | s3 | rest
    region: str
    account_id: str
    access_key_id: str
    params: dict[str, Any] = field(default_factory=dict)
    resources: list[tuple[str, str]] = field(default_factory=list)
    user_agent: str = ""
    source_ip: str = ""
    sandbox_headers: dict[str, str] = field(default_factory=dict)

    @property
    def mutating(self) -> bool:
        if self.protocol == "s3":
            return not self.operation.startswith(("Get", "List", "Head"))
        if self.operation.startswith(("GET ", "HEAD ")):  # an unidentified REST read
            return False
        if self.operation in READ_ONLY_OPERATIONS:
            return False
        return not self.operation.startswith(READ_ONLY_PREFIXES)

    @property
    def principal(self) -> str:
        """The sandbox names principals by access key (as :class:`sandbox.server.RequestContext` does)."""
        return f"arn:aws:iam::{self.account_id}:user/{self.access_key_id}"

    @property
    def is_data_event(self) -> bool:
        """S3 object-level calls are CloudTrail data events, not management events."""
        return self.protocol == "s3" and any(t == "AWS::S3::Object" for t, _ in self.resources)


def _flatten_query(raw: str) -> dict[str, Any]:
    return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(raw, keep_blank_values=True).items()}


def _credential(environ: dict[str, Any], query: dict[str, Any]) -> tuple[str, str, str] | None:
    match = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group(1), match.group(2), match.group(3)
    presigned = query.get("X-Amz-Credential")
    if isinstance(presigned, str):
        m = _QUERY_CREDENTIAL_RE.match(presigned)
        if m:
            return m.group(1), m.group(2), m.group(3)
    return None


def _s3(method: str, environ: dict[str, Any], query: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    path = unquote(environ.get("PATH_INFO", "/"))
    host = environ.get("HTTP_HOST", "")
    bucket, key = "", ""
    vhost = _VHOST_RE.match(host)
    if vhost and not host.startswith(("s3.", "s3-")):
        bucket, key = vhost.group("bucket"), path.lstrip("/")
    else:
        parts = path.lstrip("/").split("/", 1)
        bucket = parts[0]
        key = parts[1] if len(parts) > 1 else ""
    index = _METHOD_INDEX.get(method, 0)
    if not bucket:
        return "ListBuckets", []
    resources = [("AWS::S3::Bucket", bucket)]
    if key:
        resources.append(("AWS::S3::Object", f"{bucket}/{key}"))
        for sub, names in _S3_OBJECT_SUBRESOURCES.items():
            if sub in query and names[index]:
                return str(names[index]), resources
        if "uploadId" in query:
            names_by_method = {
                "GET": "ListParts",
                "PUT": "UploadPart",
                "POST": "CompleteMultipartUpload",
                "DELETE": "AbortMultipartUpload",
            }
            return names_by_method.get(method, "UploadPart"), resources
        if method == "PUT":
            copy = environ.get("HTTP_X_AMZ_COPY_SOURCE")
            return ("CopyObject" if copy else "PutObject"), resources
        return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject", "POST": "PostObject"}.get(
            method, "GetObject"
        ), resources
    for sub, names in _S3_BUCKET_SUBRESOURCES.items():
        if sub in query and names[index]:
            return str(names[index]), resources
    if method == "GET":
        return ("ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"), resources
    return {"PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket", "POST": "PostObject"}.get(
        method, "ListObjects"
    ), resources


def _lookup(params: dict[str, Any], name: str) -> list[str]:
    """A parameter by name: JSON nesting (``A.b``), query list members (``Name.1``, ``Name.member.1``)."""
    found: list[str] = []
    if "." in name and name not in params:
        head, tail = name.split(".", 1)
        inner = params.get(head)
        if isinstance(inner, dict):
            return _lookup(inner, tail)
    value = params.get(name)
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, list):
        found.extend(str(v) for v in value if isinstance(v, (str, int)))
    prefix = f"{name}."
    found.extend(str(v) for k, v in params.items() if k.startswith(prefix) and isinstance(v, str))
    return found


def _resources(service: str, operation: str, params: dict[str, Any], account_id: str) -> list[tuple[str, str]]:
    if operation in _EBS_DEFAULT_OPERATIONS:
        return [("AWS::::Account", account_id)]
    out: list[tuple[str, str]] = []
    for svc, name, rtype in _RESOURCE_PARAMETERS:
        if svc not in (service, "*"):
            continue
        for value in _lookup(params, name):
            if (rtype, value) not in out:
                out.append((rtype, value))
        if out:
            break
    keys = params.get("ResourceKeys")
    if isinstance(keys, list):  # Config remediation: the resources remediated
        for key in keys:
            if isinstance(key, dict) and key.get("resourceId"):
                out.append((str(key.get("resourceType")), str(key["resourceId"])))
    return out


def response_resources(body: bytes) -> list[tuple[str, str]]:
    """Ids a create call returned (RunInstances, CreateSecurityGroup, CreateKey...)."""
    text = body[:200_000].decode("utf-8", "replace")
    out: list[tuple[str, str]] = []
    for pattern, rtype in _RESPONSE_IDS:
        for match in pattern.finditer(text):
            if (rtype, match.group(1)) not in out:
                out.append((rtype, match.group(1)))
    return out


@functools.cache
def _rest_routes(service: str) -> tuple[tuple[str, re.Pattern[str], frozenset[str], str], ...]:
    """(method, path pattern, required query keys, operation) of a REST service, from botocore's model."""
    try:
        model = _botocore_session().get_service_model(service)
    except Exception:  # not a botocore service name: the call keeps its method-and-path label
        return ()
    if model.protocol not in ("rest-json", "rest-xml"):
        return ()
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, query = str(http.get("requestUri", "/")).partition("?")
        pattern = re.sub(r"\\\{[^}]+?\\\+\\\}", "(.+)", re.escape(path))
        pattern = re.sub(r"\\\{[^}]+?\\\}", "([^/]+)", pattern)
        keys = frozenset(k.split("=", 1)[0] for k in query.split("&") if k)
        routes.append((str(http.get("method", "GET")), re.compile(f"^{pattern}/?$"), keys, name))
    # the most literal route first: /functions/{Name}/policy before /functions/{Name}
    routes.sort(key=lambda r: (-len(re.sub(r"\(.*?\)", "", r[1].pattern)), -len(r[2])))
    return tuple(routes)


@functools.cache
def _botocore_session() -> Any:
    import botocore.session  # noqa: PLC0415 - loaded only when a REST service is first called

    return botocore.session.get_session()


def rest_operation(service: str, method: str, path: str, query: dict[str, Any]) -> str | None:
    """The operation of a REST-JSON / REST-XML request (Lambda, API Gateway...), by botocore's routes."""
    if not service:
        return None
    for route_method, pattern, keys, name in _rest_routes(service):
        if route_method == method and pattern.match(path) and keys <= set(query):
            return name
    return None


def identify(environ: dict[str, Any]) -> Call:
    """Identify the request in ``environ`` (reading its body, then putting it back for the next reader)."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    query = _flatten_query(environ.get("QUERY_STRING", ""))
    body = SandboxApp.read_body(environ)
    credential = _credential(environ, query)
    access_key, region, service = credential if credential else ("anonymous", DEFAULT_REGION, "")
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    call = Call(
        service=service,
        operation="",
        protocol="rest",
        region=region,
        account_id=account_for_access_key(access_key),
        access_key_id=access_key,
        user_agent=headers.get("user-agent", ""),
        source_ip=str(environ.get("REMOTE_ADDR", "")),
        sandbox_headers={k: v for k, v in headers.items() if k.startswith("x-sandbox-")},
    )
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    content_type = environ.get("CONTENT_TYPE", "")
    cbor = _CBOR_PATH_RE.match(environ.get("PATH_INFO", ""))
    if target and "." in target:
        prefix, call.operation = target.rsplit(".", 1)
        call.protocol = "json"
        call.service = call.service or TARGET_SERVICES.get(prefix, prefix.lower())
        try:
            parsed = json.loads(body or b"{}")
            call.params = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            call.params = {}
    elif cbor:
        call.protocol = "json"
        call.operation = cbor.group(2)
        call.service = call.service or cbor.group(1).lower()
    elif "Action" in query or (method == "POST" and "x-www-form-urlencoded" in content_type):
        params = dict(query)
        if body and "x-www-form-urlencoded" in content_type:
            params.update(_flatten_query(body.decode("utf-8", "replace")))
        call.operation = str(params.get("Action", ""))
        call.protocol = "ec2" if call.service == "ec2" else "query"
        call.params = {k: v for k, v in params.items() if not k.startswith("X-Amz-")}
    elif call.service in ("s3", "") and not environ.get("PATH_INFO", "").startswith("/moto-api"):
        call.service = "s3"
        call.protocol = "s3"
        call.operation, call.resources = _s3(method, environ, query)
        call.params = {k: v for k, v in query.items() if not k.startswith("X-Amz-")}
        return call
    else:
        path = environ.get("PATH_INFO", "/")
        call.operation = rest_operation(call.service, method, path, query) or f"{method} {path}"
    call.resources = _resources(call.service, call.operation, call.params, call.account_id)
    return call
