"""``textpipe show``."""

from __future__ import annotations

import click

from textpipe.cli.common import model_code_options


@click.command("show")
@click.argument("run")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="STAGE.KEY=VALUE",
    help="Override a preset parameter (a preset or pipeline file only).",
)
@model_code_options
def command(run: str, overrides: tuple[str, ...], model_code: str | None, trust_code: bool) -> None:
    """Show the stage parameters and the model of RUN: a preset, a pipeline file or a run name.

    For a preset or pipeline file, each stage's artifact is the one its current
    parameters give (so a changed preset shows what a run would rebuild). For a run
    name recorded by `textpipe run` (such as `my` or `my-1a2b3c4d` after `textpipe run
    my.toml`), each stage shows the parameters and artifact the run recorded, the ones
    `predict` and `report` use. A name that is both a preset and a recorded run shows
    the preset: its run is recorded under the preset's own name. The model table lists
    layers, output shapes, parameters and what each layer does with the padding mask.

    \b
    Examples:
      textpipe show imdb-bilstm
      textpipe show my.toml
      textpipe show my-1a2b3c4d
    """
    from rich.markup import escape
    from rich.table import Table

    from textpipe.cli.common import store
    from textpipe.cli.console import stdout_console
    from textpipe.show import (
        layer_rows,
        pipeline_model,
        pipeline_overview,
        run_overview,
        shows_recorded_run,
    )

    console = stdout_console()
    artifact_store = store()
    recorded = shows_recorded_run(run)
    if recorded:
        if overrides:
            from textpipe.errors import InputError

            raise InputError(
                f"--set changes a preset or pipeline file; run {run!r} is shown as recorded."
            )
        record, views = run_overview(run, artifact_store)
        description = record.get("description")
        title = f"run {run}: {description if isinstance(description, str) else ''}"
    else:
        from textpipe.presets import load_config

        config = load_config(run, overrides, artifact_store)
        views = pipeline_overview(config, artifact_store)
        title = f"{config.name}: {config.description}"
    table = Table(title=escape(title), show_header=True)
    for column in ("stage", "parameters", "artifact"):
        table.add_column(column)
    for view in views:
        text = ", ".join(
            f"{name}={value}" for name, value in view.params.items() if value is not None
        )
        if view.artifact is not None:
            status = f"{view.artifact.short_key} (built)"
        elif recorded:
            status = "not in store" if view.problem else "not run"
        else:
            status = "not built"
        table.add_row(view.stage, escape(text), status)
    console.print(table)
    for view in views:
        if view.problem:
            message = escape(f"{view.stage}: {view.problem}")
            console.print(f"[yellow]{message}[/yellow]", highlight=False)

    if recorded:
        from textpipe.stages.train import load_trained_model

        trained = next((view.artifact for view in views if view.stage == "train"), None)
        if trained is None:
            console.print(f"Run {run!r} has no trained model in the store: no model to show.")
            return
        model = load_trained_model(trained, model_code=model_code, trust_code=trust_code)
        note = f"trained model from {trained.path}"
    else:
        model, note = pipeline_model(config, views, model_code=model_code, trust_code=trust_code)
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
