"""SSM documents for the runbook engine: moto keeps them; this module adds the AWS-owned ones and reads them.

moto implements the document APIs (CreateDocument, GetDocument, DescribeDocument, ListDocuments, versions)
but knows no AWS-owned document. The AWS-owned runbooks the project uses live as YAML under
``aws_documents/`` (written by us from AWS's documentation of their behaviour) and are added, with Owner
``Amazon``, to every moto SSM backend as moto creates it — for any account and region, and again after a
reset — so GetDocument / DescribeDocument / ListDocuments(Owner=Amazon) show them like AWS does and
StartAutomationExecution runs them by name.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.backends import get_backend
from moto.ssm.models import Document, Documents, SimpleSystemManagerBackend

from drift_repair.core.errors import InputError
from drift_repair.core.runbook import load_document_text
from drift_repair.core.runbook_lint import creation_problems
from sandbox.server import AwsError, SandboxApp

log = logging.getLogger("sandbox.ssm")

AWS_DOCUMENTS_DIR = Path(__file__).resolve().parent / "aws_documents"
AMAZON_OWNER = "Amazon"
_DOCUMENT_ARN_RE = re.compile(r"^arn:aws[\w-]*:ssm:[a-z0-9-]*:\d{0,12}:document/(?P<name>.+)$")
_install_lock = threading.Lock()


@functools.cache
def aws_document_texts() -> dict[str, str]:
    """Name -> YAML text of every AWS-owned document the sandbox provides (file name = document name)."""
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(AWS_DOCUMENTS_DIR.glob("*.yaml"))}


def add_amazon_documents(backend: SimpleSystemManagerBackend) -> None:
    """Add the AWS-owned documents to one moto SSM backend (idempotent)."""
    for name, text in aws_document_texts().items():
        if name in backend._documents:
            continue
        document = Document(
            account_id=AMAZON_OWNER,  # moto shows the account it is given as the Owner
            name=name,
            version_name=None,  # type: ignore[arg-type]
            content=text,
            document_type="Automation",
            document_format="YAML",
            requires=[],
            attachments=[],
            target_type=None,  # type: ignore[arg-type]
        )
        backend._documents[name] = Documents(document)


def install_amazon_documents() -> None:
    """Make every moto SSM backend, existing or future (new account, region, reset), hold the AWS documents."""
    with _install_lock:
        init = SimpleSystemManagerBackend.__init__
        if not getattr(init, "_sandbox_amazon_documents", False):

            @functools.wraps(init)
            def __init__(self: SimpleSystemManagerBackend, region_name: str, account_id: str) -> None:
                init(self, region_name, account_id)
                add_amazon_documents(self)

            __init__._sandbox_amazon_documents = True  # type: ignore[attr-defined]
            SimpleSystemManagerBackend.__init__ = __init__  # type: ignore[method-assign]
        for account_backends in list(get_backend("ssm").values()):
            for backend in list(account_backends.values()):
                add_amazon_documents(backend)


@dataclass(frozen=True)
class ResolvedDocument:
    """The document version an execution runs."""

    name: str
    version: str
    content: dict[str, Any]
    owner: str


def document_name(name_or_arn: str) -> str:
    match = _DOCUMENT_ARN_RE.match(name_or_arn)
    return match.group("name") if match else name_or_arn


def resolve_document(account_id: str, region: str, name_or_arn: str, version: str | None) -> ResolvedDocument:
    """Find the Automation document version StartAutomationExecution names, or raise AWS's error."""
    name = document_name(name_or_arn)
    backend: SimpleSystemManagerBackend = get_backend("ssm")[account_id][region]
    documents = backend._documents.get(name)
    if documents is None:
        raise AwsError("AutomationDefinitionNotFoundException", f"Document with name {name} does not exist.")
    if version in (None, "", "$DEFAULT"):
        document = documents.get_default_version()
    elif version == "$LATEST":
        document = documents.get_latest_version()
    else:
        found = documents.find_by_version(str(version))
        if found is None:
            raise AwsError(
                "AutomationDefinitionVersionNotFoundException",
                f"Document {name} with version {version} does not exist.",
            )
        document = found
    if document.document_type != "Automation":
        raise AwsError(
            "AutomationDefinitionNotFoundException",
            f"Document {name} is of type {document.document_type}; StartAutomationExecution runs Automation documents.",
        )
    content = document.content_json
    if not isinstance(content, dict):
        raise AwsError("InvalidDocumentContent", f"The content of document {name} is not valid.")
    return ResolvedDocument(name=name, version=str(document.document_version), content=content, owner=document.owner)


# ---------------------------------------------------------------------------------------------- creation checks

_DOCUMENT_WRITES = ("AmazonSSM.CreateDocument", "AmazonSSM.UpdateDocument")


def install_creation_checks(app: SandboxApp) -> None:
    """Refuse Automation documents AWS refuses, before moto stores them (InvalidDocumentContent).

    moto stores any content. AWS validates an Automation runbook when it is created or updated: unknown
    actions, duplicate step names, steps going to no step and malformed branch choices are refused there,
    so they never reach an execution. The check wraps ``app.inner``; it reads the request body and rewinds it
    for moto.
    """
    inner = app.inner

    def checked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET", "") in _DOCUMENT_WRITES:
            error = _creation_error(app, environ)
            if error is not None:
                payload = json.dumps({"__type": error.code, "message": error.message}).encode()
                start_response(
                    f"{error.status} Error",
                    [
                        ("Content-Type", "application/x-amz-json-1.1"),
                        ("Content-Length", str(len(payload))),
                        ("x-amzn-ErrorType", error.code),
                    ],
                )
                return [payload]
        return inner(environ, start_response)

    app.inner = checked


def _creation_error(app: SandboxApp, environ: dict[str, Any]) -> AwsError | None:
    try:
        request = json.loads(SandboxApp.read_body(environ) or b"{}")
    except json.JSONDecodeError:
        return None  # moto answers malformed requests itself
    if not isinstance(request, dict) or not isinstance(request.get("Content"), str):
        return None
    operation = environ["HTTP_X_AMZ_TARGET"].rsplit(".", 1)[1]
    document_type = request.get("DocumentType")
    if operation == "UpdateDocument":
        ctx = app.context(environ, operation, "ssm")
        existing = get_backend("ssm")[ctx.account_id][ctx.region]._documents.get(str(request.get("Name")))
        document_type = existing.get_default_version().document_type if existing is not None else None
    if document_type != "Automation":
        return None
    name = str(request.get("Name") or "document")
    try:
        data = load_document_text(request["Content"], name)
    except InputError:
        return None  # moto refuses unparseable content with its own message
    problems = creation_problems(data, name)
    if not problems:
        return None
    details = "; ".join(f"step {p.step}: {p.message}" if p.step else p.message for p in problems)
    return AwsError("InvalidDocumentContent", f"The content for the document is not valid: {details}")
