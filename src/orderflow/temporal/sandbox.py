"""The workflow sandbox, minus two measured overheads of the SDK's sandbox runner.

The SDK's ``SandboxedWorkflowRunner`` enters the sandbox by ``exec``-ing a code string,
which Python compiles again every time, inside its import context (``sys.modules`` and
``builtins.__import__`` swapped in and out). It does that once per activation *and* once per
payload sequence its six payload-visitor passes meet, only to ask the workflow instance which
serialization context applies: about 80 entries per order. ``workflow_runner`` gives the
same sandbox with two changes:

- each code string is compiled once and the code object reused (the same code runs, with the
  same globals, in the same import context);
- the serialization-context questions (lookups in the SDK's own instance object: no workflow
  code, no import) are answered without entering the import context.

Workflow code still runs only inside the sandbox, under all its restrictions. Both changes
override private methods of the SDK's ``workflow_sandbox._runner._Instance``, so they apply
only to the SDK version they were read against and tested with (``TESTED_SDK``, the one
``uv.lock`` pins); any other version gets the SDK's own runner, and
``tests/workflow/test_sandbox.py`` fails until someone re-reads ``_runner.py`` and moves
``TESTED_SDK``. Measured (replaying the same completed order 300 times, CPU time): 31-37 ms
per order with the SDK's runner, 22-25 with this one, 18-19 with no sandbox at all.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import CodeType
from typing import TYPE_CHECKING, Any, cast

import temporalio
from temporalio.worker import (
    UnsandboxedWorkflowRunner,
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _Instance

if TYPE_CHECKING:
    from temporalio.converter import SerializationContext
    from temporalio.converter._extstore import StorageDriverStoreContext
    from temporalio.worker._command_aware_visitor import CommandInfo
    from temporalio.worker.workflow_sandbox._in_sandbox import InSandbox

#: The SDK version these overrides were read against, measured and tested with.
TESTED_SDK = "1.35.0"
#: Whether ``workflow_runner(sandbox=True)`` returns the faster runner.
FAST_SANDBOX = temporalio.__version__ == TESTED_SDK


@functools.cache
def _compiled(code: str) -> CodeType:
    # A handful of strings: the SDK's fixed snippets plus one import line per workflow type.
    # compile() takes this module's __future__ flags, as the SDK's exec(string) takes those
    # of _runner.py: both `annotations` only, so the code object is the one exec would build.
    return compile(code, "<string>", "exec")


class _Instance35(_Instance):
    """The SDK's sandboxed instance with its code strings compiled once."""

    def _run_code(self, code: str, **extra_globals: Any) -> None:
        # The SDK's own _run_code, given a code object (exec takes either).
        super()._run_code(_compiled(code), **extra_globals)  # type: ignore[arg-type]

    def _in_sandbox(self) -> InSandbox:
        # The SDK's object inside the sandbox that holds the workflow instance.
        return cast("InSandbox", self.globals_and_locals["__temporal_in_sandbox"])

    def get_serialization_context(
        self, command_info: CommandInfo | None
    ) -> SerializationContext | None:
        return self._in_sandbox().get_serialization_context(command_info)

    def get_external_store_context(
        self, command_info: CommandInfo | None
    ) -> StorageDriverStoreContext:
        return self._in_sandbox().get_external_store_context(command_info)


@dataclass(frozen=True)
class FastSandboxedWorkflowRunner(SandboxedWorkflowRunner):
    """``SandboxedWorkflowRunner`` whose instances skip the two overheads above."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _Instance35(det, self.runner_class, self.restrictions)


def workflow_runner(sandbox: bool) -> WorkflowRunner:
    """The runner for orderflow's workers (``ORDERFLOW_WORKFLOW_SANDBOX``)."""
    if not sandbox:
        return UnsandboxedWorkflowRunner()
    return FastSandboxedWorkflowRunner() if FAST_SANDBOX else SandboxedWorkflowRunner()
