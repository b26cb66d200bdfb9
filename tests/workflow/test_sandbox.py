"""orderflow's sandbox runner (``orderflow.temporal.sandbox``): as strict as the SDK's, and the same
serialization contexts for every payload, only without the SDK's per-call overheads."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence

import pytest
import temporalio
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _Instance

from orderflow.app.orders import start_order
from orderflow.app.watch import result_of
from orderflow.config import Settings
from orderflow.domain.status import OrderStatus
from orderflow.store import Store
from orderflow.temporal.sandbox import (
    TESTED_SDK,
    FastSandboxedWorkflowRunner,
    _Instance35,
    workflow_runner,
)
from orderflow.worker import running_worker
from tests.workflow.conftest import FAST, make_activities
from tests.workflow.helpers import an_order
from tests.workflow.sandbox_probe import ClockProbeWorkflow

#: The two instance methods orderflow's runner answers without entering the sandbox.
LOOKUPS = ("get_serialization_context", "get_external_store_context")


def test_the_faster_runner_is_used_on_the_sdk_it_was_checked_against() -> None:
    # Fails after an SDK upgrade: re-read orderflow/sandbox.py against the new SDK's
    # workflow_sandbox/_runner.py, rerun these tests, then move TESTED_SDK.
    assert temporalio.__version__ == TESTED_SDK
    assert isinstance(workflow_runner(sandbox=True), FastSandboxedWorkflowRunner)
    # Its instances answer these themselves (the test below checks the answers).
    assert {"_run_code", *LOOKUPS} <= set(vars(_Instance35))
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

    seen: list[tuple[str, str]]
    context: SerializationContext | None = None

    def with_context(self, context: SerializationContext) -> RecordingCodec:
        return RecordingCodec(self.seen, context)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen.append(("encode", repr(self.context)))
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.seen.append(("decode", repr(self.context)))
        return list(payloads)


async def contexts_of_one_order(
    env: WorkflowEnvironment, store: Store, task_queue: str, order_id: str, runner: WorkflowRunner
) -> Counter[tuple[str, str]]:
    """Each (encode/decode, context) a payload codec saw for one order, ids made generic."""
    seen: list[tuple[str, str]] = []
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=RecordingCodec(seen))
    client = Client(**{**env.client.config(), "data_converter": converter})
    settings = Settings(task_queue=task_queue, activity_threads=4)
    async with running_worker(client, settings, make_activities(store), workflow_runner=runner):
        handle = await start_order(client, an_order(order_id), task_queue, FAST)
        result = await result_of(handle)
    assert result.status is OrderStatus.COMPLETED
    generic = (
        (op, context.replace(handle.id, "<workflow id>").replace(task_queue, "<task queue>"))
        for op, context in seen
    )
    return Counter(generic)


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
    # Activity payloads are encoded with their own activity's context (id, type, local or not).
    charge = [ctx for op, ctx in ours if op == "encode" and "'authorize_payment'" in ctx]
    assert charge and all("is_local=False" in ctx for ctx in charge)
    validate = [ctx for op, ctx in ours if op == "encode" and "'validate_order'" in ctx]
    assert validate and all("is_local=True" in ctx for ctx in validate)


async def test_every_context_lookup_answers_as_the_sdks_own_path_would(
    temporal_env: WorkflowEnvironment,
    task_queue: str,
    order_prefix: str,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through a whole order, each lookup our instance answers directly is also asked the
    SDK's way (through the sandbox): the answers must be equal, every time."""
    calls: Counter[str] = Counter()
    differences: list[tuple[str, object, object]] = []

    def compared(name: str) -> Callable[..., object]:
        ours, sdks = getattr(_Instance35, name), getattr(_Instance, name)

        def lookup(instance: _Instance35, command_info: object) -> object:
            answer, expected = ours(instance, command_info), sdks(instance, command_info)
            calls[name] += 1
            if answer != expected:
                differences.append((name, answer, expected))
            return answer

        return lookup

    for name in LOOKUPS:
        monkeypatch.setattr(_Instance35, name, compared(name))
    await contexts_of_one_order(
        temporal_env, store, task_queue, f"{order_prefix}1", workflow_runner(sandbox=True)
    )

    assert differences == []
    assert all(calls[name] > 10 for name in LOOKUPS), calls  # answered by our override
