"""Progress reporting that library code can call without knowing where it is displayed.

Stages take a ``Progress`` and call ``progress.task(description, total)``; the CLI passes one
that draws rich progress bars on stderr (plain lines when stderr is not a terminal), tests and
library users get the silent default.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

Advance = Callable[[int], None]


class Progress(Protocol):
    """Where stages report long work and notable events."""

    def task(self, description: str, total: int | None = None) -> contextlib.AbstractContextManager[Advance]:
        """A context whose value advances the task by a number of units."""
        ...

    def note(self, message: str) -> None:
        """A one-line message for the user (a warning or a notable event)."""
        ...


class SilentProgress:
    """Reports nothing; the default for library calls and tests."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    @contextlib.contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Advance]:
        yield lambda amount=1: None

    def note(self, message: str) -> None:
        self.notes.append(message)


def or_silent(progress: Progress | None) -> Progress:
    return progress if progress is not None else SilentProgress()
