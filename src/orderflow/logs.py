"""Logging: readable lines for people, or one JSON object per line carrying the order id."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from datetime import datetime, timezone
from typing import Any


def order_id_of(record: logging.LogRecord) -> str | None:
    """The order a log record is about: explicit ``order_id`` extra, or the workflow's id."""
    explicit = getattr(record, "order_id", None)
    if explicit:
        return str(explicit)
    for key in ("temporal_workflow", "temporal_activity"):
        info: Any = getattr(record, key, None)
        if isinstance(info, dict):
            workflow_id = info.get("workflow_id")
            if isinstance(workflow_id, str) and workflow_id.startswith("order-"):
                return workflow_id.removeprefix("order-")
    return None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, order_id (when known)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        order_id = order_id_of(record)
        if order_id:
            entry["order_id"] = order_id
        for key in ("temporal_workflow", "temporal_activity"):
            info = getattr(record, key, None)
            if isinstance(info, dict):
                entry["workflow_id"] = info.get("workflow_id")
                entry["run_id"] = info.get("run_id")
                if key == "temporal_activity":
                    entry["activity"] = info.get("activity_type")
                    entry["attempt"] = info.get("attempt")
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _CurrentStderr:
    """Whatever ``sys.stderr`` is at the time of writing (a live progress bar swaps it for a
    proxy that prints above the bar; a handler holding the old stream would tear it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def setup_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Configure the root logger once for a command."""
    handler = logging.StreamHandler(_CurrentStderr())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("temporalio").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Our messages already name the order; the SDK's appended context dict is noise here.
    from temporalio import workflow

    workflow.logger.workflow_info_on_message = False


#: The SDK core's harmless panic after a worker with local activities shut down (a local
#: activity's timeout timer fires into a closed channel): its first line, and what follows.
_PANIC_START = re.compile(rb"panicked at .*local_activities\.rs")
_PANIC_REST = re.compile(rb"^(receive half not dropped|stack backtrace:|\s+\d+: |\s+at |note: )")
_pump: threading.Thread | None = None
#: A line ``sync_stderr`` sends through the filter; the pump swallows it and says so.
_SYNC = b"\x00orderflow-stderr-sync\x00\n"
_synced = threading.Condition()
_syncs_seen = 0
#: Whether stderr was a terminal (and how wide) before ``quiet_core_panics`` piped it.
_terminal: tuple[bool, int] | None = None


def stderr_terminal() -> tuple[bool, int]:
    """(is stderr a terminal, its width in columns), as the user's terminal is."""
    if _terminal is not None:
        return _terminal
    try:
        columns = os.get_terminal_size(2).columns
        # A terminal without a size (a bare pty) cannot draw a bar: plain lines then.
        return os.isatty(2) and columns > 0, columns or 80
    except OSError:
        return False, 80


def quiet_core_panics() -> None:
    """Keep the SDK core's harmless shutdown panic out of this process's stderr.

    temporalio's core (Rust) writes it straight to file descriptor 2 when a local activity's
    timeout timer fires after its worker shut down; nothing is lost, but the Rust stack trace
    alarms a reader. Descriptor 2 is routed through a thread that drops exactly those lines
    (any other line passes untouched); ``flush_stderr`` drains it before the process leaves.
    """
    global _pump, _terminal
    if _pump is not None:
        return
    _terminal = stderr_terminal()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    original = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        skipping = False

        def one(line: bytes) -> None:
            nonlocal skipping
            global _syncs_seen
            if line.endswith(_SYNC):
                os.write(original, line[: -len(_SYNC)])  # a partial line before it
                with _synced:
                    _syncs_seen += 1
                    _synced.notify_all()
                return
            if _PANIC_START.search(line):
                skipping = True
            elif skipping and _PANIC_REST.match(line):
                skipping = not line.startswith(b"note: ")
            else:
                skipping = False
                os.write(original, line)

        pending = b""
        while chunk := os.read(read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                one(line + b"\n")
            # A partial line goes out at once (a progress bar redraws without newlines),
            # unless it may be the start of the panic's first line.
            if pending and not pending.startswith(b"thread"):
                os.write(original, pending)
                pending = b""
        if pending:
            one(pending)
        os.close(read_end)
        os.close(original)

    _pump = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    _pump.start()


def sync_stderr(timeout: float = 2.0) -> None:
    """Return once everything written to stderr so far has reached the terminal (so what
    this process prints on stdout next comes after it)."""
    sys.stderr.flush()
    if _pump is None:
        return
    with _synced:
        wanted = _syncs_seen + 1
        os.write(2, _SYNC)
        _synced.wait_for(lambda: _syncs_seen >= wanted, timeout)


def flush_stderr(timeout: float = 2.0) -> None:
    """Write out everything still on its way to stderr (see ``quiet_core_panics``)."""
    sys.stderr.flush()
    if _pump is None:
        return
    os.close(2)  # the pump sees the end of its input and finishes writing
    _pump.join(timeout)
