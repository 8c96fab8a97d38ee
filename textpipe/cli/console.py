"""Where the CLI writes: results on stdout, progress and notes on stderr (rich when a terminal)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from textpipe.progress import Advance

if TYPE_CHECKING:
    from rich.console import Console


@lru_cache(maxsize=1)
def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def stdout_console() -> Console:
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        # piped or captured: no terminal width to respect, so do not squeeze tables
        console = Console(highlight=False, width=160)
    return console


def _surely_not_a_terminal() -> bool:
    """Whether rich would find that stderr is no terminal, decided without importing rich
    (0.03 s a process): stderr is not a tty, and no variable says to treat it as one."""
    if os.environ.get("TTY_COMPATIBLE", "") not in ("", "0") or "FORCE_COLOR" in os.environ:
        return False
    try:
        return not sys.stderr.isatty()
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return True


class ConsoleProgress:
    """Rich progress bars on stderr when it is a terminal, plain lines otherwise (without
    importing rich)."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console

    @property
    def console(self) -> Console:
        if self._console is None:
            self._console = stderr_console()
        return self._console

    def _is_terminal(self) -> bool:
        if self._console is None and _surely_not_a_terminal():
            return False
        return self.console.is_terminal

    @contextlib.contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Advance]:
        if not self._is_terminal():
            start = time.perf_counter()
            print(f"{description} ...", file=sys.stderr, flush=True)
            yield lambda amount=1, status=None: None
            print(
                f"{description} done in {time.perf_counter() - start:.1f} s",
                file=sys.stderr,
                flush=True,
            )
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
        if total is not None:
            columns.append(MofNCompleteColumn())
        columns.append(TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True) as progress:
            task_id = progress.add_task(description, total=total)

            def advance(amount: int = 1, status: str | None = None) -> None:
                if status is None:
                    progress.advance(task_id, amount)
                else:
                    progress.update(task_id, advance=amount, description=f"{description}  {status}")

            yield advance

    def note(self, message: str) -> None:
        if self._is_terminal():
            from rich.markup import escape

            # a path or a message with [brackets] is text, not markup
            self.console.print(f"[yellow]note:[/yellow] {escape(message)}")
        else:
            print(f"note: {message}", file=sys.stderr, flush=True)

    def log(self, message: str) -> None:
        if self._is_terminal():
            self.console.print(message, markup=False)
        else:
            print(message, file=sys.stderr, flush=True)
