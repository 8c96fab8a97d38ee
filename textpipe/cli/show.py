"""``textpipe show``."""

from __future__ import annotations

import click


@click.command("show")
@click.argument("run")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="STAGE.KEY=VALUE",
    help="Override a preset parameter.",
)
def command(run: str, overrides: tuple[str, ...]) -> None:
    """Show the stage parameters and the model of a preset or pipeline file, built or not.

    Each stage's artifact is the one its current parameters give (so a changed preset
    shows what a run would rebuild). The model table lists layers, output shapes,
    parameters and what each layer does with the padding mask.

    \b
    Example:
      textpipe show imdb-bilstm
    """
    from rich.table import Table

    from textpipe.cli.common import store
    from textpipe.cli.console import stdout_console
    from textpipe.presets import load_config
    from textpipe.show import layer_rows, pipeline_model, pipeline_overview

    console = stdout_console()
    artifact_store = store()
    config = load_config(run, overrides, artifact_store)
    views = pipeline_overview(config, artifact_store)
    table = Table(title=f"{config.name}: {config.description}", show_header=True)
    for column in ("stage", "parameters", "artifact"):
        table.add_column(column)
    for view in views:
        text = ", ".join(
            f"{name}={value}" for name, value in view.params.items() if value is not None
        )
        status = f"{view.artifact.short_key} (built)" if view.artifact else "not built"
        table.add_row(view.stage, text, status)
    console.print(table)
    for view in views:
        if view.problem:
            console.print(f"[yellow]{view.stage}: {view.problem}[/yellow]", highlight=False)

    model, note = pipeline_model(config, views)
    layers = Table(title=f"model {model.name}", show_header=True)
    for column, justify in (
        ("layer", "left"),
        ("type", "left"),
        ("output shape", "left"),
        ("params", "right"),
        ("masking", "left"),
    ):
        layers.add_column(column, justify=justify)
    for name, kind, shape, count, role in layer_rows(model):
        layers.add_row(name, kind, shape, f"{count:,}", role)
    layers.caption = f"{model.count_params():,} parameters"
    console.print(layers)
    console.print(note)
