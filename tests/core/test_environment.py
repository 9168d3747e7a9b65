from __future__ import annotations

from pathlib import Path

import pytest

from drift_repair.core.environment import list_environments, load_environment
from drift_repair.core.errors import ConfigurationError


def test_bundled_environments() -> None:
    assert list_environments() == ["dev", "prod", "stg"]
    prod = load_environment("prod")
    assert prod.approval.required_approvers == 2
    assert len(prod.approval.assigned_users) >= 2
    dev = load_environment("dev")
    assert Path(dev.resolve(dev.terraform.plan_json) or "").is_file()
    assert dev.context["account_id"] == "123456789012"


def test_sandbox_endpoint_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFT_REPAIR_ENDPOINT_URL", "http://127.0.0.1:4566")
    assert load_environment("dev").endpoint_url == "http://127.0.0.1:4566"


def test_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="known environments: dev, prod, stg"):
        load_environment("qa")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: dev\nregion: ap-northeast-1\nterraform: {plan_json: p}\n", "'account_id' is a required property"),
        ("name: dev\naccount_id: '12'\nregion: ap-northeast-1\nterraform: {plan_json: p}\n", "account_id"),
        ("name: dev\naccount_id: '123456789012'\nregion: ap-northeast-1\nterraform: {}\n", "terraform"),
        (
            "name: dev\naccount_id: '123456789012'\nregion: ap-northeast-1\nterraform: {plan_json: p}\n"
            "approval: {required_approvers: 0}\n",
            "approval/required_approvers",
        ),
        ("name: [dev\n", "not valid YAML"),
    ],
)
def test_invalid_environment_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as err:
        load_environment(path)
    assert str(path) in str(err.value) and message in str(err.value)
