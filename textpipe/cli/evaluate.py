"""``textpipe evaluate``."""

from __future__ import annotations

from pathlib import Path

import click

from textpipe.artifacts import open_artifact
from textpipe.cli.common import make_params, model_code_options, output_options, store
from textpipe.cli.console import ConsoleProgress, stdout_console
from textpipe.config import EvaluateParams


def metrics_table(metrics: dict, title: str) -> object:
    """A rich table of the headline metrics and the confusion matrix."""
    from rich.table import Table

    table = Table(title=title, show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "loss"):
        value = metrics.get(name)
        table.add_row(name, "n/a" if value is None else f"{value:.4f}")
    table.add_row("examples", f"{metrics['examples']:,}")
    names = metrics["label_names"]
    for index, row in enumerate(metrics["confusion_matrix"]):
        cells = "  ".join(f"{names[column]}:{count}" for column, count in enumerate(row))
        table.add_row(f"true {names[index]}", cells)
    return table


@click.command("evaluate")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("encoded", type=click.Path(path_type=Path))
@click.option("--split", help="Split to evaluate  [default: test].")
@click.option("--batch-size", type=int, help="Prediction batch size  [default: 256].")
@model_code_options
@output_options
def command(
    model_dir: Path,
    encoded: Path,
    output: Path | None,
    force: bool,
    model_code: str | None,
    trust_code: bool,
    **options: object,
) -> None:
    """Evaluate a train artifact (MODEL_DIR) on a split of an encode artifact (ENCODED).

    Writes metrics.json (loss, accuracy, precision, recall, F1, ROC-AUC, confusion
    matrix) and predictions.npy.

    \b
    Example:
      textpipe evaluate build/bilstm build/imdb-encoded --split test -o build/bilstm-eval
    """
    from textpipe.stages.evaluate import DATA_STAGES, MODEL_STAGES, evaluate

    artifact_store = store()
    outcome = evaluate(
        trained=open_artifact(model_dir, stage=MODEL_STAGES, store=artifact_store),
        encoded=open_artifact(encoded, stage=DATA_STAGES, store=artifact_store),
        params=make_params(EvaluateParams, **options),
        store=artifact_store,
        output=output,
        force=force,
        model_code=model_code,
        trust_code=trust_code,
        progress=ConsoleProgress(),
    )
    click.echo(f"{outcome.line()}  {outcome.artifact.path}")
    stdout_console().print(
        metrics_table(outcome.artifact.stats, f"{outcome.artifact.stats['split']} split")
    )
