"""One moto behaviour the AWS-owned RDS runbooks cannot run with: every DB instance shares one DbiResourceId.

AWS gives each DB instance its own resource id (``db-`` + 26 characters), and the runbooks Config uses
(AWSConfigRemediation-EnableRDSInstanceBackup, -DisablePublicAccessToRDSInstance) find their instance with
``DescribeDBInstances(Filters=[dbi-resource-id])``. moto 5.2 hard-codes one id for all instances, so such a
runbook would modify whichever instance moto lists first.

The Config half of the sandbox fixes the same thing in ``sandbox.moto_fixes`` (installed before this
package); this patch only replaces moto's constant, so it is a no-op once that fix ran, and can be deleted
when both halves are merged.
"""

from __future__ import annotations

import functools
import secrets
import string
import threading
from typing import Any

from moto.rds.models import DBInstance

MOTO_SHARED_DBI_RESOURCE_ID = "db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U"
_ALPHABET = string.ascii_uppercase + string.digits
_lock = threading.Lock()


def unique_dbi_resource_ids() -> None:
    """Give every DB instance moto creates its own DbiResourceId (idempotent)."""
    with _lock:
        original = DBInstance.__init__
        if getattr(original, "_sandbox_ssm_unique_dbi", False):
            return

        @functools.wraps(original)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            if self.dbi_resource_id == MOTO_SHARED_DBI_RESOURCE_ID:
                self.dbi_resource_id = "db-" + "".join(secrets.choice(_ALPHABET) for _ in range(26))

        __init__._sandbox_ssm_unique_dbi = True  # type: ignore[attr-defined]
        DBInstance.__init__ = __init__  # type: ignore[method-assign]
