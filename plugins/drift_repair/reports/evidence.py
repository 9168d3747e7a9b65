"""The evidence bundle of one run: what auditors get, written once, hashed, verifiable anywhere.

Layout (local ``<evidence_dir>/<environment>/<run>/`` and ``s3://<bucket>/<environment>/<run>/``)::

    diff-pre.json              DiffRows before repair, with the verdict summary
    diff-post.json             DiffRows of the re-compare after repair
    remediations.json          RemediationRows (state, runbook, execution id, approver, times, error)
    approvals.json             approval gate records (decision, and per answer: responder, time, choice, comment)
    ssm-step-executions.json   SSM Automation step executions per execution id
    reconcile.json             the Terraform reconcile result
    drift-report.xlsx          the run workbook
    manifest.json              SHA-256 and size of every file above

``<run>`` is the DAG run id with characters outside ``[A-Za-z0-9._-]`` replaced by ``_`` (run ids carry
``:`` and ``+``, which Windows paths and some S3 tools mishandle); the manifest keeps the exact run id.

Nothing is ever overwritten: the local bundle is built in a temporary directory and renamed into place
only if no bundle exists; uploads are conditional puts (``If-None-Match: *``). An upload interrupted half way
can be repeated: objects already there with the same SHA-256 are accepted, any other content is refused.
The manifest goes last, so a bundle without ``manifest.json`` is visibly incomplete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any

from drift_repair.aws import s3
from drift_repair.core.approvals import ApprovalRecord
from drift_repair.core.compare import summarise
from drift_repair.core.errors import DriftRepairError
from drift_repair.core.models import DiffRow, RemediationRow, display_value
from drift_repair.core.reconcile import ReconcileResult

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = "drift-repair/evidence-manifest/v1"
WORKBOOK_NAME = "drift-report.xlsx"
FILE_NAMES = {
    "pre": "diff-pre.json",
    "post": "diff-post.json",
    "remediations": "remediations.json",
    "approvals": "approvals.json",
    "steps": "ssm-step-executions.json",
    "reconcile": "reconcile.json",
}

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_CHUNK = 1 << 20


class EvidenceError(DriftRepairError):
    """An evidence bundle cannot be written, uploaded or read."""


class EvidenceExistsError(EvidenceError):
    """Evidence for this run is already there with different content: refusing to overwrite it."""


def run_segment(run_id: str) -> str:
    """The run id as one safe path / key segment (see module docstring)."""
    segment = _UNSAFE.sub("_", run_id).strip(".")
    if not segment:
        raise ValueError(f"run id {run_id!r} gives an empty path segment")
    return segment


def bundle_dir(evidence_dir: str | Path, environment: str, run_id: str) -> Path:
    """``<evidence_dir>/<environment>/<run>``: where :func:`write_bundle` puts a run's evidence."""
    return Path(evidence_dir) / run_segment(environment) / run_segment(run_id)


def _default(value: Any) -> Any:
    if callable(getattr(value, "to_dict", None)):  # the project's models
        return value.to_dict()
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return display_value(value)


def to_json_bytes(document: Any) -> bytes:
    """Stable, readable JSON (sorted keys, UTF-8, trailing newline): equal content gives equal hashes."""
    text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True, default=_default)
    return (text + "\n").encode("utf-8")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class BundleManifest:
    """The manifest of a bundle: what was written, with hashes; ``directory`` is where (not serialised)."""

    environment: str
    run_id: str
    created_at: str
    files: tuple[ManifestEntry, ...]
    directory: Path | None = field(default=None, compare=False)

    @property
    def prefix(self) -> str:
        """``<environment>/<run>``: the S3 key prefix of this bundle."""
        return f"{run_segment(self.environment)}/{run_segment(self.run_id)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": MANIFEST_SCHEMA,
            "algorithm": "SHA-256",
            "environment": self.environment,
            "run_id": self.run_id,
            "created_at": self.created_at,
            "files": [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in self.files],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], directory: Path | None = None) -> BundleManifest:
        if data.get("schema") != MANIFEST_SCHEMA:
            raise EvidenceError(f"manifest schema is {data.get('schema')!r}, expected {MANIFEST_SCHEMA!r}")
        try:
            files = tuple(ManifestEntry(str(f["path"]), str(f["sha256"]), int(f["size"])) for f in data["files"])
            return cls(str(data["environment"]), str(data["run_id"]), str(data["created_at"]), files, directory)
        except (KeyError, TypeError, ValueError) as exc:
            raise EvidenceError(f"manifest is malformed: {exc!r}") from None


def _diff_document(phase: str, rows: Iterable[DiffRow | Mapping[str, Any]], environment: str, run_id: str) -> Any:
    parsed = [r if isinstance(r, DiffRow) else DiffRow.from_dict(r) for r in rows]
    return {
        "environment": environment,
        "run_id": run_id,
        "phase": phase,
        "summary": summarise(parsed),
        "rows": [r.to_dict() for r in parsed],
    }


def _remediation_document(rows: Iterable[RemediationRow | Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [(r if isinstance(r, RemediationRow) else RemediationRow.from_dict(r)).to_dict() for r in rows]


def write_bundle(
    evidence_dir: str | Path,
    *,
    environment: str,
    run_id: str,
    pre_rows: Iterable[DiffRow | Mapping[str, Any]],
    post_rows: Iterable[DiffRow | Mapping[str, Any]] = (),
    remediation_rows: Iterable[RemediationRow | Mapping[str, Any]] = (),
    approvals: Iterable[ApprovalRecord | Mapping[str, Any]] = (),
    step_executions: Any = (),
    reconcile: ReconcileResult | Mapping[str, Any] | None = None,
    workbook: str | Path | None = None,
    created_at: datetime | None = None,
) -> BundleManifest:
    """Write the bundle of one run under ``<evidence_dir>/<environment>/<run>/`` and return its manifest.

    Accepts model objects (DiffRow, RemediationRow, the approval gate's ApprovalRecord, ReconcileResult) or
    their ``to_dict`` forms (what comes out of XCom). Raises
    :class:`EvidenceExistsError` if that run already has a bundle: evidence is written once.
    """
    final = bundle_dir(evidence_dir, environment, run_id)
    if final.exists():
        raise EvidenceExistsError(f"{final}: evidence for run {run_id!r} already exists; not overwritten")
    final.parent.mkdir(parents=True, exist_ok=True)
    created = (created_at or datetime.now(UTC)).astimezone(UTC).isoformat()
    documents: dict[str, Any] = {
        FILE_NAMES["pre"]: _diff_document("pre", pre_rows, environment, run_id),
        FILE_NAMES["post"]: _diff_document("post", post_rows, environment, run_id),
        FILE_NAMES["remediations"]: _remediation_document(remediation_rows),
        FILE_NAMES["approvals"]: [a if isinstance(a, Mapping) else a.to_dict() for a in approvals],
        FILE_NAMES["steps"]: step_executions,
        FILE_NAMES["reconcile"]: reconcile,
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        entries: list[ManifestEntry] = []
        for name, document in documents.items():
            data = to_json_bytes(document)
            (tmp / name).write_bytes(data)
            entries.append(ManifestEntry(name, sha256_bytes(data), len(data)))
        if workbook is not None:
            target = tmp / WORKBOOK_NAME
            shutil.copyfile(workbook, target)
            entries.append(ManifestEntry(WORKBOOK_NAME, sha256_file(target), target.stat().st_size))
        manifest = BundleManifest(environment, run_id, created, tuple(sorted(entries, key=lambda e: e.path)))
        (tmp / MANIFEST_NAME).write_bytes(to_json_bytes(manifest.to_dict()))
        try:
            os.rename(tmp, final)  # atomic; fails if a bundle appeared meanwhile (non-empty directory)
        except OSError as exc:
            raise EvidenceExistsError(f"{final}: cannot be created ({exc.strerror}); not overwritten") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("evidence bundle written: %s (%d files)", final, len(entries))
    return BundleManifest(manifest.environment, manifest.run_id, manifest.created_at, manifest.files, final)


def read_manifest(directory: str | Path) -> BundleManifest:
    path = Path(directory) / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvidenceError(f"{path}: no manifest (not a bundle, or an incomplete one)") from None
    except json.JSONDecodeError as exc:
        raise EvidenceError(f"{path}: not valid JSON ({exc.msg})") from None
    return BundleManifest.from_dict(data, Path(directory))


@dataclass(frozen=True, slots=True)
class UploadResult:
    url: str
    created: tuple[str, ...]
    already_present: tuple[str, ...]


def upload_bundle(
    directory: str | Path,
    bucket: str,
    *,
    client: Any = None,
    aws_conn_id: str | None = None,
    prefix: str | None = None,
) -> UploadResult:
    """Upload a written bundle to ``s3://<bucket>/<environment>/<run>/``; never overwrite anything.

    ``client`` is a boto3 S3 client; without it one is made from the Airflow connection ``aws_conn_id``
    through the amazon provider's S3Hook. Raises :class:`EvidenceExistsError` when a key holds other content
    (the local bundle is checked against its manifest first, so a tampered bundle is not uploaded either).
    """
    manifest = read_manifest(directory)
    check = verify_bundle(directory)
    if not check.ok:
        raise EvidenceError(f"{directory}: bundle does not match its manifest; not uploaded:\n{check.report()}")
    if client is None:
        client = s3.s3_client(aws_conn_id=aws_conn_id)
    base = (prefix if prefix is not None else manifest.prefix).strip("/")
    created: list[str] = []
    present: list[str] = []
    for name in bundle_files(manifest):
        key = f"{base}/{name}"
        body = (Path(directory) / name).read_bytes()
        content_type = "application/json" if name.endswith(".json") else None
        if s3.put_new_object(client, bucket, key, body, content_type=content_type):
            created.append(key)
            continue
        existing = s3.read_object(client, bucket, key)
        if existing is None or sha256_bytes(existing) != sha256_bytes(body):
            raise EvidenceExistsError(f"s3://{bucket}/{key} already exists with other content; not overwritten")
        present.append(key)
    return UploadResult(f"s3://{bucket}/{base}/", tuple(created), tuple(present))


@dataclass(frozen=True, slots=True)
class Problem:
    """One way a bundle differs from its manifest."""

    kind: str  # "mismatch" | "missing" | "extra" | "invalid"
    path: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind.upper():8} {self.path}" + (f"  ({self.detail})" if self.detail else "")


@dataclass(frozen=True, slots=True)
class VerifyResult:
    location: str
    checked: int
    problems: tuple[Problem, ...]
    manifest: BundleManifest | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.manifest is not None

    def report(self) -> str:
        head = f"{self.location}: " + ("OK" if self.ok else "FAILED")
        if self.manifest is not None:
            head += f" (environment {self.manifest.environment}, run {self.manifest.run_id}, {self.checked} files)"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


def _valid_member(path: str) -> bool:
    pure = PurePosixPath(path)
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts and "\\" not in path


def _compare(location: str, manifest: BundleManifest, actual: Mapping[str, tuple[str, int] | None]) -> VerifyResult:
    """Compare the manifest with ``actual`` (path -> (sha256, size), or None when unreadable/absent)."""
    problems: list[Problem] = []
    listed = set()
    for entry in manifest.files:
        listed.add(entry.path)
        if not _valid_member(entry.path):
            problems.append(Problem("invalid", entry.path, "path outside the bundle"))
            continue
        found = actual.get(entry.path)
        if found is None:
            problems.append(Problem("missing", entry.path))
        elif found[0] != entry.sha256:
            problems.append(Problem("mismatch", entry.path, f"sha256 {found[0]} != manifest {entry.sha256}"))
    problems.extend(Problem("extra", p, "not in the manifest") for p in sorted(set(actual) - listed))
    return VerifyResult(location, len(manifest.files), tuple(problems), manifest)


def _verify_directory(directory: Path) -> VerifyResult:
    try:
        manifest = read_manifest(directory)
    except EvidenceError as exc:
        return VerifyResult(str(directory), 0, (Problem("missing", MANIFEST_NAME, str(exc)),))
    present = {
        p.relative_to(directory).as_posix(): p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST_NAME
    }
    actual: dict[str, tuple[str, int] | None] = {rel: (sha256_file(p), p.stat().st_size) for rel, p in present.items()}
    return _compare(str(directory), manifest, actual)


def _verify_s3(url: str, client: Any) -> VerifyResult:
    loc = s3.parse_s3_url(url)
    base = loc.key.strip("/")
    base = f"{base}/" if base else ""
    raw = s3.read_object(client, loc.bucket, f"{base}{MANIFEST_NAME}")
    if raw is None:
        return VerifyResult(url, 0, (Problem("missing", MANIFEST_NAME, "no manifest under this prefix"),))
    try:
        manifest = BundleManifest.from_dict(json.loads(raw))
    except (json.JSONDecodeError, EvidenceError) as exc:
        return VerifyResult(url, 0, (Problem("invalid", MANIFEST_NAME, str(exc)),))
    actual: dict[str, tuple[str, int] | None] = {}
    for key in s3.iter_keys(client, loc.bucket, base):
        rel = key[len(base) :]
        if rel == MANIFEST_NAME:
            continue
        data = s3.read_object(client, loc.bucket, key)
        actual[rel] = None if data is None else (sha256_bytes(data), len(data))
    return _compare(url, manifest, actual)


def verify_bundle(location: str | Path, *, client: Any = None, aws_conn_id: str | None = None) -> VerifyResult:
    """Recompute every hash of a bundle (a directory or ``s3://bucket/env/run/``) against its manifest.

    Reports each file whose hash differs (``mismatch``), that the manifest lists but is not there
    (``missing``), that is there but not listed (``extra``), and manifest paths pointing outside the bundle.
    """
    text = str(location)
    if text.startswith("s3://"):
        if client is None:
            client = s3.s3_client(aws_conn_id=aws_conn_id)
        return _verify_s3(text, client)
    directory = Path(location)
    if not directory.is_dir():
        raise EvidenceError(f"{directory}: not a directory")
    return _verify_directory(directory)


def bundle_files(manifest: BundleManifest) -> Sequence[str]:
    """The files of a bundle in manifest order, the manifest last: its presence marks a complete upload."""
    return [*(e.path for e in manifest.files), MANIFEST_NAME]
