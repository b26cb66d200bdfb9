"""Settings handed to a child process (worker processes, chaos workers, the bench)."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from orderflow.config import Settings

CHANGED = {
    "data_dir": Path("/tmp/orderflow-child"),
    "temporal_address": "127.0.0.1:7999",
    "task_queue": "orders-child",
    "payment_failure_rate": 0.35,
    "seed": 42,
    "activity_mode": "local",
    "status_search_attribute": False,
    "status_updates": "every",
    "workflow_sandbox": False,
    "review_threshold": Decimal("250.00"),
    "codec_cors_origins": ["http://127.0.0.1:9999"],
}


def test_a_child_started_with_to_env_reads_back_the_same_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    changed = {**CHANGED, "data_dir": tmp_path / "orderflow-child"}
    parent = Settings(**changed, api_keys="k" * 20)  # type: ignore[arg-type]
    env = parent.to_env()
    for name in list(os.environ):
        if name.startswith(("ORDERFLOW_", "TEMPORAL_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    child = Settings()

    # The child gets the keys in force (the parent's data directory's key) spelled out.
    assert child.keys() == parent.keys() != ""
    assert child.model_copy(update={"encryption_keys": parent.encryption_keys}) == parent
    assert env["ORDERFLOW_ACTIVITY_MODE"] == "local"
    assert env["TEMPORAL_ADDRESS"] == "127.0.0.1:7999"  # the documented name, not a prefix


def test_unset_optional_settings_are_left_out() -> None:
    assert "ORDERFLOW_REVIEW_THRESHOLD" not in Settings(review_threshold=None).to_env()


def test_an_unknown_activity_mode_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="activity_mode") as err:
        Settings(activity_mode="fastest")  # type: ignore[arg-type]
    assert "'regular', 'mixed' or 'local'" in str(err.value)


def test_a_child_does_not_inherit_a_setting_the_parent_left_unset() -> None:
    parent_env = {"ORDERFLOW_SEED": "7", "ORDERFLOW_REVIEW_THRESHOLD": "100", "PATH": "/bin"}

    env = Settings(seed=None, review_threshold=None).child_env(parent_env)

    assert "ORDERFLOW_SEED" not in env and "ORDERFLOW_REVIEW_THRESHOLD" not in env
    assert env["PATH"] == "/bin"  # everything else is passed on


def test_an_unknown_status_updates_value_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="status_updates") as err:
        Settings(status_updates="sometimes")  # type: ignore[arg-type]
    assert "'every', 'resting' or 'waits'" in str(err.value)
