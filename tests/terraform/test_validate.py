"""`terraform validate` of every environment against the real AWS provider schema, where a provider is at hand.

Validation needs the hashicorp/aws provider plugin, which only the Terraform registry serves; offline
machines can still have it in a plugin directory (DRIFT_REPAIR_TF_PLUGIN_DIR, or /opt/tf-plugins). Without
one this test is skipped: fmt, the catalog evaluation and checkov (tests/terraform) run everywhere.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.terraform.engine import ENVIRONMENTS, REPO, terraform

pytestmark = pytest.mark.terraform


def _plugin_dir() -> Path | None:
    for candidate in (os.environ.get("DRIFT_REPAIR_TF_PLUGIN_DIR"), "/opt/tf-plugins"):
        if candidate and any(Path(candidate).glob("registry.terraform.io/hashicorp/aws/5.*/*/terraform-provider-aws*")):
            return Path(candidate)
    return None


@pytest.mark.timeout(600)
@pytest.mark.skipif(_plugin_dir() is None, reason="no hashicorp/aws 5.x provider plugin directory on this machine")
def test_every_environment_validates_against_the_aws_provider(tmp_path: Path) -> None:
    plugins = _plugin_dir()
    assert plugins is not None
    # A copy, so init writes no .terraform directory or lock file into the repository.
    for part in ("terraform", "mappings", "runbooks"):
        shutil.copytree(REPO / "include" / part, tmp_path / "include" / part)
    for env in ENVIRONMENTS:
        directory = tmp_path / "include" / "terraform" / "environments" / env
        init = terraform("init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={plugins}", cwd=directory)
        assert init.returncode == 0, init.output
        validate = terraform("validate", "-no-color", cwd=directory)
        assert validate.returncode == 0, f"{env}: {validate.output}"
