"""``textpipe show``."""

from __future__ import annotations

from typing import Any

import click


def _masking(layer: Any, masked: bool, rank: int | None) -> tuple[str, bool]:
    """What a layer does with the padding mask, and whether a mask flows after it."""
    if getattr(layer, "mask_zero", False):
        return "makes mask (id 0)", True
    if not masked:
        return "", False
    if rank == 2:  # one vector per text: the steps, and with them the mask, are pooled away
        return "consumes mask", False
    return "passes mask", True


def model_table(model: Any) -> Any:
    """Layers, output shapes, parameters and what each does with the padding mask."""
    from rich.table import Table

    table = Table(title=f"model {model.name}", show_header=True)
    for column, justify in (
        ("layer", "left"),
        ("type", "left"),
        ("output shape", "left"),
        ("params", "right"),
        ("masking", "left"),
    ):
        table.add_column(column, justify=justify)
    masked = False
    for layer in model.layers:
        try:
            shape_tuple: tuple | None = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape_tuple = None
        text, masked = _masking(layer, masked, len(shape_tuple) if shape_tuple else None)
        shape = str(shape_tuple) if shape_tuple else "?"
        table.add_row(layer.name, type(layer).__name__, shape, f"{layer.count_params():,}", text)
    table.caption = f"{model.count_params():,} parameters"
    return table


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
    """Show the stage parameters and the model of a preset or run, before or after training.

    The model table lists layers, output shapes, parameters and masking: the model
    graph you would display before training.

    \b
    Example:
      textpipe show imdb-bilstm
    """
    from rich.table import Table

    from textpipe.backend import load_keras
    from textpipe.cli.common import store
    from textpipe.cli.console import stdout_console
    from textpipe.config import STAGE_NAMES
    from textpipe.errors import InputError, TextpipeError
    from textpipe.models import build_model, select_model_options
    from textpipe.pipeline import load_config, resolve_run_artifacts
    from textpipe.stages.train import load_trained_model

    console = stdout_console()
    artifact_store = store()
    config = load_config(run, overrides)
    problem = None
    try:
        artifacts = {} if overrides else resolve_run_artifacts(config.name, artifact_store)
    except InputError:  # nothing built yet: show the preset alone
        artifacts = {}
    except TextpipeError as error:  # damaged or mismatched: say so, never delete
        artifacts, problem = {}, str(error)
    table = Table(title=f"{config.name}: {config.description}", show_header=True)
    table.add_column("stage")
    table.add_column("parameters")
    table.add_column("artifact")
    for stage in STAGE_NAMES:
        params = config.stage_params(stage).to_dict()
        text = ", ".join(f"{name}={value}" for name, value in params.items() if value is not None)
        artifact = artifacts.get(stage)
        table.add_row(stage, text, f"{artifact.short_key} (built)" if artifact else "not built")
    console.print(table)
    if problem:
        console.print(f"[yellow]{problem}[/yellow]", highlight=False)

    load_keras()
    trained = artifacts.get("train")
    if trained is not None:
        model = load_trained_model(trained, model_code=config.train.model)
        note = f"trained model from {trained.path}"
    else:
        vocab = artifacts.get("vocab")
        vocab_size = vocab.stats["vocab_size"] if vocab else config.vocab.size + 2
        dataset = artifacts.get("download")
        num_classes = dataset.stats["num_classes"] if dataset else 2
        model = build_model(
            config.train.model,
            vocab_size=vocab_size,
            length=config.encode.length,
            num_classes=num_classes,
            **select_model_options(config.train.model, config.train.model_options()),
        )
        note = (
            f"built from the preset (vocabulary {vocab_size:,} ids"
            f"{'' if vocab else ', assuming the full vocabulary size'}; {num_classes} classes"
            f"{'' if dataset else ', assumed'}); not trained"
        )
    console.print(model_table(model))
    console.print(note)
