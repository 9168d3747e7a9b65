"""``detect``: compare Terraform's design with AWS Config and print the diff.

Exit codes as ``terraform plan -detailed-exitcode``: 0 no NG, 2 NG found, 1 error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from drift_repair.aws.clients import make_client
from drift_repair.core import config_items
from drift_repair.core.environment import EnvironmentConfig, load_environment
from drift_repair.core.errors import InputError
from drift_repair.core.models import DiffRow, Verdict, display_value
from drift_repair.pipeline import detect, load_document

EXIT_OK, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "detect",
        help="compare a Terraform plan/state with AWS Config; exit 2 when drift (NG) is found",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--plan", help="`terraform show -json` of a plan (path or s3://bucket/key)")
    src.add_argument("--state", help="`terraform show -json` of a state (path or s3://bucket/key)")
    actual = p.add_mutually_exclusive_group(required=True)
    actual.add_argument("--env", help="environment name (include/environments/<env>.yaml): read AWS Config live")
    actual.add_argument("--snapshot", help="an AWS Config configuration snapshot file (offline analysis)")
    p.add_argument("--compliance", help="saved GetComplianceDetailsByConfigRule output, with --snapshot")
    p.add_argument("--account-id", help="account id for account-level settings (default: from --env or snapshot)")
    p.add_argument("--endpoint-url", help="AWS endpoint (default: the environment's; the sandbox in the demo)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--all", action="store_true", help="table: list OK rows too (default: NG and UNKNOWN only)")
    p.set_defaults(func=run)


def _account_from_snapshot(path: str) -> str | None:
    for item in config_items.load_snapshot(path):
        if item.account_id:
            return item.account_id
    return None


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    env: EnvironmentConfig | None = load_environment(args.env) if args.env else None
    source = args.plan or args.state
    if source is None:
        if env is None:
            raise InputError("detect", "give --plan or --state (or --env, whose file names the plan)")
        source = env.resolve(env.terraform.plan_json or env.terraform.state_json)
    region = env.region if env else "us-east-1"
    endpoint = args.endpoint_url or (env.endpoint_url if env else None)
    s3 = make_client("s3", region, endpoint) if str(source).startswith("s3://") else None
    document = load_document(source, s3)
    account = args.account_id or (env.account_id if env else None)
    if account is None and args.snapshot:
        account = _account_from_snapshot(args.snapshot)
    context = {"account_id": account or "", "region": region, "environment": env.name if env else ""}
    if args.snapshot:
        run_ = detect(document, context=context, snapshot=args.snapshot, compliance_file=args.compliance)
    else:
        if env is None:  # argparse makes --env or --snapshot required; say so if called otherwise
            raise InputError("detect", "give --env (live AWS Config) or --snapshot")
        client = make_client("config", env.region, endpoint)
        run_ = detect(document, context=context, config_client=client, fetch_mode=env.config_fetch)
    result = run_.result
    if args.format == "json":
        json.dump(
            {
                "source": str(source),
                "summary": result.summary,
                "resources": result.resources,
                "fetch": run_.fetch_stats.as_dict(),
                "rows": [r.to_dict() for r in result.rows],
            },
            out,
            indent=2,
            ensure_ascii=False,
        )
        out.write("\n")
    else:
        print_table(result.rows, out, show_ok=args.all)
        v = result.summary["verdicts"]
        out.write(
            f"\n{result.resources} resources, {len(result.rows)} attributes: "
            f"{v['OK']} OK, {v['NG']} NG, {v['UNKNOWN']} UNKNOWN\n"
        )
    return EXIT_DRIFT if result.has_drift else EXIT_OK


def _cell(value: Any, width: int) -> str:
    text = display_value(value)
    text = "" if text is None else text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(rows: list[DiffRow], out: TextIO, show_ok: bool = False) -> None:
    shown = [r for r in rows if show_ok or r.verdict is not Verdict.OK]
    if not shown:
        out.write("No drift: every compared attribute is OK.\n")
        return
    widths = {"verdict": 7, "resource": max(len(r.resource_address) for r in shown), "attribute": 26, "value": 28}
    widths["resource"] = min(widths["resource"], 70)
    header = (
        f"{'VERDICT':<{widths['verdict']}}  {'RESOURCE':<{widths['resource']}}  {'ATTRIBUTE':<{widths['attribute']}}  "
        f"{'EXPECTED':<{widths['value']}}  {'ACTUAL':<{widths['value']}}  REASON"
    )
    out.write(header + "\n")
    order = {Verdict.NG: 0, Verdict.UNKNOWN: 1, Verdict.OK: 2}
    for r in sorted(shown, key=lambda r: (order[r.verdict], r.resource_address, r.attribute)):
        cells = [
            f"{r.verdict.value:<{widths['verdict']}}",
            f"{_cell(r.resource_address, widths['resource']):<{widths['resource']}}",
            f"{_cell(r.attribute, widths['attribute']):<{widths['attribute']}}",
            f"{_cell(r.expected, widths['value']):<{widths['value']}}",
            f"{_cell(r.actual, widths['value']):<{widths['value']}}",
            r.reason,
        ]
        out.write("  ".join(cells).rstrip() + "\n")
