"""python -m drift_repair <command> — the tool without Airflow.

Each command lives in ``drift_repair/commands/<name>.py`` and exposes ``register(subparsers)``, which adds
its parser and sets ``func`` (``args -> exit code``). Exit codes follow ``terraform plan -detailed-exitcode``
where it makes sense: 0 fine, 1 error, 2 drift found.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from drift_repair import commands
from drift_repair.core.errors import DriftRepairError

EXIT_OK, EXIT_ERROR, EXIT_DRIFT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m drift_repair",
        description="Detect and repair drift between Terraform and AWS; write the evidence.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except DriftRepairError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
