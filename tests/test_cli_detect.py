from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drift_repair.cli import main

REPO = Path(__file__).resolve().parents[1]
DEV = REPO / "include" / "environments" / "dev"
ARGS = [
    "detect",
    "--plan",
    str(DEV / "plan.json"),
    "--snapshot",
    str(DEV / "config-snapshot.json"),
    "--compliance",
    str(DEV / "config-compliance.json"),
]


def test_drift_found_exits_2_and_lists_ng_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(ARGS) == 2
    out = capsys.readouterr().out
    assert "NG       aws_db_instance.main" in out
    assert "15 resources, 75 attributes: 65 OK, 9 NG, 1 UNKNOWN" in out
    assert "module.app.aws_instance.web[0]" not in out  # OK rows hidden unless --all


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--format", "json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["verdicts"]["NG"] == 9
    assert {r["verdict"] for r in doc["rows"]} == {"OK", "NG", "UNKNOWN"}


def test_no_drift_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot = json.loads((DEV / "config-snapshot.json").read_text())
    keep = [i for i in snapshot["configurationItems"] if i["resourceId"] == "drift-repair-dev-artifacts"]
    plan = json.loads((DEV / "plan.json").read_text())
    plan["resource_changes"] = [rc for rc in plan["resource_changes"] if rc["address"].endswith('["artifacts"]')]
    plan["planned_values"] = {"root_module": {}}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    (tmp_path / "snap.json").write_text(json.dumps({"configurationItems": keep}))
    assert main(["detect", "--plan", str(tmp_path / "plan.json"), "--snapshot", str(tmp_path / "snap.json")]) == 0
    assert "No drift" in capsys.readouterr().out


def test_bad_input_exits_1_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text("{ not json")
    assert main(["detect", "--plan", str(bad), "--snapshot", str(DEV / "config-snapshot.json")]) == 1
    err = capsys.readouterr().err
    assert f"error: {bad}: not valid JSON at line 1" in err


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "drift_repair", *ARGS],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": f"{REPO / 'plugins'}", "PATH": "/usr/bin:/bin"},
        cwd=REPO,
    )
    assert proc.returncode == 2, proc.stderr
    assert "9 NG" in proc.stdout


def test_example_environment_files_are_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/example_env.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout


@pytest.mark.sandbox
def test_detect_against_a_live_account(sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """`detect --env dev` reads AWS Config live (here the sandbox, seeded with two drifts)."""
    sandbox.reset()
    plan = tmp_path / "plan.json"
    env = {**__import__("os").environ, "PYTHONPATH": f"{REPO / 'plugins'}:{REPO}"}
    for drift, expected_exit, expected_ng in ((0, 0, 0), (2, 2, 2)):
        sandbox.reset()
        seeded = subprocess.run(
            [
                sys.executable,
                "-m",
                "sandbox",
                "seed",
                "--env",
                "dev",
                "--drift",
                str(drift),
                "--endpoint",
                sandbox.url,
                "--out",
                str(plan),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
        )
        assert seeded.returncode == 0, seeded.stderr
        code = main(["detect", "--env", "dev", "--plan", str(plan), "--endpoint-url", sandbox.url, "--format", "json"])
        doc = json.loads(capsys.readouterr().out)
        assert (code, doc["summary"]["verdicts"]["NG"]) == (expected_exit, expected_ng)
        assert doc["fetch"]["calls"].get("BatchGetResourceConfig", 0) >= 1
    sandbox.reset()
