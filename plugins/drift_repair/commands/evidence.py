"""``evidence verify`` / ``evidence upload``: check a bundle against its manifest; upload one write-once."""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_MISMATCH = 0, 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("evidence", help="verify or upload an evidence bundle")
    sub = parser.add_subparsers(dest="evidence_command", required=True, metavar="ACTION")

    def aws_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--endpoint-url", help="S3 endpoint (e.g. the sandbox, http://127.0.0.1:4566)")
        p.add_argument("--region", help="AWS region (default: the AWS configuration's)")
        p.add_argument("--aws-conn-id", help="use this Airflow connection (S3Hook) instead of boto3 defaults")

    verify = sub.add_parser(
        "verify",
        help="recompute every SHA-256 of a bundle and compare with its manifest",
        description="Exit 0 when every file matches the manifest; 1 when a file is changed, missing or extra.",
    )
    verify.add_argument("location", metavar="DIR_OR_S3_URL", help="bundle directory or s3://bucket/<env>/<run>/")
    aws_options(verify)
    verify.set_defaults(func=run_verify)

    upload = sub.add_parser(
        "upload",
        help="upload a bundle directory to the evidence bucket (never overwrites)",
        description="Uploads to s3://BUCKET/<environment>/<run>/; refuses when a key holds other content.",
    )
    upload.add_argument("directory", help="bundle directory (with manifest.json)")
    upload.add_argument("--bucket", required=True, help="evidence bucket")
    aws_options(upload)
    upload.set_defaults(func=run_upload)


def _client(args: argparse.Namespace) -> object:
    from drift_repair.aws.s3 import s3_client  # noqa: PLC0415 - boto3 only for S3 locations

    return s3_client(aws_conn_id=args.aws_conn_id, endpoint_url=args.endpoint_url, region_name=args.region)


def run_verify(args: argparse.Namespace) -> int:
    from drift_repair.reports.evidence import verify_bundle  # noqa: PLC0415

    client = _client(args) if str(args.location).startswith("s3://") else None
    result = verify_bundle(args.location, client=client)
    sys.stdout.write(result.report() + "\n")
    return EXIT_OK if result.ok else EXIT_MISMATCH


def run_upload(args: argparse.Namespace) -> int:
    from drift_repair.reports.evidence import upload_bundle  # noqa: PLC0415

    result = upload_bundle(args.directory, args.bucket, client=_client(args))
    sys.stdout.write(
        f"{result.url}: {len(result.created)} objects written, {len(result.already_present)} already present\n"
    )
    return EXIT_OK
