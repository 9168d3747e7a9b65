"""``sheet``: the parameter sheet of a Terraform plan/state JSON, for design review without AWS access."""

from __future__ import annotations

import argparse
import sys

from drift_repair.core import compare, mappings, terraform
from drift_repair.core.environment import load_environment

# Without --env, id templates such as "{account_id}" stay visible as placeholders instead of failing.
PLACEHOLDER_CONTEXT = {"account_id": "{account_id}", "region": "{region}", "environment": "{environment}"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sheet",
        help="write the parameter sheet (design values from Terraform) to Excel",
        description="Write the parameter sheet: every mapped attribute's designed value, grouped by resource. "
        "Reads only the plan/state JSON; needs no AWS access.",
    )
    parser.add_argument("--plan", required=True, help="`terraform show -json` output of a plan or a state")
    parser.add_argument("-o", "--output", required=True, help="the .xlsx file to write")
    parser.add_argument("--lang", choices=("ja", "en"), help="sheet language (default: the environment's, else ja)")
    parser.add_argument("--env", help="environment name (include/environments/<env>.yaml) for account and region")
    parser.add_argument("--mappings", help="mappings directory (default: include/mappings)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drift_repair.reports.excel import write_parameter_sheet  # noqa: PLC0415 - openpyxl only when needed

    env = load_environment(args.env) if args.env else None
    context = env.context if env else PLACEHOLDER_CONTEXT
    document = terraform.load(args.plan)
    targets = compare.build_targets(document, mappings.load_mappings(args.mappings), context)
    values = compare.design_values(targets)
    language = args.lang or (env.report_language if env else "ja")
    out = write_parameter_sheet(args.output, values, language=language, subject=args.plan)
    resources = len({v.resource_address for v in values})
    sys.stderr.write(f"wrote {out}: {len(values)} attributes of {resources} resources\n")
    return 0
