"""Options and output helpers shared by the stage commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from textpipe.artifacts import Outcome, Store
from textpipe.config import Params

ParamsType = TypeVar("ParamsType", bound=Params)
Command = TypeVar("Command", bound=Callable[..., Any])


def output_options(function: Command) -> Command:
    """``-o/--output`` and ``--force``, the options every stage command takes."""
    function = click.option(
        "--force", is_flag=True, help="Rebuild even when the artifact is cached."
    )(function)
    function = click.option(
        "-o",
        "--output",
        type=click.Path(file_okay=False, path_type=Path),
        help="Also write the artifact to this directory (for Makefiles).",
    )(function)
    return function


def model_code_options(function: Command) -> Command:
    """``--model-code`` and ``--trust-code``: where a custom model's code may come from."""
    function = click.option(
        "--trust-code",
        is_flag=True,
        help="Run the custom model code named in the model's manifest (only for models you trust).",
    )(function)
    function = click.option(
        "--model-code",
        metavar="FILE.py:FUNCTION",
        help="The custom builder a model was trained with; textpipe never runs code a manifest "
        "names unless you pass --trust-code.",
    )(function)
    return function


def threads_option(function: Command) -> Command:
    return click.option(
        "--threads",
        type=click.IntRange(min=1),
        default=None,
        help="Threads for bulk text work  [default: usable cores].",
    )(function)


def make_params(cls: type[ParamsType], **values: Any) -> ParamsType:
    """Build a parameters object from the options given (None means: use the default)."""
    return cls(**{name: value for name, value in values.items() if value is not None})


def store() -> Store:
    return Store()


def report(outcome: Outcome, details: list[str] | None = None) -> None:
    """Print what the cache did, where the artifact is, and the stage's key figures."""
    click.echo(f"{outcome.line()}  {outcome.artifact.path}")
    for line in details or []:
        click.echo(f"  {line}")
