"""One call for the report task: workbook, bundle, upload, KPI history, summary — in the order that is safe.

Order matters for audit and for retries:

1. the KPI records of this run are built first, so that this run's own figures are in its workbook;
2. the workbook and the bundle are written locally (write-once). If a bundle for the run already exists
   (the task is being retried) it is verified and reused, never replaced; a bundle that fails verification
   stops the task;
3. the bundle is uploaded (conditional puts; an interrupted upload resumes, other content is refused);
4. only then is the KPI history appended (local file and S3), so a failed upload does not leave KPI records
   pointing at evidence that is not there; re-appends on retries are removed by the dedupe on read;
5. the run summary goes out last, with the link to the run and where the evidence is.

The result is a small JSON-serialisable dict for XCom.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drift_repair.aws import s3
from drift_repair.core.approvals import ApprovalRecord
from drift_repair.core.compare import summarise
from drift_repair.core.environment import EnvironmentConfig
from drift_repair.core.kpi import HistoryRecord, month_of, month_range, monthly_kpis
from drift_repair.core.models import DiffRow, ExpectedValue, RemediationRow
from drift_repair.core.reconcile import ReconcileResult
from drift_repair.reports import evidence, excel, history, notifications

log = logging.getLogger(__name__)

TREND_MONTHS = 12


@dataclass(frozen=True, slots=True)
class PublishResult:
    bundle_dir: str
    files: int
    reused_bundle: bool
    s3_url: str | None
    history_path: str | None
    history_s3_url: str | None
    kpi: dict[str, Any]
    deliveries: list[dict[str, str]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def past_history(env: EnvironmentConfig, local: Path | None = None, client: Any = None) -> list[HistoryRecord]:
    """What is already recorded: the S3 history when there is a bucket (shared by all workers), else local.
    Raw (not deduplicated): the KPI math and the loop guard each apply their own rules."""
    if local is None:
        local = history.history_path(Path(str(env.resolve(env.evidence_dir))))
    if env.evidence_bucket and client is not None:
        prefix = f"s3://{env.evidence_bucket}/{history.HISTORY_PREFIX}/{evidence.run_segment(env.name)}/"
        return history.read_history(prefix, client=client, deduplicate=False)
    if local.exists():
        return history.read_history(local, deduplicate=False)
    return []


def publish_run_evidence(
    env: EnvironmentConfig,
    *,
    dag_id: str,
    run_id: str,
    design_values: Iterable[ExpectedValue],
    pre_rows: Sequence[DiffRow | Mapping[str, Any]],
    post_rows: Sequence[DiffRow | Mapping[str, Any]] = (),
    remediation_rows: Sequence[RemediationRow | Mapping[str, Any]] = (),
    approvals: Iterable[ApprovalRecord | Mapping[str, Any]] = (),
    step_executions: Any = (),
    reconcile: ReconcileResult | Mapping[str, Any] | None = None,
    escalated: Iterable[str] = (),
    client: Any = None,
    now: datetime | None = None,
    tz: str = "UTC",
    notify: bool = True,
) -> PublishResult:
    """Write, upload and announce the evidence of one run (see module docstring for the order and why).

    ``client`` is a boto3 S3 client; by default one comes from the environment's Airflow connection
    (``aws_conn_id``) through S3Hook when the environment has an evidence bucket.
    """
    now = now or datetime.now(UTC)
    rems = [r if isinstance(r, RemediationRow) else RemediationRow.from_dict(r) for r in remediation_rows]
    evidence_dir = Path(str(env.resolve(env.evidence_dir)))
    local_history = history.history_path(evidence_dir)
    if env.evidence_bucket and client is None:
        client = s3.s3_client(aws_conn_id=env.aws_conn_id, region_name=env.region)

    records = history.records_for_run(
        rems, environment=env.name, dag_run_id=run_id, recorded_at=now, escalated=escalated
    )
    window = month_range(month_of(now, tz), TREND_MONTHS)
    kpis = monthly_kpis(
        [*past_history(env, local_history, client), *records], months=window, tz=tz, environment=env.name
    )

    reused = False
    try:
        with tempfile.TemporaryDirectory(prefix="drift-report-") as tmp:
            workbook = excel.write_run_workbook(
                Path(tmp) / evidence.WORKBOOK_NAME,
                design_values=design_values,
                pre_rows=pre_rows,
                post_rows=post_rows,
                remediation_rows=rems,
                kpis=kpis,
                language=env.report_language,
                environment=env.name,
                run_id=run_id,
            )
            manifest = evidence.write_bundle(
                evidence_dir,
                environment=env.name,
                run_id=run_id,
                pre_rows=pre_rows,
                post_rows=post_rows,
                remediation_rows=rems,
                approvals=approvals,
                step_executions=step_executions,
                reconcile=reconcile,
                workbook=workbook,
                created_at=now,
            )
        directory = manifest.directory or evidence.bundle_dir(evidence_dir, env.name, run_id)
    except evidence.EvidenceExistsError:
        directory = evidence.bundle_dir(evidence_dir, env.name, run_id)
        check = evidence.verify_bundle(directory)
        if not check.ok:
            raise evidence.EvidenceError(f"existing bundle does not verify; not reused:\n{check.report()}") from None
        log.info("bundle for run %s exists and verifies; reusing it", run_id)
        manifest, reused = evidence.read_manifest(directory), True

    s3_url = None
    if env.evidence_bucket:
        s3_url = evidence.upload_bundle(directory, env.evidence_bucket, client=client).url

    written = history.append_history(records, path=local_history, bucket=env.evidence_bucket, client=client)

    deliveries: list[notifications.Delivery] = []
    if notify and env.base_url:
        message = notifications.build_summary_message(
            environment=env.name,
            dag_id=dag_id,
            run_id=run_id,
            base_url=env.base_url,
            pre_summary=summarise(DiffRow.from_dict(r) if isinstance(r, Mapping) else r for r in pre_rows),
            post_summary=(
                summarise(DiffRow.from_dict(r) if isinstance(r, Mapping) else r for r in post_rows)
                if post_rows
                else None
            ),
            remediation_rows=rems,
            evidence_location=s3_url or str(directory),
            kpi=kpis[-1],
            language=env.report_language,
        )
        deliveries = notifications.send_message(
            message,
            sns_topic_arn=env.sns_topic_arn,
            aws_conn_id=env.aws_conn_id,
            region_name=env.region,
            slack_conn_id=env.slack_conn_id,
        )
    return PublishResult(
        bundle_dir=str(directory),
        files=len(manifest.files),
        reused_bundle=reused,
        s3_url=s3_url,
        history_path=str(written.path) if written.path else None,
        history_s3_url=written.s3_url,
        kpi=kpis[-1].to_dict(),
        deliveries=[asdict(d) for d in deliveries],
    )
