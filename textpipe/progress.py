"""Progress reporting that library code can call without knowing where it is displayed.

Stages take a ``Progress`` and call ``progress.task(description, total)``; the CLI passes one
that draws rich progress bars on stderr (plain lines when stderr is not a terminal), tests and
library users get the silent default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

Advance = Callable[..., None]
"""``advance(amount=1, status=None)``: move a task on, optionally with a short status text."""


class Progress(Protocol):
    """Where stages report long work and notable events."""

    def task(
        self, description: str, total: int | None = None
    ) -> contextlib.AbstractContextManager[Advance]:
        """A context whose value advances the task by a number of units."""
        ...

    def note(self, message: str) -> None:
        """A one-line warning or notable event for the user."""
        ...

    def log(self, message: str) -> None:
        """A one-line record of progress (an epoch's metrics, say)."""
        ...


class SilentProgress:
    """Reports nothing; the default for library calls and tests."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.logs: list[str] = []

    @contextlib.contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Advance]:
        yield lambda amount=1, status=None: None

    def note(self, message: str) -> None:
        self.notes.append(message)

    def log(self, message: str) -> None:
        self.logs.append(message)


def or_silent(progress: Progress | None) -> Progress:
    return progress if progress is not None else SilentProgress()
