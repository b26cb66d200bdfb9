"""Live progress of long runs: a bar on a terminal, plain lines when output is not one.

On a terminal (stderr is a TTY) a rich progress bar shows done / failed / compensated /
retries, the rate and the time left; log lines print above it. Otherwise one plain line
every few seconds (and a last one), so logs and CI output stay readable.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from logging.handlers import QueueHandler, QueueListener
from typing import Protocol

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

#: Plain lines come at most this often.
PLAIN_EVERY_S = 3.0


class Counts(Protocol):
    """What a run reports as it goes (``RunReport`` has these)."""

    orders: int
    completed: int
    failed: int
    compensated: int
    retries: int

    @property
    def finished(self) -> int: ...

    def progress_line(self, done: int) -> str: ...


def on_terminal() -> bool:
    """True when stderr is a terminal a bar can redraw on."""
    from orderflow.logs import stderr_terminal

    return stderr_terminal()[0]


def _console() -> Console:
    from orderflow.logs import stderr_terminal

    terminal, width = stderr_terminal()
    return Console(stderr=True, force_terminal=terminal, width=width)


class Display:
    """Shows a run's progress; ``update(report)`` as often as you like."""

    def __init__(self, title: str, total: int) -> None:
        self.title, self.total = title, total
        self._last = 0.0
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def update(self, counts: Counts, extra: str = "") -> None:
        """Show ``counts`` (and an extra note, such as the kills so far)."""
        if self._bar is not None and self._task is not None:
            self._bar.update(
                self._task,
                completed=counts.finished,
                total=max(self.total, counts.finished),
                figures=(
                    f"completed {counts.completed} · failed {counts.failed} · compensated "
                    f"{counts.compensated} · retries {counts.retries}"
                    + (f" · {extra}" if extra else "")
                ),
            )
            return
        now = time.monotonic()
        if now - self._last >= PLAIN_EVERY_S or counts.finished >= self.total:
            self._last = now
            typer.echo(counts.progress_line(counts.finished) + (f" | {extra}" if extra else ""))

    @property
    def live(self) -> bool:
        """True while a bar is drawn (on a terminal)."""
        return self._bar is not None

    def step(self, done: int, total: int, label: str) -> None:
        """Progress counted in steps (the bench's measurements) rather than orders."""
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=total, figures=label)

    def note(self, line: str) -> None:
        """A line for a person, above the bar (or among the plain lines)."""
        if self._bar is not None:
            self._bar.console.print(line, markup=False, highlight=False)
        else:
            typer.echo(line)


@contextmanager
def progress(title: str, total: int) -> Iterator[Display]:
    """A ``Display`` for the block: live on a terminal, plain lines otherwise."""
    display = Display(title, total)
    if not on_terminal():
        yield display
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[figures]}"),
        Rate(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=_console(),
        transient=False,
        # Not rich's stderr proxy: workflow code logs from inside Temporal's sandbox, where
        # rich must not run; log records reach the bar through a queue instead.
        redirect_stderr=False,
        redirect_stdout=False,
    )
    try:
        with bar, _logs_above(bar):
            display._bar = bar
            display._task = bar.add_task(title, total=total, figures="")
            yield display
    finally:
        from orderflow.logs import sync_stderr

        sync_stderr()  # the bar's last frame before whatever is printed next


@contextmanager
def _logs_above(bar: Progress) -> Iterator[None]:
    """Log records printed above the bar, by a thread of their own (a queue in between:
    records may come from inside the workflow sandbox, where rich must not run)."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    formatter = handlers[0].formatter if handlers else None

    class AboveTheBar(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            bar.console.print(self.format(record), markup=False, highlight=False)

    printer = AboveTheBar()
    printer.setFormatter(formatter or logging.Formatter("%(message)s"))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = QueueListener(records, printer)
    root.handlers[:] = [QueueHandler(records)]
    listener.start()
    try:
        yield
    finally:
        listener.stop()
        root.handlers[:] = handlers


class Rate(ProgressColumn):
    """Orders per second, as the bar measures it."""

    def render(self, task: Task) -> Text:
        """The rate, or nothing before there is one."""
        return Text(f"{task.speed:.1f}/s" if task.speed else "", style="dim")


@contextmanager
def spinner(what: str) -> Iterator[None]:
    """A spinner with the elapsed time while one long call runs (a plain line otherwise)."""
    if not on_terminal():
        typer.echo(f"{what} ...", err=True)
        yield
        return
    with _console().status(what):
        yield
