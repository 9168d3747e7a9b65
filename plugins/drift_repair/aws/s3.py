"""S3 for evidence: write-once puts, listing and reading, on any boto3 S3 client.

Where the client comes from is the caller's business: in Airflow, ``S3Hook(aws_conn_id=...).get_conn()``
(credentials and endpoint from the Airflow connection); on the command line, :func:`s3_client` with an
optional endpoint (the sandbox). Evidence is never overwritten: every put is conditional
(``If-None-Match: *``), so even two writers racing for the same key cannot replace an existing object, and
it carries its SHA-256 so that S3 itself rejects a body damaged on the way.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.exceptions import ClientError

from drift_repair.aws.clients import client_config

log = logging.getLogger(__name__)

# S3 answers 412 PreconditionFailed when the key exists, 409 ConditionalRequestConflict when a concurrent
# conditional write to the same key is in flight.
_EXISTS_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_url(url: str) -> S3Location:
    """``s3://bucket/some/prefix`` -> S3Location; ValueError for anything else."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"{url!r}: expected s3://bucket/key")
    return S3Location(parsed.netloc, parsed.path.lstrip("/"))


def s3_client(
    *, aws_conn_id: str | None = None, endpoint_url: str | None = None, region_name: str | None = None
) -> Any:
    """An S3 client: through the amazon provider's S3Hook when an Airflow connection id is given, else boto3.

    The boto3 path needs no Airflow at all (the CLI on a laptop) and retries like every project client.
    """
    if aws_conn_id:
        # Lazy: the CLI works without Airflow configured; only this path needs the provider.
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # noqa: PLC0415

        return S3Hook(aws_conn_id=aws_conn_id, region_name=region_name).get_conn()
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region_name, config=client_config())


def _error_code(exc: ClientError) -> str:
    response: Any = exc.response
    error = response.get("Error", {})
    return str(error.get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))


def put_new_object(client: Any, bucket: str, key: str, body: bytes, *, content_type: str | None = None) -> bool:
    """Create ``key`` unless it exists. True when created, False when an object is already there.

    The existing object is never touched; callers compare its content to decide whether that is fine.
    """
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
    extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*", ChecksumSHA256=digest, **extra)
    except ClientError as exc:
        if _error_code(exc) in _EXISTS_CODES:
            log.info("s3://%s/%s exists; not overwritten", bucket, key)
            return False
        raise
    log.info("wrote s3://%s/%s (%d bytes)", bucket, key, len(body))
    return True


def iter_keys(client: Any, bucket: str, prefix: str) -> Iterator[str]:
    """Every key under ``prefix`` (all pages)."""
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            yield str(obj["Key"])


def read_object(client: Any, bucket: str, key: str) -> bytes | None:
    """The object's bytes, or None when there is no such key."""
    try:
        response = client.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if _error_code(exc) in ("NoSuchKey", "404"):
            return None
        raise
    data: bytes = response["Body"].read()
    return data
