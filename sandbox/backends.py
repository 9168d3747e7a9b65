"""moto's in-memory backends, imported on first use.

Importing moto's model modules costs over a second; the server must be ready in under 3 s and most
requests never need most services. Every sandbox module reaches moto's state through these accessors,
which import lazily (hence the ``noqa: PLC0415``: the deferred import is the point).
"""

from __future__ import annotations

from typing import Any


def s3_backend(account_id: str) -> Any:
    from moto.s3.models import s3_backends  # noqa: PLC0415

    return s3_backends[account_id]["aws"]


def s3_owner_id() -> str:
    from moto.s3.models import OWNER  # noqa: PLC0415

    return str(OWNER)


def s3_classes() -> tuple[Any, Any]:
    """(FakeBucket, S3Backend), for the fixes in :mod:`sandbox.moto_fixes`."""
    from moto.s3.models import FakeBucket, S3Backend  # noqa: PLC0415

    return FakeBucket, S3Backend


def rds_backend(account_id: str, region: str) -> Any:
    from moto.rds.models import rds_backends  # noqa: PLC0415

    return rds_backends[account_id][region]


def rds_instance_class() -> Any:
    from moto.rds.models import DBInstance  # noqa: PLC0415

    return DBInstance


def ec2_backend(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends  # noqa: PLC0415

    return ec2_backends[account_id][region]


def ec2_instance_backend_class() -> Any:
    from moto.ec2.models.instances import InstanceBackend  # noqa: PLC0415

    return InstanceBackend


def kms_backend(account_id: str, region: str) -> Any:
    from moto.kms.models import kms_backends  # noqa: PLC0415

    return kms_backends[account_id][region]


def cloudtrail_backend(account_id: str, region: str) -> Any:
    from moto.cloudtrail.models import cloudtrail_backends  # noqa: PLC0415

    return cloudtrail_backends[account_id][region]


def config_backend(account_id: str, region: str) -> Any:
    from moto.config.models import config_backends  # noqa: PLC0415

    return config_backends[account_id][region]


def reset_moto() -> None:
    """moto's own reset (what its /moto-api/reset does): every backend of every account and region."""
    from moto.moto_api._internal.models import moto_api_backend  # noqa: PLC0415

    moto_api_backend.reset()
