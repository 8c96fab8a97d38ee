"""``textpipe models``."""

from __future__ import annotations

import click


@click.command("models")
def command() -> None:
    """List the model zoo: a one-line description and the options each model uses.

    \b
    Example:
      textpipe models
    """
    from rich.table import Table

    from textpipe.cli.console import stdout_console
    from textpipe.models import list_models

    table = Table(show_header=True, box=None)
    for column in ("model", "masked", "recurrent", "options", "description"):
        table.add_column(column)
    for info in list_models():
        table.add_row(
            info.name,
            "yes" if info.masked else "no",
            "yes" if info.recurrent else "no",
            ", ".join(info.options),
            info.description,
        )
    stdout_console().print(table)
    click.echo(
        "Custom: --model path/to/file.py:build or package.module:build, taking the options "
        "its signature names (see examples/custom_cell.py)."
    )
