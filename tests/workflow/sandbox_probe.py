"""A workflow that tries something the sandbox forbids (kept tiny: the sandbox re-imports it)."""

from __future__ import annotations

import datetime

from temporalio import workflow


@workflow.defn
class ClockProbeWorkflow:
    """Reads the wall clock, which is nondeterministic: the sandbox must refuse it."""

    @workflow.run
    async def run(self) -> str:
        try:
            datetime.date.today()
        except Exception as err:  # the sandbox's RestrictedWorkflowAccessError
            return type(err).__name__
        return "unrestricted"
