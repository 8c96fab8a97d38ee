"""``textpipe presets``."""

from __future__ import annotations

import click


@click.command("presets")
def command() -> None:
    """List the presets (pipelines/*.toml) with their descriptions.

    \b
    Example:
      textpipe presets
    """
    from rich.table import Table

    from textpipe.cli.console import stdout_console
    from textpipe.errors import ConfigError
    from textpipe.presets import available_presets, load_config

    table = Table(show_header=True, box=None)
    for column in ("preset", "model", "description"):
        table.add_column(column)
    for name, path in available_presets().items():
        try:
            config = load_config(str(path))
            table.add_row(name, config.train.model, config.description)
        except ConfigError as error:
            table.add_row(name, "?", f"[red]invalid: {str(error).splitlines()[0]}[/red]")
    stdout_console().print(table)
