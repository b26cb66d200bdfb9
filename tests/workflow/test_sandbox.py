"""orderflow's sandbox runner (``orderflow.sandbox``): as strict as the SDK's, and the same
serialization contexts for every payload, only without the SDK's per-call overheads."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence

import pytest
import temporalio
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    ActivitySerializationContext,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from orderflow.config import Settings
from orderflow.domain.status import OrderStatus
from orderflow.sandbox import TESTED_SDK, FastSandboxedWorkflowRunner, workflow_runner
from orderflow.store import Store
from orderflow.temporal_client import start_order
from orderflow.worker import running_worker
from tests.workflow.conftest import FAST, make_activities
from tests.workflow.helpers import an_order
from tests.workflow.sandbox_probe import ClockProbeWorkflow


def test_the_faster_runner_is_used_on_the_sdk_it_was_checked_against() -> None:
    # Fails after an SDK upgrade: re-read orderflow/sandbox.py against the new SDK's
    # workflow_sandbox/_runner.py, rerun these tests, then move TESTED_SDK.
    assert temporalio.__version__ == TESTED_SDK
    assert isinstance(workflow_runner(sandbox=True), FastSandboxedWorkflowRunner)
    assert isinstance(workflow_runner(sandbox=False), UnsandboxedWorkflowRunner)


@pytest.mark.parametrize(
    ("runner", "expected"),
    [
        (workflow_runner(sandbox=True), "RestrictedWorkflowAccessError"),
        # The control: without a sandbox nothing stops the workflow reading the clock.
        (workflow_runner(sandbox=False), "unrestricted"),
    ],
    ids=["orderflow-sandbox", "no-sandbox"],
)
async def test_workflow_code_still_runs_under_the_sandbox_restrictions(
    temporal_env: WorkflowEnvironment, task_queue: str, runner: WorkflowRunner, expected: str
) -> None:
    async with Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=[ClockProbeWorkflow],
        workflow_runner=runner,
    ):
        outcome = await temporal_env.client.execute_workflow(
            ClockProbeWorkflow.run, id=f"probe-{task_queue}", task_queue=task_queue
        )
    assert outcome == expected


@dataclasses.dataclass
class RecordingCodec(PayloadCodec, WithSerializationContext):
    """Passes payloads through and records the serialization context of each call."""

    seen: list[tuple[str, str, str, bool]]
    context: SerializationContext | None = None

    def with_context(self, context: SerializationContext) -> RecordingCodec:
        return RecordingCodec(self.seen, context)

    def _record(self, op: str) -> None:
        context = self.context
        if isinstance(context, ActivitySerializationContext):
            self.seen.append((op, "activity", context.activity_type, context.is_local))
        else:
            self.seen.append((op, type(context).__name__, "", False))

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self._record("encode")
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self._record("decode")
        return list(payloads)


async def contexts_of_one_order(
    env: WorkflowEnvironment, store: Store, task_queue: str, order_id: str, runner: WorkflowRunner
) -> Counter[tuple[str, str, str, bool]]:
    seen: list[tuple[str, str, str, bool]] = []
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=RecordingCodec(seen))
    client = Client(**{**env.client.config(), "data_converter": converter})
    settings = Settings(task_queue=task_queue, activity_threads=4)
    async with running_worker(client, settings, make_activities(store), workflow_runner=runner):
        handle = await start_order(client, an_order(order_id), task_queue, FAST)
        result = await handle.result()
    assert result.status is OrderStatus.COMPLETED
    return Counter(seen)


async def test_payloads_get_the_same_serialization_contexts_as_with_the_sdks_runner(
    temporal_env: WorkflowEnvironment, task_queue: str, order_prefix: str, store: Store
) -> None:
    ours = await contexts_of_one_order(
        temporal_env, store, f"{task_queue}-a", f"{order_prefix}a", workflow_runner(sandbox=True)
    )
    sdks = await contexts_of_one_order(
        temporal_env, store, f"{task_queue}-b", f"{order_prefix}b", SandboxedWorkflowRunner()
    )

    assert ours == sdks
    # Activity payloads are encoded with their activity's context, not the workflow's.
    assert ours[("encode", "activity", "process_payment", False)] >= 1
    assert ours[("encode", "activity", "validate_order", True)] >= 1
