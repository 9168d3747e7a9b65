"""Approval requests and run summaries: content, SNS (the sandbox), Slack (a local webhook), secrets."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from drift_repair.core.kpi import MonthlyKpi
from drift_repair.core.models import RemediationRow, RemediationState
from drift_repair.reports.notifications import (
    build_approval_message,
    build_summary_message,
    send_message,
)

BASE = "http://airflow.example:8080"
RUN = "manual__2026-11-02T09:00:00+00:00"
RUN_LINK = f"{BASE}/dags/drift_repair_dev/runs/{RUN}"
TOKEN = "T000/B000/s3cr3tW3bh00kT0k3n"

ITEMS = [
    RemediationRow(
        resource_address="aws_db_instance.main",
        resource_id="db-1",
        config_rule_name="db-instance-backup-enabled",
        runbook_name="DriftRepair-RDS-EnableBackupRetention",
        attributes=("backup_retention_period",),
    ),
    RemediationRow(
        resource_address='module.storage.aws_s3_bucket_versioning.this["<!channel>"]',
        resource_id="logs",
        config_rule_name="s3-bucket-versioning-enabled",
        runbook_name="DriftRepair-S3-EnableVersioning",
        state=RemediationState.FAILED,
        error_message="AccessDenied",
    ),
]
PRE = {"verdicts": {"OK": 43, "NG": 9, "UNKNOWN": 2}}
POST = {"verdicts": {"OK": 51, "NG": 1, "UNKNOWN": 2}}


def approval(language: str = "ja"):  # type: ignore[no-untyped-def]
    return build_approval_message(
        environment="dev",
        dag_id="drift_repair_dev",
        run_id=RUN,
        base_url=BASE + "/",
        items=ITEMS,
        approval_task_id="approve",
        timeout_minutes=60,
        approvers=["admin"],
        language=language,
    )


def summary(language: str = "ja"):  # type: ignore[no-untyped-def]
    kpi = MonthlyKpi("2026-11", 9, 5, 3, 0.6, 3, 3.0, 1, 1, 8, 5, 0.625, 3, 5.0)
    return build_summary_message(
        environment="dev",
        dag_id="drift_repair_dev",
        run_id=RUN,
        base_url=BASE,
        pre_summary=PRE,
        post_summary=POST,
        remediation_rows=[r.to_dict() for r in ITEMS],
        evidence_location="s3://evidence/dev/run/",
        kpi=kpi,
        language=language,
    )


def test_approval_request_links_to_the_required_action_and_lists_the_repairs() -> None:
    msg = approval()
    assert msg.link == f"{RUN_LINK}/tasks/approve/required_actions"
    text = msg.plain_text()
    assert msg.link in text
    assert "承認期限: 60 分以内" in text and "承認者: admin" in text
    assert "- aws_db_instance.main (DriftRepair-RDS-EnableBackupRetention, backup_retention_period)" in text
    assert msg.subject == "[drift-repair] dev: approval required for 2 repair(s)"
    assert approval() == approval()  # pure: a retried task builds the same message
    assert approval("en").plain_text().startswith("[drift-repair] dev: approval required for 2 repair(s)")


def test_summary_reports_verdicts_failures_evidence_and_kpis() -> None:
    msg = summary()
    text = msg.plain_text()
    assert msg.link == RUN_LINK and RUN_LINK in text
    assert "修復前: OK 43 / NG 9 / UNKNOWN 2" in text and "修復後: OK 51 / NG 1 / UNKNOWN 2" in text
    assert "(AccessDenied)" in text and "s3://evidence/dev/run/" in text
    assert "成功率 60.0% / 平均承認 3.00 h / 手動対応率 62.5%" in text
    assert msg.subject == "[drift-repair] dev: run ATTENTION"
    assert summary("en").title == "[drift-repair] dev: run ATTENTION"


def test_subjects_are_ascii_and_short_enough_for_sns() -> None:
    msg = build_summary_message(
        environment="dev",
        dag_id="d",
        run_id="手動" * 80,
        base_url=BASE,
        pre_summary=PRE,
        post_summary={"verdicts": {"OK": 1, "NG": 0, "UNKNOWN": 0}},
    )
    assert msg.subject.isascii() and len(msg.subject) < 100
    assert msg.subject.endswith("run OK")


def test_slack_text_escapes_values_but_keeps_the_link() -> None:
    text = approval().slack_text()
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert f"<{RUN_LINK}/tasks/approve/required_actions|承認画面>" in text


# --------------------------------------------------------------------------------------------- delivery


def test_slack_is_skipped_without_a_connection_and_sns_without_a_topic() -> None:
    deliveries = send_message(approval(), sns_topic_arn=None, slack_conn_id=None)
    assert [(d.channel, d.status) for d in deliveries] == [("sns", "skipped"), ("slack", "skipped")]


def test_sns_publishes_through_the_provider_notifier(sandbox, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    extra = {"endpoint_url": sandbox.url, "region_name": "ap-northeast-1"}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_NOTIFY", json.dumps({"conn_type": "aws", "extra": extra}))
    sns, sqs = sandbox.client("sns"), sandbox.client("sqs")
    topic = sns.create_topic(Name=f"drift-repair-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    deliveries = send_message(summary(), sns_topic_arn=topic, aws_conn_id="aws_notify")
    assert [(d.channel, d.status) for d in deliveries] == [("sns", "sent"), ("slack", "skipped")]
    body = json.loads(sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2)["Messages"][0]["Body"])
    assert body["Subject"] == "[drift-repair] dev: run ATTENTION"
    assert RUN_LINK in body["Message"]
    assert body["MessageAttributes"]["environment"]["Value"] == "dev"


class _Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Webhook.received.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    """A local stand-in for hooks.slack.com: records what Slack would receive."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    _Webhook.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/services/{TOKEN}"
    finally:
        server.shutdown()
        server.server_close()


def test_slack_posts_through_the_webhook_connection_and_masks_its_url(
    webhook: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from airflow.sdk.log import redact

    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DRIFT", json.dumps({"conn_type": "slackwebhook", "password": webhook}))
    caplog.set_level(logging.DEBUG)
    deliveries = send_message(approval(), slack_conn_id="slack_drift")
    assert [(d.channel, d.status) for d in deliveries] == [("sns", "skipped"), ("slack", "sent")]
    (post,) = _Webhook.received
    assert post["path"] == f"/services/{TOKEN}"
    text = post["body"]["text"]  # type: ignore[index]
    assert f"{RUN_LINK}/tasks/approve/required_actions" in text
    assert TOKEN not in text and webhook not in text
    # The webhook URL is registered with Airflow's secrets masker: task logs show *** instead.
    assert redact(f"posting to {webhook}") == "posting to ***"
    assert TOKEN not in caplog.text


def test_a_failing_channel_is_reported_without_leaking_the_webhook(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://127.0.0.1:9/services/{TOKEN}"  # nothing listens on port 9
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEAD", json.dumps({"conn_type": "slackwebhook", "password": dead}))
    deliveries = send_message(summary(), slack_conn_id="slack_dead")
    slack = deliveries[1]
    assert slack.status == "failed"
    assert TOKEN not in slack.detail
    assert TOKEN not in caplog.text
    missing = send_message(summary(), slack_conn_id="no_such_connection")[1]
    assert missing.status == "failed" and "no_such_connection" in missing.detail


def test_decision_message_names_who_decided_or_that_nobody_did() -> None:
    from drift_repair.reports.notifications import build_decision_message

    approved = build_decision_message(
        environment="prod",
        dag_id="drift_repair__prod",
        run_id="manual__1",
        base_url="https://airflow.example",
        choice="Approve",
        responder="Alice",
        responded_at="2026-11-30T03:00:00+00:00",
        comment="CHG-7",
        language="en",
    )
    assert approved.subject == "[drift-repair] prod: approval Approve"
    assert "Approve by Alice at 2026-11-30T03:00:00+00:00" in approved.plain_text()
    assert "Comment: CHG-7" in approved.plain_text()
    assert approved.link == "https://airflow.example/dags/drift_repair__prod/runs/manual__1"
    timed_out = build_decision_message(
        environment="dev",
        dag_id="d",
        run_id="r",
        base_url="http://x",
        choice="Reject",
        responder=None,
        responded_at=None,
        language="ja",
    )
    assert "既定の却下" in timed_out.plain_text()
    assert timed_out.subject.endswith("Reject (timeout)")
