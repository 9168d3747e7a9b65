"""Small corrections to moto where it answers differently from AWS in ways the project can see.

Each fix wraps one moto method (moto is pinned in constraints.txt; a changed signature fails loudly at
install, not silently at run time) and says which AWS behaviour it restores:

* **S3 default encryption.** Since 5 January 2023 every bucket is encrypted with SSE-S3 by default:
  GetBucketEncryption on a new bucket answers ``AES256``, and DeleteBucketEncryption resets the bucket to
  that default instead of removing encryption. moto answers ``ServerSideEncryptionConfigurationNotFoundError``.
  The switch :data:`S3_DEFAULT_ENCRYPTION` (admin route ``POST /_sandbox/s3/default-encryption``) turns the
  old behaviour back on for buckets created afterwards, to rehearse buckets from before 2023.
* **EC2 ModifyInstanceMetadataOptions** changes only the options the request names; moto resets the
  others (HttpEndpoint, hop limit, ...) to nothing, which a Config item would then show as missing.
* **RDS dbiResourceId.** moto gives every DB instance the same ``DbiResourceId``; AWS gives each its own
  ``db-`` + 26 characters. Config uses it as the instance's resource id, so it must be unique.
"""

from __future__ import annotations

import functools
import secrets
import string
import threading
from typing import Any

from sandbox import backends

_lock = threading.Lock()
_state = {"applied": False}
S3_DEFAULT_ENCRYPTION = {"enabled": True}

_DBI_ALPHABET = string.ascii_uppercase + string.digits


def default_sse() -> dict[str, Any]:
    """What GetBucketEncryption answers for a bucket nobody configured (moto's parsed-XML shape)."""
    return {"Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": "false"}}


def new_dbi_resource_id() -> str:
    return "db-" + "".join(secrets.choice(_DBI_ALPHABET) for _ in range(26))


def apply() -> None:
    """Install the fixes once per process (idempotent)."""
    with _lock:
        if _state["applied"]:
            return
        _fix_s3()
        _fix_rds()
        _fix_ec2_metadata_options()
        _state["applied"] = True


def _fix_s3() -> None:
    FakeBucket, S3Backend = backends.s3_classes()
    original_init = FakeBucket.__init__

    @functools.wraps(original_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if S3_DEFAULT_ENCRYPTION["enabled"]:
            self.encryption = default_sse()

    FakeBucket.__init__ = init

    original_delete = S3Backend.delete_bucket_encryption

    @functools.wraps(original_delete)
    def delete_encryption(self: Any, bucket_name: str) -> None:
        original_delete(self, bucket_name)
        if S3_DEFAULT_ENCRYPTION["enabled"]:
            self.get_bucket(bucket_name).encryption = default_sse()

    S3Backend.delete_bucket_encryption = delete_encryption


def _fix_rds() -> None:
    DBInstance = backends.rds_instance_class()
    original_init = DBInstance.__init__

    @functools.wraps(original_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.dbi_resource_id = new_dbi_resource_id()

    DBInstance.__init__ = init


def _fix_ec2_metadata_options() -> None:
    backend_class = backends.ec2_instance_backend_class()
    original = backend_class.modify_instance_metadata_options

    @functools.wraps(original)
    def modify(self: Any, instance_id: str, *args: Any, **kwargs: Any) -> Any:
        current = getattr(self.get_instance(instance_id), "metadata_options", None)
        keep = {
            "http_tokens": "http_tokens",
            "hop_limit": "http_put_response_hop_limit",
            "http_endpoint": "http_endpoint",
            "http_protocol": "http_protocol_ipv6",
            "metadata_tags": "instance_metadata_tags",
        }
        for argument, attribute in keep.items():
            if kwargs.get(argument) is None and current is not None:
                kwargs[argument] = getattr(current, attribute, None)
        return original(self, instance_id, *args, **kwargs)

    backend_class.modify_instance_metadata_options = modify
