"""Evidence bundles: written once, hashed, verified locally and on S3 (the sandbox), never overwritten."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from drift_repair.cli import main
from drift_repair.core.approvals import answer_from_hitl, decide
from drift_repair.core.models import DiffRow, RemediationRow, RemediationState, Verdict
from drift_repair.core.reconcile import ReconcileResult
from drift_repair.reports.evidence import (
    MANIFEST_NAME,
    WORKBOOK_NAME,
    EvidenceError,
    EvidenceExistsError,
    bundle_dir,
    read_manifest,
    sha256_file,
    upload_bundle,
    verify_bundle,
    write_bundle,
)
from drift_repair.reports.excel import write_run_workbook

RUN_ID = "scheduled__2026-11-02T18:00:00+00:00"
AT = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)

PRE = [
    DiffRow(
        "aws_s3_bucket_versioning.logs", "aws_s3_bucket_versioning", "versioning", "Enabled", "Disabled", Verdict.NG
    ),
    DiffRow("aws_db_instance.main", "aws_db_instance", "backup_retention_period", 7, 7, Verdict.OK),
]
POST = [
    DiffRow(
        "aws_s3_bucket_versioning.logs", "aws_s3_bucket_versioning", "versioning", "Enabled", "Enabled", Verdict.OK
    ),
    PRE[1],
]
REMEDIATION = RemediationRow(
    resource_address="aws_s3_bucket_versioning.logs",
    resource_id="drift-repair-dev-logs",
    config_rule_name="s3-bucket-versioning-enabled",
    runbook_name="DriftRepair-S3-EnableVersioning",
    state=RemediationState.VERIFIED,
    automation_execution_id="0b3f-exec",
    approver="admin",
    detected_at=AT,
    exit_code=0,
)
HITL_XCOM = {
    "chosen_options": ["Approve"],
    "params_input": {"comment": "CAB-1234 approved"},
    "responded_by_user": {"id": "admin", "name": "Demo approver"},
    "responded_at": datetime(2026, 11, 2, 19, 5, tzinfo=UTC),
}
STEPS = {"0b3f-exec": [{"StepName": "EnableVersioning", "StepStatus": "Success", "ExecutionEndTime": AT}]}
RECONCILE = ReconcileResult(mode="native", exit_code=0)


def make_bundle(evidence_dir: Path, run_id: str = RUN_ID, reconcile: ReconcileResult = RECONCILE) -> Path:
    workbook = write_run_workbook(evidence_dir.parent / f"wb-{uuid.uuid4().hex}.xlsx", design_values=[], pre_rows=PRE)
    manifest = write_bundle(
        evidence_dir,
        environment="dev",
        run_id=run_id,
        pre_rows=PRE,
        post_rows=[r.to_dict() for r in POST],
        remediation_rows=[REMEDIATION],
        approvals=[decide([answer_from_hitl(HITL_XCOM)], required=1)],
        step_executions=STEPS,
        reconcile=reconcile,
        workbook=workbook,
        created_at=AT,
    )
    assert manifest.directory is not None
    return manifest.directory


def test_bundle_holds_every_record_and_a_manifest_of_hashes(tmp_path: Path) -> None:
    directory = make_bundle(tmp_path / "evidence")
    assert directory == tmp_path / "evidence" / "dev" / "scheduled__2026-11-02T18_00_00_00_00"
    names = sorted(p.name for p in directory.iterdir())
    assert names == sorted(
        [
            "approvals.json",
            "diff-post.json",
            "diff-pre.json",
            MANIFEST_NAME,
            "reconcile.json",
            "remediations.json",
            "ssm-step-executions.json",
            WORKBOOK_NAME,
        ]
    )
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    assert manifest["run_id"] == RUN_ID and manifest["environment"] == "dev"
    for entry in manifest["files"]:
        assert entry["sha256"] == sha256_file(directory / entry["path"])
    pre = json.loads((directory / "diff-pre.json").read_text())
    assert pre["summary"]["verdicts"] == {"OK": 1, "NG": 1, "UNKNOWN": 0}
    assert pre["rows"][0]["actual"] == "Disabled"
    (approval,) = json.loads((directory / "approvals.json").read_text())
    assert approval["approved"] is True and approval["approvers"] == ["Demo approver"]
    assert approval["answers"] == [
        {
            "responder_id": "admin",
            "responder_name": "Demo approver",
            "responded_at": "2026-11-02T19:05:00+00:00",
            "choice": "Approve",
            "comment": "CAB-1234 approved",
        }
    ]
    steps = json.loads((directory / "ssm-step-executions.json").read_text())
    assert steps["0b3f-exec"][0]["ExecutionEndTime"] == "2026-11-02T18:00:00+00:00"
    assert json.loads((directory / "remediations.json").read_text())[0]["automation_execution_id"] == "0b3f-exec"
    reconcile = json.loads((directory / "reconcile.json").read_text())
    assert (reconcile["mode"], reconcile["exit_code"], reconcile["clean"]) == ("native", 0, True)


def test_a_run_has_one_bundle_only(tmp_path: Path) -> None:
    directory = make_bundle(tmp_path / "evidence")
    before = sha256_file(directory / MANIFEST_NAME)
    with pytest.raises(EvidenceExistsError, match="already exists"):
        write_bundle(tmp_path / "evidence", environment="dev", run_id=RUN_ID, pre_rows=[])
    assert sha256_file(directory / MANIFEST_NAME) == before
    assert [p.name for p in directory.parent.iterdir()] == [directory.name]  # no partial leftovers


def test_verify_passes_on_a_fresh_bundle(tmp_path: Path) -> None:
    result = verify_bundle(make_bundle(tmp_path / "evidence"))
    assert result.ok and result.checked == 7
    assert "OK" in result.report()


def test_verify_reports_tampered_missing_and_extra_files(tmp_path: Path) -> None:
    directory = make_bundle(tmp_path / "evidence")
    pre = directory / "diff-pre.json"
    pre.write_text(pre.read_text().replace('"NG"', '"OK"'))
    (directory / "reconcile.json").unlink()
    (directory / "notes.txt").write_text("added later")
    result = verify_bundle(directory)
    assert not result.ok
    assert {(p.kind, p.path) for p in result.problems} == {
        ("mismatch", "diff-pre.json"),
        ("missing", "reconcile.json"),
        ("extra", "notes.txt"),
    }
    assert "MISMATCH diff-pre.json" in result.report()


def test_manifest_paths_cannot_point_outside_the_bundle(tmp_path: Path) -> None:
    directory = make_bundle(tmp_path / "evidence")
    (tmp_path / "secret").write_text("x")
    manifest = json.loads((directory / MANIFEST_NAME).read_text())
    manifest["files"].append({"path": "../../../secret", "sha256": "0" * 64, "size": 1})
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest))
    result = verify_bundle(directory)
    assert ("invalid", "../../../secret") in {(p.kind, p.path) for p in result.problems}


def test_cli_verify_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = make_bundle(tmp_path / "evidence")
    assert main(["evidence", "verify", str(directory)]) == 0
    assert ": OK" in capsys.readouterr().out
    (directory / WORKBOOK_NAME).write_bytes(b"not the workbook")
    assert main(["evidence", "verify", str(directory)]) == 1
    assert f"MISMATCH {WORKBOOK_NAME}" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------ S3


@pytest.fixture
def bucket(sandbox) -> str:  # type: ignore[no-untyped-def]
    name = f"evidence-{uuid.uuid4().hex[:12]}"
    sandbox.client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    return name


@pytest.fixture
def aws_conn(sandbox, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    """An Airflow AWS connection pointing at the sandbox (what the report task is given)."""
    extra = {"endpoint_url": sandbox.url, "region_name": "ap-northeast-1"}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_SANDBOX", json.dumps({"conn_type": "aws", "extra": extra}))
    return "aws_sandbox"


def test_upload_through_s3hook_then_verify_on_s3(sandbox, bucket: str, aws_conn: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = make_bundle(tmp_path / "evidence")
    result = upload_bundle(directory, bucket, aws_conn_id=aws_conn)
    prefix = "dev/scheduled__2026-11-02T18_00_00_00_00"
    assert result.url == f"s3://{bucket}/{prefix}/"
    assert result.created[-1] == f"{prefix}/{MANIFEST_NAME}"  # the manifest goes last
    keys = sorted(o["Key"] for o in sandbox.client("s3").list_objects_v2(Bucket=bucket)["Contents"])
    assert len(keys) == 8 and all(k.startswith(prefix + "/") for k in keys)
    assert verify_bundle(result.url, aws_conn_id=aws_conn).ok
    assert main(["evidence", "verify", result.url, "--endpoint-url", sandbox.url]) == 0


def test_verify_on_s3_reports_tampered_missing_and_extra_objects(sandbox, bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s3 = sandbox.client("s3")
    result = upload_bundle(make_bundle(tmp_path / "evidence"), bucket, client=s3)
    base = result.url.removeprefix(f"s3://{bucket}/")
    s3.put_object(Bucket=bucket, Key=f"{base}remediations.json", Body=b"[]\n")
    s3.delete_object(Bucket=bucket, Key=f"{base}approvals.json")
    s3.put_object(Bucket=bucket, Key=f"{base}late/addition.json", Body=b"{}")
    check = verify_bundle(result.url, client=s3)
    assert {(p.kind, p.path) for p in check.problems} == {
        ("mismatch", "remediations.json"),
        ("missing", "approvals.json"),
        ("extra", "late/addition.json"),
    }
    assert main(["evidence", "verify", result.url, "--endpoint-url", sandbox.url]) == 1


def test_upload_never_overwrites_an_existing_key(sandbox, bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s3 = sandbox.client("s3")
    directory = make_bundle(tmp_path / "first")
    # Somebody else's evidence is already at this run's key.
    s3.put_object(Bucket=bucket, Key=f"dev/{directory.name}/diff-pre.json", Body=b"original evidence")
    with pytest.raises(EvidenceExistsError, match=r"diff-pre\.json already exists"):
        upload_bundle(directory, bucket, client=s3)
    assert (
        s3.get_object(Bucket=bucket, Key=f"dev/{directory.name}/diff-pre.json")["Body"].read() == b"original evidence"
    )
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert f"dev/{directory.name}/{MANIFEST_NAME}" not in keys  # the bundle stays visibly incomplete


def test_repeating_an_upload_is_harmless_but_other_content_is_refused(sandbox, bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s3 = sandbox.client("s3")
    directory = make_bundle(tmp_path / "a")
    first = upload_bundle(directory, bucket, client=s3)
    again = upload_bundle(directory, bucket, client=s3)  # a retried report task
    assert again.created == () and set(again.already_present) == set(first.created)
    other = make_bundle(
        tmp_path / "b", reconcile=ReconcileResult(mode="native", exit_code=2, drifted=["aws_kms_key.data"])
    )  # same run, other content
    with pytest.raises(EvidenceExistsError):
        upload_bundle(other, bucket, client=s3)
    assert verify_bundle(first.url, client=s3).ok


def test_a_tampered_local_bundle_is_not_uploaded(sandbox, bucket: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    directory = make_bundle(tmp_path / "evidence")
    (directory / "diff-post.json").write_text("{}")
    with pytest.raises(EvidenceError, match="does not match its manifest"):
        upload_bundle(directory, bucket, client=sandbox.client("s3"))
    assert "Contents" not in sandbox.client("s3").list_objects_v2(Bucket=bucket)


def test_manifest_reader_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="no manifest"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text('{"schema": "other"}')
    with pytest.raises(EvidenceError, match="schema"):
        read_manifest(tmp_path)
    assert bundle_dir("/e", "dev", "manual__x/y?z").name == "manual__x_y_z"
