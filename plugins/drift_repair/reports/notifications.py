"""Approval requests and run summaries, to SNS and (when a connection is configured) Slack.

Messages are plain data built by pure functions (:func:`build_approval_message`,
:func:`build_summary_message`), each with the link to the run in the Airflow UI. :func:`send_message`
delivers one through the providers' own notifiers: ``SnsNotifier`` (apache-airflow-providers-amazon) and
``SlackWebhookNotifier`` (apache-airflow-providers-slack). Delivery is best effort and per channel: a
Slack outage must not fail the report task that writes the evidence, so failures come back as
:class:`Delivery` results (and a warning in the task log) for the caller to act on.

Secrets: the Slack webhook URL lives only in the Airflow connection (password, or host + token), never in
settings, messages or code. Before anything is sent, its secret parts are registered with Airflow's secrets
masker (``mask_secret``), so even a library that logs the URL at debug level shows ``***`` in task logs.
Text that came from Terraform or AWS is escaped for Slack (``<!channel>`` in a tag must not ping anyone).
SNS subjects must be ASCII and under 100 characters, so subjects are English; bodies follow the language.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from drift_repair.core.kpi import MonthlyKpi
from drift_repair.core.models import RemediationRow, RemediationState

log = logging.getLogger(__name__)

SUBJECT_MAX = 99
MAX_ITEMS = 20

_TEXT: dict[str, dict[str, str]] = {
    "ja": {
        "approval_title": "[drift-repair] {env}: 修復の承認が必要です（{n} 件）",
        "summary_title": "[drift-repair] {env}: 実行結果 {status}",
        "dag": "DAG: {dag} / 実行ID: {run}",
        "deadline": "承認期限: {m} 分以内（既定は却下）",
        "approvers": "承認者: {who}",
        "items": "修復対象:",
        "more": "…ほか {n} 件",
        "approve_link": "承認画面",
        "run_link": "実行の詳細",
        "before": "修復前: OK {OK} / NG {NG} / UNKNOWN {UNKNOWN}",
        "after": "修復後: OK {OK} / NG {NG} / UNKNOWN {UNKNOWN}",
        "no_after": "修復後: 再比較なし",
        "states": "修復: {states}",
        "evidence": "証跡: {where}",
        "kpi": "{month} KPI: 成功率 {success} / 平均承認 {approval} / 手動対応率 {manual}",
        "none": "なし",
        "decision_title": "[drift-repair] {env}: 承認結果 {decision}",
        "decision_by": "{decision}: {who}（{when}）",
        "decision_timeout": "期限内に回答がなく、既定の却下が適用されました",
        "comment": "コメント: {text}",
    },
    "en": {
        "approval_title": "[drift-repair] {env}: approval required for {n} repair(s)",
        "summary_title": "[drift-repair] {env}: run {status}",
        "dag": "DAG: {dag} / run: {run}",
        "deadline": "Approve within {m} minutes (default: reject)",
        "approvers": "Approvers: {who}",
        "items": "To repair:",
        "more": "... and {n} more",
        "approve_link": "Approve or reject",
        "run_link": "Run details",
        "before": "Before: OK {OK} / NG {NG} / UNKNOWN {UNKNOWN}",
        "after": "After: OK {OK} / NG {NG} / UNKNOWN {UNKNOWN}",
        "no_after": "After: no re-compare",
        "states": "Repairs: {states}",
        "evidence": "Evidence: {where}",
        "kpi": "{month} KPIs: success {success} / mean approval {approval} / manual {manual}",
        "none": "none",
        "decision_title": "[drift-repair] {env}: approval {decision}",
        "decision_by": "{decision} by {who} at {when}",
        "decision_timeout": "No answer before the timeout: the default (reject) applied",
        "comment": "Comment: {text}",
    },
}


def _texts(language: str) -> dict[str, str]:
    if language not in _TEXT:
        raise ValueError(f"report language {language!r}: expected one of {', '.join(_TEXT)}")
    return _TEXT[language]


def run_url(base_url: str, dag_id: str, run_id: str) -> str:
    """The run in the Airflow 3 UI (the path Airflow's own ``build_airflow_dagrun_url`` uses)."""
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe=':+@')}"


def approval_url(base_url: str, dag_id: str, run_id: str, task_id: str) -> str:
    """The Required Actions page of the approval task (what ``HITLOperator.generate_link_to_ui`` builds)."""
    return f"{run_url(base_url, dag_id, run_id)}/tasks/{quote(task_id, safe='')}/required_actions"


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _ascii_subject(text: str) -> str:
    ascii_text = text.encode("ascii", "replace").decode("ascii").replace("\n", " ").replace("\r", " ")
    return ascii_text if len(ascii_text) <= SUBJECT_MAX else ascii_text[: SUBJECT_MAX - 3] + "..."


@dataclass(frozen=True, slots=True)
class Message:
    """A notification: ASCII subject (SNS), body lines, and the link people click."""

    kind: str  # "approval" | "decision" | "summary"
    environment: str
    run_id: str
    subject: str
    title: str
    lines: tuple[str, ...]
    link: str
    link_label: str
    attributes: Mapping[str, str] = field(default_factory=dict)

    def plain_text(self) -> str:
        """E-mail / SNS form."""
        return "\n".join([self.title, *self.lines, "", f"{self.link_label}: {self.link}"])

    def slack_text(self) -> str:
        """Slack mrkdwn form: everything escaped except our own link."""
        body = "\n".join(slack_escape(line) for line in self.lines)
        return f"*{slack_escape(self.title)}*\n{body}\n<{self.link}|{slack_escape(self.link_label)}>"


def _item_lines(rows: Sequence[RemediationRow], t: Mapping[str, str], max_items: int) -> list[str]:
    lines = [t["items"]]
    for row in rows[:max_items]:
        detail = ", ".join(x for x in (row.runbook_name, ", ".join(row.attributes)) if x)
        lines.append(f"- {row.resource_address}" + (f" ({detail})" if detail else ""))
    if len(rows) > max_items:
        lines.append(t["more"].format(n=len(rows) - max_items))
    return lines


def _rows(rows: Iterable[RemediationRow | Mapping[str, Any]]) -> list[RemediationRow]:
    return [r if isinstance(r, RemediationRow) else RemediationRow.from_dict(r) for r in rows]


def build_approval_message(
    *,
    environment: str,
    dag_id: str,
    run_id: str,
    base_url: str,
    items: Iterable[RemediationRow | Mapping[str, Any]],
    approval_task_id: str | None = None,
    timeout_minutes: int | None = None,
    approvers: Sequence[str] = (),
    language: str = "ja",
    max_items: int = MAX_ITEMS,
) -> Message:
    """ "Approval needed": what would be repaired, by whom, until when, and the link to approve."""
    t = _texts(language)
    rows = _rows(items)
    lines = [t["dag"].format(dag=dag_id, run=run_id)]
    if timeout_minutes:
        lines.append(t["deadline"].format(m=timeout_minutes))
    if approvers:
        lines.append(t["approvers"].format(who=", ".join(approvers)))
    lines += _item_lines(rows, t, max_items)
    if approval_task_id:
        link, label = approval_url(base_url, dag_id, run_id, approval_task_id), t["approve_link"]
    else:
        link, label = run_url(base_url, dag_id, run_id), t["run_link"]
    n = len(rows)
    return Message(
        kind="approval",
        environment=environment,
        run_id=run_id,
        subject=_ascii_subject(_TEXT["en"]["approval_title"].format(env=environment, n=n)),
        title=t["approval_title"].format(env=environment, n=n),
        lines=tuple(lines),
        link=link,
        link_label=label,
        attributes={"environment": environment, "kind": "approval"},
    )


def build_decision_message(
    *,
    environment: str,
    dag_id: str,
    run_id: str,
    base_url: str,
    choice: str,
    responder: str | None,
    responded_at: str | None,
    comment: str = "",
    language: str = "ja",
) -> Message:
    """ "Approved" / "rejected" / "timed out": the answer to an approval request, with the link to the run."""
    t = _texts(language)
    decision = choice if responder else f"{choice} (timeout)"
    lines = [t["dag"].format(dag=dag_id, run=run_id)]
    lines.append(
        t["decision_by"].format(decision=choice, who=responder, when=responded_at)
        if responder
        else t["decision_timeout"]
    )
    if comment:
        lines.append(t["comment"].format(text=comment))
    return Message(
        kind="decision",
        environment=environment,
        run_id=run_id,
        subject=_ascii_subject(_TEXT["en"]["decision_title"].format(env=environment, decision=decision)),
        title=t["decision_title"].format(env=environment, decision=decision),
        lines=tuple(lines),
        link=run_url(base_url, dag_id, run_id),
        link_label=t["run_link"],
        attributes={"environment": environment, "kind": "decision"},
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} h"


def build_summary_message(
    *,
    environment: str,
    dag_id: str,
    run_id: str,
    base_url: str,
    pre_summary: Mapping[str, Any],
    post_summary: Mapping[str, Any] | None = None,
    remediation_rows: Iterable[RemediationRow | Mapping[str, Any]] = (),
    evidence_location: str | None = None,
    kpi: MonthlyKpi | None = None,
    language: str = "ja",
    max_items: int = MAX_ITEMS,
) -> Message:
    """The end-of-run summary: verdicts before / after (``compare.summarise`` output), repairs, evidence, KPIs.

    Status is ``OK`` when the re-compare shows no NG and no repair failed, ``ATTENTION`` otherwise.
    """
    t = _texts(language)
    rows = _rows(remediation_rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state.value] = counts.get(row.state.value, 0) + 1
    failed = any(r.state in (RemediationState.FAILED, RemediationState.ROLLED_BACK) for r in rows)
    post_ng = (post_summary or pre_summary)["verdicts"].get("NG", 0)
    status = "OK" if not failed and post_ng == 0 else "ATTENTION"
    lines = [t["dag"].format(dag=dag_id, run=run_id), t["before"].format(**pre_summary["verdicts"])]
    lines.append(t["after"].format(**post_summary["verdicts"]) if post_summary else t["no_after"])
    states = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or t["none"]
    lines.append(t["states"].format(states=states))
    failures = [r for r in rows if r.state is not RemediationState.VERIFIED and r.state.is_terminal]
    for row in failures[:max_items]:
        lines.append(
            f"- {row.resource_address}: {row.state.value}" + (f" ({row.error_message})" if row.error_message else "")
        )
    if len(failures) > max_items:
        lines.append(t["more"].format(n=len(failures) - max_items))
    if evidence_location:
        lines.append(t["evidence"].format(where=evidence_location))
    if kpi is not None:
        lines.append(
            t["kpi"].format(
                month=kpi.month,
                success=_percent(kpi.success_rate),
                approval=_hours(kpi.mean_approval_hours),
                manual=_percent(kpi.manual_rate),
            )
        )
    return Message(
        kind="summary",
        environment=environment,
        run_id=run_id,
        subject=_ascii_subject(_TEXT["en"]["summary_title"].format(env=environment, status=status)),
        title=t["summary_title"].format(env=environment, status=status),
        lines=tuple(lines),
        link=run_url(base_url, dag_id, run_id),
        link_label=t["run_link"],
        attributes={"environment": environment, "kind": "summary", "status": status},
    )


# -------------------------------------------------------------------------------------------- delivery


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str  # "sns" | "slack"
    status: str  # "sent" | "skipped" | "failed"
    detail: str = ""


def mask_connection_secrets(conn_id: str) -> None:
    """Register the secret parts of a Slack webhook connection with Airflow's secrets masker.

    The token (password) may be the whole webhook URL or its last part; the host may hold the URL too.
    Masking the token hides it inside any URL that contains it. (Airflow imports in this module are lazy:
    building messages must work where Airflow is not configured, e.g. the CLI and unit tests.)
    """
    from airflow.sdk import BaseHook  # noqa: PLC0415
    from airflow.sdk.log import mask_secret  # noqa: PLC0415

    conn = BaseHook.get_connection(conn_id)
    for secret in (conn.password, conn.host if conn.host and "://" in conn.host else None):
        if secret and secret.strip():
            mask_secret(secret.strip())


def _redacted(exc: BaseException) -> str:
    from airflow.sdk.log import redact  # noqa: PLC0415

    return str(redact(f"{type(exc).__name__}: {exc}"))


def send_to_sns(message: Message, *, topic_arn: str, aws_conn_id: str | None, region_name: str | None = None) -> None:
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier  # noqa: PLC0415

    SnsNotifier(
        aws_conn_id=aws_conn_id,
        region_name=region_name,
        target_arn=topic_arn,
        subject=message.subject,
        message=message.plain_text(),
        message_attributes=dict(message.attributes),
    ).notify({})


def send_to_slack(message: Message, *, slack_conn_id: str) -> None:
    """Post through a Slack Incoming Webhook connection (conn type ``slackwebhook``; the URL or token in
    its password field)."""
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier  # noqa: PLC0415

    mask_connection_secrets(slack_conn_id)
    SlackWebhookNotifier(slack_webhook_conn_id=slack_conn_id, text=message.slack_text()).notify({})


def _deliver(channel: str, configured: bool, message: Message, send: Callable[[], None]) -> Delivery:
    if not configured:
        log.info("%s notification skipped: not configured", channel)
        return Delivery(channel, "skipped", "not configured")
    try:
        send()
    except Exception as exc:  # one channel failing must stop neither the other nor the evidence
        detail = _redacted(exc)
        log.warning("%s notification failed for %s run %s: %s", channel, message.environment, message.run_id, detail)
        return Delivery(channel, "failed", detail)
    log.info("%s notification sent: %s", channel, message.subject)
    return Delivery(channel, "sent")


def send_message(
    message: Message,
    *,
    sns_topic_arn: str | None = None,
    aws_conn_id: str | None = None,
    region_name: str | None = None,
    slack_conn_id: str | None = None,
) -> list[Delivery]:
    """Send to every configured channel; unconfigured ones are ``skipped``, errors are ``failed``."""
    return [
        _deliver(
            "sns",
            bool(sns_topic_arn),
            message,
            lambda: send_to_sns(
                message, topic_arn=str(sns_topic_arn), aws_conn_id=aws_conn_id, region_name=region_name
            ),
        ),
        _deliver(
            "slack", bool(slack_conn_id), message, lambda: send_to_slack(message, slack_conn_id=str(slack_conn_id))
        ),
    ]


def notify_environment(env: Any, build: Callable[[str], Message]) -> list[Delivery]:
    """Send ``build(base_url)`` to an environment's channels; nothing when it has no link base or channel."""
    if not env.base_url or not (env.sns_topic_arn or env.slack_conn_id):
        log.info("no notification channel configured for %s", env.name)
        return []
    deliveries = send_message(
        build(env.base_url),
        sns_topic_arn=env.sns_topic_arn,
        aws_conn_id=env.aws_conn_id,
        region_name=env.region,
        slack_conn_id=env.slack_conn_id,
    )
    for delivery in deliveries:
        log.info("%s notification for %s: %s", delivery.channel, env.name, delivery.status)
    return deliveries
