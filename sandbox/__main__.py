"""python -m sandbox serve [--port 4566] | seed --env dev [--drift N]"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
import time

from sandbox.server import serve as run_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="The local AWS of drift-repair.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the sandbox HTTP server until SIGTERM")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=4566, help="0 picks a free port (printed on stdout)")
    serve.add_argument("--log-level", default="INFO")
    # sandbox/seed.py exposes add_arguments(parser) and run(args) -> exit code
    seed_module = importlib.import_module("sandbox.seed") if importlib.util.find_spec("sandbox.seed") else None
    if seed_module is not None:
        seed_module.add_arguments(sub.add_parser("seed", help="create an environment's resources, inject drift"))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level if args.command == "serve" else "WARNING",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "serve":
        started = time.monotonic()

        def ready(port: int) -> None:
            print(f"sandbox ready on http://{args.host}:{port} ({time.monotonic() - started:.2f}s)", flush=True)

        run_server(args.host, args.port, ready)
        return 0
    if seed_module is None:
        parser.error("seed is not available")
    return int(seed_module.run(args))


if __name__ == "__main__":
    sys.exit(main())
