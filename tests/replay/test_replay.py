"""The determinism guard: every committed history replays against today's workflow code."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from orderflow.workflows.order import OrderWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_there_are_histories_to_replay() -> None:
    assert len(HISTORIES) >= 4


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_without_nondeterminism(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[OrderWorkflow], data_converter=pydantic_data_converter)
    # Raises NondeterminismError if a change to the workflow broke in-flight orders.
    await replayer.replay_workflow(history)


async def test_without_the_patch_guard_old_orders_would_break_on_deploy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The negative control: the v2 change unguarded is a nondeterminism error for v1 orders."""
    path = next(p for p in HISTORIES if p.stem == "v1_completed_with_retries")
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    monkeypatch.setattr(workflow, "patched", lambda _id: True)
    replayer = Replayer(workflows=[OrderWorkflow], data_converter=pydantic_data_converter)

    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history)


def test_histories_from_before_and_after_the_outcome_patch_are_both_kept() -> None:
    assert {p.stem.split("_", 1)[0] for p in HISTORIES} >= {"v1", "v2"}
    # v1 orders never ran the outcome activity; v2 orders all did.
    for path in HISTORIES:
        ran = '"record_outcome"' in path.read_text()
        assert ran == path.stem.startswith("v2_"), path.stem
