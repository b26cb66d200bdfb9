"""The engine floor and the bare shape: what Temporal itself costs, with no business logic.

- ``FloorWorkflow`` returns at once: one workflow task, nothing else (the engine floor).
- ``BareWorkflow`` runs ``steps`` no-op activities in sequence: the order workflow's shape
  (its activity count for a single-warehouse order) with none of its work.

Activities are referred to by name so this module imports nothing beyond temporalio: the
sandbox re-imports it for every workflow run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

NOOP_ACTIVITY = "bench_noop"


@activity.defn(name=NOOP_ACTIVITY)
def noop_activity(step: int) -> int:
    """Does nothing; synchronous, so it takes the same thread-pool path as the order's."""
    return step


@workflow.defn(name="BenchFloor")
class FloorWorkflow:
    """An empty workflow: the cheapest thing the engine can run durably."""

    @workflow.run
    async def run(self, _order_id: str) -> str:
        return "done"


@workflow.defn(name="BenchBare")
class BareWorkflow:
    """``steps`` no-op activities one after another."""

    @workflow.run
    async def run(self, steps: int) -> int:
        for step in range(steps):
            await workflow.execute_activity(
                NOOP_ACTIVITY, step, start_to_close_timeout=timedelta(seconds=10), result_type=int
            )
        return steps


@workflow.defn(name="BenchBareMixed")
class BareMixedWorkflow:
    """No-op calls in the order's own mix: ``local[i]`` says whether step ``i`` is a local
    activity (as orderflow's activity mode runs that step) or a regular one."""

    @workflow.run
    async def run(self, local: list[bool]) -> int:
        for step, is_local in enumerate(local):
            if is_local:
                await workflow.execute_local_activity(
                    NOOP_ACTIVITY,
                    step,
                    start_to_close_timeout=timedelta(seconds=10),
                    result_type=int,
                )
            else:
                await workflow.execute_activity(
                    NOOP_ACTIVITY,
                    step,
                    start_to_close_timeout=timedelta(seconds=10),
                    result_type=int,
                )
        return len(local)


@workflow.defn(name="BenchBareLocal")
class BareLocalWorkflow:
    """The same ``steps`` no-op calls as *local* activities.

    Local activities run in the worker and are recorded as markers when the workflow task
    completes: no activity task, no extra workflow task per step. Its CPU per order is the
    least an order of local activities can cost: the report's ceiling.
    """

    @workflow.run
    async def run(self, steps: int) -> int:
        for step in range(steps):
            await workflow.execute_local_activity(
                NOOP_ACTIVITY, step, start_to_close_timeout=timedelta(seconds=10), result_type=int
            )
        return steps
