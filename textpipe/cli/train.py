"""``textpipe train``."""

from __future__ import annotations

from pathlib import Path

import click

from textpipe.artifacts import open_artifact
from textpipe.cli.common import output_options, params_from_cli, params_options, report, store
from textpipe.cli.console import ConsoleProgress
from textpipe.config import TrainParams


@click.command("train")
@click.argument("encoded", type=click.Path(path_type=Path))
@params_options(TrainParams)
@click.option(
    "--resume", is_flag=True, help="Continue an interrupted training from its last completed epoch."
)
@output_options
def command(
    encoded: Path,
    output: Path | None,
    force: bool,
    resume: bool,
    overrides: tuple[str, ...],
    **options: object,
) -> None:
    """Train a model on the train split of an encode artifact (ENCODED directory).

    Binary labels use one logit and binary cross-entropy from logits, more classes one
    logit per class; the validation split, when there is one, is evaluated every epoch.
    The Keras backend is TensorFlow unless KERAS_BACKEND says jax or torch.

    \b
    Example:
      textpipe train build/imdb-encoded --model bilstm --epochs 3 -o build/bilstm
    """
    from textpipe.stages.train import STAGE, train

    outcome = train(
        params=params_from_cli(TrainParams, options, overrides),  # checked first
        encoded=open_artifact(encoded, stage=STAGE.input_stage("encoded")),
        store=store(),
        output=output,
        force=force,
        resume=resume,
        progress=ConsoleProgress(),
    )
    stats = outcome.artifact.stats
    final = stats.get("final", {})
    metrics = "  ".join(f"{name} {value:.4f}" for name, value in final.items() if name != "seconds")
    report(
        outcome,
        [
            f"model {stats['model']}: {stats['params_count']:,} parameters; "
            f"{stats['epochs_run']} epochs, {stats['seconds_per_epoch'] or 0:.1f} s per epoch "
            f"on {stats['device']} ({stats['backend']})",
            f"last epoch: {metrics}",
        ],
    )
