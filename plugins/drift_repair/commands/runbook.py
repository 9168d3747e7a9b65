"""python -m drift_repair runbook lint PATH... — check SSM Automation runbooks before they repair anything.

Each PATH is a runbook (YAML or JSON) or a directory searched for them. Every problem is printed as
``FILE: step STEP: message``; the exit code is 1 when there is any, 0 when every runbook is clean.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from drift_repair.core.runbook_lint import iter_runbook_files, lint_file

EXIT_OK, EXIT_FINDINGS = 0, 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("runbook", help="work with SSM Automation runbooks")
    sub = parser.add_subparsers(dest="runbook_command", required=True, metavar="SUBCOMMAND")
    lint = sub.add_parser(
        "lint",
        help="check runbooks: structure (JSON Schema) and semantics (references, reachability, handlers, ...)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lint.add_argument("paths", nargs="+", metavar="PATH", help="runbook files or directories of runbooks")
    lint.add_argument("-q", "--quiet", action="store_true", help="print problems only, no summary line")
    lint.set_defaults(func=run_lint)


def run_lint(args: argparse.Namespace) -> int:
    files = list(iter_runbook_files(args.paths))
    problems = 0
    for path in files:
        for finding in lint_file(path):
            problems += 1
            sys.stdout.write(f"{finding}\n")
    if not files:
        sys.stdout.write("no runbooks found in " + ", ".join(args.paths) + "\n")
        return EXIT_FINDINGS
    if not args.quiet:
        stream = sys.stderr if problems else sys.stdout
        stream.write(f"{len(files)} runbook(s) checked, {problems} problem(s)\n")
    return EXIT_FINDINGS if problems else EXIT_OK
