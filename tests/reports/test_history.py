"""The KPI history: append-only, locally and on S3 (the sandbox); re-runs count once when read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drift_repair.core.errors import InputError
from drift_repair.core.kpi import month_kpi
from drift_repair.core.models import RemediationRow, RemediationState
from drift_repair.reports.history import append_history, history_path, read_history, records_for_run

RUN = "scheduled__2026-11-02T18:00:00+00:00"
T0 = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)


def rows(state: RemediationState) -> list[RemediationRow]:
    return [
        RemediationRow(
            resource_address=f"aws_s3_bucket_versioning.b{i}",
            resource_id=f"b{i}",
            config_rule_name="s3-bucket-versioning-enabled",
            runbook_name="DriftRepair-S3-EnableVersioning",
            state=state,
            detected_at=T0,
            approved_at=T0 + timedelta(hours=1),
            started_at=T0 + timedelta(hours=1),
            finished_at=T0 + timedelta(hours=2) if state.is_terminal else None,
        )
        for i in range(2)
    ]


def test_local_history_is_appended_and_a_rerun_counts_once(tmp_path: Path) -> None:
    path = history_path(tmp_path)
    first = records_for_run(
        rows(RemediationState.EXECUTING), environment="dev", dag_run_id=RUN, recorded_at=T0 + timedelta(hours=1)
    )
    append_history(first, path=path)
    original = path.read_bytes()
    rerun = records_for_run(
        rows(RemediationState.VERIFIED), environment="dev", dag_run_id=RUN, recorded_at=T0 + timedelta(hours=3)
    )
    append_history(rerun, path=path)
    assert path.read_bytes().startswith(original)  # appended, never rewritten
    assert len(read_history(path, deduplicate=False)) == 4
    history = read_history(path)
    assert len(history) == 2 and {r.state for r in history} == {RemediationState.VERIFIED}
    kpi = month_kpi(history, "2026-11")
    assert (kpi.detections, kpi.verified, kpi.success_rate) == (2, 2, 1.0)


def test_escalated_items_are_marked(tmp_path: Path) -> None:
    items = rows(RemediationState.DETECTED)
    records = records_for_run(items, environment="dev", dag_run_id=RUN, escalated=[items[0].item_key])
    assert [r.escalated for r in records] == [True, False]


def test_an_interrupted_last_line_is_ignored_but_a_corrupt_line_is_an_error(tmp_path: Path) -> None:
    path = history_path(tmp_path)
    append_history(records_for_run(rows(RemediationState.VERIFIED), environment="dev", dag_run_id=RUN), path=path)
    with path.open("a") as fh:
        fh.write('{"environment": "dev", "dag_run')  # the worker died mid-append
    assert len(read_history(path)) == 2
    path.write_text("not json\n" + path.read_text())
    with pytest.raises(InputError, match="line 1"):
        read_history(path)
    with pytest.raises(InputError, match="no KPI history"):
        read_history(tmp_path / "missing.jsonl")


def test_s3_history_is_one_new_object_per_append(sandbox) -> None:  # type: ignore[no-untyped-def]
    s3 = sandbox.client("s3")
    bucket = f"history-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    first = records_for_run(rows(RemediationState.EXECUTING), environment="dev", dag_run_id=RUN, recorded_at=T0)
    a = append_history(first, bucket=bucket, client=s3)
    b = append_history(first, bucket=bucket, client=s3)  # a retried task appending the very same records
    assert a.s3_url == b.s3_url and a.s3_url is not None
    assert a.s3_url.startswith(f"s3://{bucket}/kpi-history/dev/2026/11/scheduled__2026-11-02T18_00_00_00_00-")
    later = records_for_run(
        rows(RemediationState.VERIFIED), environment="dev", dag_run_id=RUN, recorded_at=T0 + timedelta(hours=3)
    )
    c = append_history(later, bucket=bucket, client=s3)
    assert c.s3_url != a.s3_url
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 2
    history = read_history(f"s3://{bucket}/kpi-history/", client=s3)
    assert len(history) == 2 and all(r.state is RemediationState.VERIFIED for r in history)
    assert len(read_history(f"s3://{bucket}/kpi-history/dev/", endpoint_url=sandbox.url, deduplicate=False)) == 4
