"""The KPI history: append-only records of every remediation item, locally and in S3.

Local: one JSON line per record in ``<evidence_dir>/kpi-history.jsonl``, appended under an exclusive lock
(parallel environment DAGs on one worker), never rewritten. S3: one object per append (one run's items),
``kpi-history/<environment>/<YYYY>/<MM>/<run>-<sha256 prefix>.jsonl`` written with a conditional put, so
objects are never replaced and a retried report task that appends the very same records writes the very same
key (a no-op). Duplicates from re-runs with changed content are expected and removed on read by
:func:`drift_repair.core.kpi.dedupe` (keyed by environment + DAG run id + item key).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drift_repair.aws import s3
from drift_repair.core.errors import InputError
from drift_repair.core.kpi import HistoryRecord, as_utc, dedupe
from drift_repair.core.models import RemediationRow
from drift_repair.reports.evidence import run_segment, sha256_bytes

log = logging.getLogger(__name__)

HISTORY_FILE = "kpi-history.jsonl"
HISTORY_PREFIX = "kpi-history"


def history_path(evidence_dir: str | Path) -> Path:
    """The local history file of an evidence directory."""
    return Path(evidence_dir) / HISTORY_FILE


def records_for_run(
    remediation_rows: Iterable[RemediationRow],
    *,
    environment: str,
    dag_run_id: str,
    recorded_at: datetime | None = None,
    escalated: Iterable[str] = (),
) -> list[HistoryRecord]:
    """History records for the items of one run; ``escalated`` lists item keys the loop guard escalated."""
    now = recorded_at or datetime.now(UTC)
    escalated_keys = set(escalated)
    return [
        HistoryRecord.from_remediation(
            row,
            environment=environment,
            dag_run_id=dag_run_id,
            recorded_at=now,
            escalated=row.item_key in escalated_keys,
        )
        for row in remediation_rows
    ]


def _jsonl(records: Sequence[HistoryRecord]) -> bytes:
    lines = [json.dumps(r.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":")) for r in records]
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


@dataclass(frozen=True, slots=True)
class HistoryWriteResult:
    records: int
    path: Path | None = None
    s3_url: str | None = None


def append_history(
    records: Sequence[HistoryRecord],
    *,
    path: str | Path | None = None,
    bucket: str | None = None,
    client: Any = None,
    aws_conn_id: str | None = None,
    prefix: str = HISTORY_PREFIX,
) -> HistoryWriteResult:
    """Append records to the local file (``path``) and/or as one new S3 object (``bucket``)."""
    data = _jsonl(records)
    if not data:
        return HistoryWriteResult(0)
    written_path: Path | None = None
    if path is not None:
        written_path = Path(path)
        written_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(written_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock
        log.info("appended %d KPI history records to %s", len(records), written_path)
    url: str | None = None
    if bucket is not None:
        if client is None:
            client = s3.s3_client(aws_conn_id=aws_conn_id)
        first = records[0]
        stamp = as_utc(first.recorded_at)
        key = (
            f"{prefix.strip('/')}/{run_segment(first.environment)}/{stamp:%Y}/{stamp:%m}/"
            f"{run_segment(first.dag_run_id)}-{sha256_bytes(data)[:16]}.jsonl"
        )
        s3.put_new_object(client, bucket, key, data, content_type="application/x-ndjson")
        url = f"s3://{bucket}/{key}"
    return HistoryWriteResult(len(records), written_path, url)


def _parse_lines(text: str, source: str) -> list[HistoryRecord]:
    out: list[HistoryRecord] = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(HistoryRecord.from_dict(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            if number == len(lines) and not text.endswith("\n"):
                # An append cut short (disk full, killed worker): the record was never complete.
                log.warning("%s: ignoring incomplete last line %d", source, number)
                continue
            raise InputError(source, f"line {number}: not a KPI history record ({exc})") from None
    return out


def read_history(
    source: str | Path,
    *,
    client: Any = None,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    aws_conn_id: str | None = None,
    deduplicate: bool = True,
) -> list[HistoryRecord]:
    """Read the history from a JSON-lines file or every ``.jsonl`` object under an ``s3://`` prefix.

    Deduplicated by default (see module docstring); ``deduplicate=False`` gives the raw append log.
    """
    text = str(source)
    records: list[HistoryRecord] = []
    if text.startswith("s3://"):
        loc = s3.parse_s3_url(text)
        if client is None:
            client = s3.s3_client(aws_conn_id=aws_conn_id, endpoint_url=endpoint_url, region_name=region_name)
        for key in sorted(s3.iter_keys(client, loc.bucket, loc.key)):
            if not key.endswith(".jsonl"):
                continue
            data = s3.read_object(client, loc.bucket, key) or b""
            records.extend(_parse_lines(data.decode("utf-8"), f"s3://{loc.bucket}/{key}"))
    else:
        path = Path(source)
        try:
            records = _parse_lines(path.read_text(encoding="utf-8"), str(path))
        except FileNotFoundError:
            raise InputError(path, "no KPI history file (nothing recorded yet?)") from None
    return dedupe(records) if deduplicate else records
