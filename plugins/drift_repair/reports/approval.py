"""The body of the approval request shown in the Airflow UI (Required Actions), in Markdown.

What drifted (Terraform's design against AWS's actual value), which runbooks an Approve starts, and what
will not be repaired and why. Long lists are cut at MAX_ROWS lines (the body travels in XCom); the full
lists are in the run's evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from drift_repair.core.environment import EnvironmentConfig
from drift_repair.core.models import DiffRow, Verdict

MAX_ROWS = 100


def _more(count: int) -> list[str]:
    return ["", f"… and {count - MAX_ROWS} more (all in the run's evidence)"] if count > MAX_ROWS else []


def _markdown_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")[:80]


def approval_body(
    env: EnvironmentConfig,
    rows: Sequence[DiffRow],
    plan: Mapping[str, Any],
    run_id: str,
    dag_id: str,
    change_ticket: str = "",
) -> str:
    """Markdown shown in the Airflow UI's Required Actions: what drifted, what will run, what will not."""
    ng = [r for r in rows if r.verdict is Verdict.NG]
    items = plan.get("items", [])
    manual = plan.get("manual", [])
    lines = [
        f"**{len(ng)} drifted attributes** in `{env.name}` (account {env.account_id}, {env.region}), "
        f"run `{run_id}` of `{dag_id}`."
    ]
    if change_ticket:
        lines.append(f"Change ticket: **{_markdown_cell(change_ticket)}**")
    lines += ["", "| resource | attribute | Terraform (design) | AWS (actual) |", "|---|---|---|---|"]
    lines += [
        f"| `{_markdown_cell(r.resource_address)}` | {r.attribute} | {_markdown_cell(r.expected)} | "
        f"{_markdown_cell(r.actual)} |"
        for r in ng[:MAX_ROWS]
    ]
    lines += _more(len(ng))
    lines += [
        "",
        f"**Runbooks to run after approval ({len(items)})**",
        "",
        "| resource | Config rule | runbook | attributes |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{_markdown_cell(i['resource_id'])}` | {i['config_rule']} | {i['runbook']} | {', '.join(i['attributes'])} |"
        for i in items[:MAX_ROWS]
    ]
    lines += _more(len(items))
    if manual:
        lines += ["", f"**Not repaired by this run ({len(manual)}): a human decides**", ""]
        lines += [
            f"- `{_markdown_cell(m['resource_address'])}` {', '.join(m['attributes'])}: {m['reason']}"
            for m in manual[:MAX_ROWS]
        ]
        lines += _more(len(manual))
    lines += [
        "",
        "Approve starts the runbooks above (each also waits on its own `aws:approve` step, answered "
        "with your name). Reject or no answer changes nothing.",
    ]
    return "\n".join(lines)
