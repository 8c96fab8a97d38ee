"""``textpipe train``."""

from __future__ import annotations

from pathlib import Path

import click

from textpipe.artifacts import open_artifact
from textpipe.cli.common import make_params, output_options, report, store
from textpipe.cli.console import ConsoleProgress
from textpipe.config import TrainParams


@click.command("train")
@click.argument("encoded", type=click.Path(path_type=Path))
@click.option(
    "-m",
    "--model",
    help="Zoo model (see `textpipe models`), FILE.py:function or module:function  [default: lstm].",
)
@click.option("--epochs", type=int, help="Epochs  [default: 3].")
@click.option("--batch-size", type=int, help="Batch size  [default: 64].")
@click.option("--learning-rate", type=float, help="Adam learning rate  [default: 0.001].")
@click.option("--seed", type=int, help="Random seed  [default: 0].")
@click.option(
    "--early-stopping",
    type=int,
    metavar="PATIENCE",
    help="Stop after PATIENCE epochs without a better validation loss; keep the best weights.",
)
@click.option(
    "--class-weight",
    type=click.Choice(["none", "balanced"]),
    help="Weight classes in the loss  [default: none].",
)
@click.option("--embedding-dim", type=int, help="Embedding width  [default: 64].")
@click.option(
    "--units",
    type=int,
    help="Units of the recurrent/conv/attention layer and of Dense(relu)  [default: 64].",
)
@click.option(
    "--num-layers", type=int, help="Stacked recurrent layers or encoder blocks  [default: 1]."
)
@click.option("--dropout", type=float, help="Dropout before the output layer  [default: 0].")
@click.option(
    "--pooling",
    type=click.Choice(["last", "mean", "max"]),
    help="Pooling of recurrent outputs  [default: last].",
)
@click.option(
    "--merge-mode",
    type=click.Choice(["concat", "sum", "mul", "ave"]),
    help="Bidirectional merge  [default: concat].",
)
@click.option(
    "--bigrams/--no-bigrams", default=None, help="bag: add hashed word bigrams  [default: off]."
)
@click.option("--bigram-buckets", type=int, help="bag: bigram hash buckets  [default: 100000].")
@click.option(
    "--ngram-order", type=int, help="ngram: longest word n-gram (3: up to trigrams)  [default: 3]."
)
@click.option(
    "--ngram-buckets", type=int, help="ngram: n-gram hash buckets  [default: 2097152 = 2**21]."
)
@click.option(
    "--ngram-hidden/--no-ngram-hidden",
    default=None,
    help="ngram: n-gram vectors (embedding-dim wide) and a hidden layer  [default: off].",
)
@click.option("--num-heads", type=int, help="transformer: attention heads  [default: 2].")
@click.option("--kernel-size", type=int, help="cnn: convolution width  [default: 5].")
@click.option(
    "--mixed-precision/--full-precision",
    default=None,
    help="mixed_float16 compute, float32 output layer  [default: off].",
)
@click.option(
    "--jit-compile",
    type=click.Choice(["auto", "on", "off"]),
    help="XLA compilation; auto turns it on where it pays  [default: auto].",
)
@click.option(
    "--resume", is_flag=True, help="Continue an interrupted training from its last completed epoch."
)
@output_options
def command(
    encoded: Path, output: Path | None, force: bool, resume: bool, **options: object
) -> None:
    """Train a model on the train split of an encode artifact (ENCODED directory).

    Binary labels use one logit and binary cross-entropy from logits, more classes one
    logit per class; the validation split, when there is one, is evaluated every epoch.
    The Keras backend is TensorFlow unless KERAS_BACKEND says jax or torch.

    \b
    Example:
      textpipe train build/imdb-encoded --model bilstm --epochs 3 -o build/bilstm
    """
    from textpipe.stages.train import INPUT_STAGES, train

    outcome = train(
        encoded=open_artifact(encoded, stage=INPUT_STAGES),
        params=make_params(TrainParams, **options),
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
