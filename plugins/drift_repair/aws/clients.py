"""boto3 clients the project uses outside Airflow (CLI, sandbox tools, benchmarks).

Inside Airflow the hooks build clients from the connection (AwsBaseHook); both paths use the same retry
policy: botocore's adaptive mode, which backs off and rate-limits the client itself on throttling errors.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

RETRY_CONFIG = {"mode": "adaptive", "max_attempts": 10}


def client_config(**overrides: Any) -> Config:
    return Config(retries=dict(RETRY_CONFIG), connect_timeout=10, read_timeout=60, **overrides)


def make_client(
    service: str,
    region: str,
    endpoint_url: str | None = None,
    session: boto3.session.Session | None = None,
) -> Any:
    """A client with adaptive retries; ``endpoint_url`` pins it to the sandbox (or a VPC endpoint)."""
    sess = session or boto3.session.Session()
    return sess.client(service, region_name=region, endpoint_url=endpoint_url, config=client_config())
