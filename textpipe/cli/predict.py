"""``textpipe predict``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from textpipe.cli.common import model_code_options


@click.command("predict")
@click.argument("run")
@click.argument("texts", nargs=-1)
@click.option(
    "--file",
    "text_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read one text per line from this file.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "jsonl"]),
    default="table",
    show_default=True,
)
@model_code_options
def command(
    run: str,
    texts: tuple[str, ...],
    text_file: Path | None,
    output_format: str,
    model_code: str | None,
    trust_code: bool,
) -> None:
    """Classify raw text with the trained model of RUN (a run/preset name or a model directory).

    Texts come from the arguments, from --file (one per line), or from standard input.
    They are normalized and encoded with the run's own tokenizer.json.

    \b
    Examples:
      textpipe predict imdb-lstm "A wonderful, moving film."
      echo "Dull and far too long." | textpipe predict imdb-lstm --format jsonl
    """
    from textpipe.cli.common import store
    from textpipe.errors import InputError
    from textpipe.predict import load_predictor

    inputs = list(texts)
    if text_file is not None:
        inputs += [
            line for line in text_file.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
    if not inputs and not texts and text_file is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError(
                "No text to classify: pass TEXT arguments, --file, or pipe text on stdin."
            )
        inputs = [line for line in sys.stdin.read().splitlines() if line.strip()]
    if not inputs:
        raise InputError("No text to classify (the input was empty).")
    predictor = load_predictor(run, store(), model_code=model_code, trust_code=trust_code)
    predictions = predictor.predict(inputs)
    if output_format == "jsonl":
        for prediction in predictions:
            click.echo(
                json.dumps(
                    {
                        "text": prediction.text,
                        "label": prediction.label,
                        "probability": round(prediction.probability, 6),
                        "probabilities": prediction.probabilities,
                    }
                )
            )
        return
    from rich.table import Table

    from textpipe.cli.console import stdout_console

    table = Table(show_header=True)
    table.add_column("label")
    table.add_column("probability", justify="right")
    table.add_column("text", overflow="fold")
    for prediction in predictions:
        table.add_row(prediction.label, f"{prediction.probability:.3f}", prediction.text)
    stdout_console().print(table)
