"""``textpipe evaluate``."""

from __future__ import annotations

from pathlib import Path

import click

from textpipe.artifacts import open_artifact
from textpipe.cli.common import (
    model_code_options,
    output_options,
    params_from_cli,
    params_options,
    store,
)
from textpipe.cli.console import ConsoleProgress, stdout_console
from textpipe.config import EvaluateParams

# Beyond this many classes the per-class and confusion tables would not fit a terminal.
MAX_TABLE_CLASSES = 20


def metrics_table(metrics: dict, title: str) -> object:
    """Rich tables of the headline metrics, the per-class metrics and the confusion matrix.

    The per-class and confusion tables are shown up to `MAX_TABLE_CLASSES` classes; beyond,
    a line says where they are (metrics.json).
    """
    from rich.console import Group
    from rich.table import Table

    table = Table(title=title, show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    names = metrics["label_names"]
    # The headline precision, recall and F1: the positive class's for two classes, else macro.
    averaged = f" ({names[1]})" if len(names) == 2 else " (macro)"
    for name in ("accuracy", "precision", "recall", "f1", "macro_f1", "roc_auc", "loss"):
        if name not in metrics or (name == "macro_f1" and len(names) > 2):
            continue
        value = metrics[name]
        label = f"{name}{averaged}" if name in ("precision", "recall", "f1") else name
        table.add_row(label, "n/a" if value is None else f"{value:.4f}")
    table.add_row("examples", f"{metrics['examples']:,}")
    if len(names) > MAX_TABLE_CLASSES:
        return Group(
            table,
            f"{len(names)} classes: per-class metrics and the confusion matrix are in "
            "metrics.json.",
        )
    parts: list[object] = [table]
    per_class = metrics.get("per_class")
    if per_class:
        classes = Table(title="per class", show_header=True)
        classes.add_column("class")
        for column in ("precision", "recall", "f1", "support"):
            classes.add_column(column, justify="right")
        rows = [(name, per_class[name]) for name in names if name in per_class]
        rows += [
            (label, metrics[key])
            for label, key in (("macro avg", "macro_avg"), ("weighted avg", "weighted_avg"))
            if key in metrics
        ]
        for label, values in rows:
            classes.add_row(
                label,
                *(f"{values[column]:.4f}" for column in ("precision", "recall", "f1")),
                f"{values['support']:,}",
                end_section=label == names[-1],
            )
        parts.append(classes)
    matrix = Table(title="confusion matrix (rows: true class, columns: predicted)")
    matrix.add_column("true \\ predicted")
    for name in names:
        matrix.add_column(name, justify="right")
    for index, row in enumerate(metrics["confusion_matrix"]):
        matrix.add_row(names[index], *(f"{count:,}" for count in row))
    parts.append(matrix)
    return Group(*parts)


@click.command("evaluate")
@click.argument("model_dir", type=click.Path(path_type=Path))
@click.argument("encoded", type=click.Path(path_type=Path))
@params_options(EvaluateParams)
@model_code_options
@output_options
def command(
    model_dir: Path,
    encoded: Path,
    output: Path | None,
    force: bool,
    model_code: str | None,
    trust_code: bool,
    overrides: tuple[str, ...],
    **options: object,
) -> None:
    """Evaluate a train artifact (MODEL_DIR) on a split of an encode artifact (ENCODED).

    Writes metrics.json (loss, accuracy, precision, recall, F1, ROC-AUC, per-class metrics
    with macro and weighted averages, confusion matrix) and predictions.npy. Prints them, with
    the confusion matrix labelled by class name (up to 20 classes).

    \b
    Example:
      textpipe evaluate build/bilstm build/imdb-encoded --split test -o build/bilstm-eval
    """
    from textpipe.stages.evaluate import STAGE, evaluate

    artifact_store = store()
    outcome = evaluate(
        params=params_from_cli(EvaluateParams, options, overrides),  # checked first
        model=open_artifact(model_dir, stage=STAGE.input_stage("model"), store=artifact_store),
        encoded=open_artifact(encoded, stage=STAGE.input_stage("encoded"), store=artifact_store),
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
