"""Child process that runs one aws:executeScript handler: ``python -I script_host.py WORKDIR RESULT_PATH``.

Run by path (not as part of the sandbox package) in isolated mode, so the handler shares nothing with the
server: no moto state, no sandbox modules, only the standard library and boto3 (configured by the
environment to call the sandbox). Reads ``{"script", "handler", "events", "context"}`` as JSON on stdin,
writes the script to ``WORKDIR/customer_script.py`` as AWS does, calls ``handler(events, context)`` and
writes ``{"ok": true, "payload": ...}`` or ``{"ok": false, "error": ...}`` to RESULT_PATH. The error reads
like AWS's: the traceback limited to the customer's script, then ``ExceptionType - message``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import traceback
from pathlib import Path
from typing import Any


def _error_text(exc: BaseException, script_path: str) -> str:
    # Only the customer's frames, without Python 3.11's column markers (AWS's runtimes show none).
    frames = traceback.StackSummary.from_list(
        [
            traceback.FrameSummary(f.filename, f.lineno, f.name, line=f.line)
            for f in traceback.extract_tb(exc.__traceback__)
            if f.filename == script_path
        ]
    )
    lines = ["Traceback (most recent call last):\n", *frames.format()]
    return "".join(lines) + f"\n{type(exc).__name__} - {exc}"


def run(job: dict[str, Any], workdir: Path) -> dict[str, Any]:
    script_path = workdir / "customer_script.py"
    script_path.write_text(job["script"], encoding="utf-8")
    spec = importlib.util.spec_from_file_location("customer_script", script_path)
    if spec is None or spec.loader is None:
        return {"ok": False, "error": "The script cannot be loaded"}
    module = importlib.util.module_from_spec(spec)
    sys.modules["customer_script"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        return {"ok": False, "error": _error_text(exc, str(script_path))}
    handler = getattr(module, job["handler"], None)
    if not callable(handler):
        return {"ok": False, "error": f"Handler {job['handler']} is not defined in the script"}
    try:
        payload = handler(job.get("events", {}), job.get("context", {}))
    except BaseException as exc:
        return {"ok": False, "error": _error_text(exc, str(script_path))}
    try:
        json.dumps(payload)
    except (TypeError, ValueError):
        payload = json.loads(json.dumps(payload, default=str))
    return {"ok": True, "payload": payload}


def main(argv: list[str]) -> int:
    workdir, result_path = Path(argv[1]), Path(argv[2])
    job = json.loads(sys.stdin.read())
    outcome = run(job, workdir)
    result_path.write_text(json.dumps(outcome, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
