"""The report task's one call, end to end against the sandbox: bundle, upload, history, summary; retry-safe."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from drift_repair.core import compare, config_items, environment, mappings, terraform
from drift_repair.core.models import RemediationRow, RemediationState, Verdict
from drift_repair.reports.evidence import verify_bundle
from drift_repair.reports.publish import publish_run_evidence

REPO = Path(__file__).resolve().parents[2]
DEV = REPO / "include" / "environments" / "dev"
NOW = datetime(2026, 11, 3, 3, 0, tzinfo=UTC)
RUN = "scheduled__2026-11-02T18:00:00+00:00"


@pytest.fixture
def env(sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    extra = {"endpoint_url": sandbox.url, "region_name": "ap-northeast-1"}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_PUBLISH", json.dumps({"conn_type": "aws", "extra": extra}))
    bucket = f"evidence-{uuid.uuid4().hex[:12]}"
    sandbox.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"}
    )
    topic = sandbox.client("sns").create_topic(Name=f"drift-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sqs = sandbox.client("sqs")
    queue = sqs.create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sandbox.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    config = replace(
        environment.load_environment("dev"),
        evidence_dir=str(tmp_path / "evidence"),
        evidence_bucket=bucket,
        aws_conn_id="aws_publish",
        sns_topic_arn=topic,
        slack_conn_id=None,
        base_url="http://airflow.example:8080",
    )
    return config, queue


def test_publish_then_retry(sandbox, env) -> None:  # type: ignore[no-untyped-def]
    config, queue = env
    doc = terraform.load(DEV / "plan.json")
    maps = mappings.load_mappings()
    actual = config_items.ActualIndex(config_items.load_snapshot(DEV / "config-snapshot.json"))
    pre = compare.detect(doc, maps, actual, config.context).rows
    post = [replace(r, actual=r.expected, verdict=Verdict.OK) if r.verdict is Verdict.NG else r for r in pre]
    detected = NOW - timedelta(hours=9)
    rems = [
        RemediationRow(
            resource_address=r.resource_address,
            resource_id=r.resource_id or "?",
            config_rule_name=r.config_rule,
            runbook_name=r.runbook,
            state=RemediationState.VERIFIED,
            approver="admin",
            detected_at=detected,
            approved_at=detected + timedelta(hours=1),
            started_at=detected + timedelta(hours=1),
            finished_at=detected + timedelta(hours=2),
            exit_code=0,
        )
        for r in pre
        if r.verdict is Verdict.NG and r.runbook
    ]
    kwargs = {
        "dag_id": "drift_repair_dev",
        "run_id": RUN,
        "design_values": compare.design_values(compare.build_targets(doc, maps, config.context)),
        "pre_rows": [r.to_dict() for r in pre],
        "post_rows": [r.to_dict() for r in post],
        "remediation_rows": [r.to_dict() for r in rems],
        "reconcile": {"engine": "native", "exit_code": 0},
        "client": sandbox.client("s3"),
    }
    first = publish_run_evidence(config, now=NOW, **kwargs)
    assert not first.reused_bundle and first.files == 7
    assert first.s3_url == f"s3://{config.evidence_bucket}/dev/scheduled__2026-11-02T18_00_00_00_00/"
    assert verify_bundle(first.s3_url, client=sandbox.client("s3")).ok
    assert first.kpi["month"] == "2026-11" and first.kpi["detections"] == len(rems) and first.kpi["success_rate"] == 1.0
    wb = load_workbook(Path(first.bundle_dir) / "drift-report.xlsx")
    assert wb.sheetnames == ["パラメーターシート", "差分一覧", "修復履歴", "drift_kpi"]
    assert wb["修復履歴"].max_row == len(rems) + 1
    assert [d["status"] for d in first.deliveries] == ["sent", "skipped"]
    body = json.loads(sandbox.client("sqs").receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"][0]["Body"])
    assert "http://airflow.example:8080/dags/drift_repair_dev/runs/" + RUN in body["Message"]
    assert first.s3_url in body["Message"]

    # The report task is retried: same bundle reused, nothing overwritten, the KPIs do not double.
    again = publish_run_evidence(config, now=NOW + timedelta(minutes=5), notify=False, **kwargs)
    assert again.reused_bundle and again.s3_url == first.s3_url
    assert again.kpi["detections"] == len(rems)
    assert verify_bundle(again.s3_url, client=sandbox.client("s3")).ok
