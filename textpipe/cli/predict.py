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
    help="How the texts' predictions are printed (--input's format is -o's suffix).",
)
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, path_type=Path),
    help="Classify every row of a .csv/.tsv/.jsonl/.parquet file or a download artifact "
    "(streamed in batches); needs -o.",
)
@click.option("--text-column", help="Text column of --input  [default: found among common names].")
@click.option("--split", default="test", show_default=True, help="Split of a download artifact.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where --input's predictions go: .parquet, .csv or .jsonl (label, probabilities).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing -o file.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=4096,
    show_default=True,
    help="Rows per batch of --input.",
)
@model_code_options
def command(
    run: str,
    texts: tuple[str, ...],
    text_file: Path | None,
    output_format: str,
    input_path: Path | None,
    text_column: str | None,
    split: str,
    output: Path | None,
    overwrite: bool,
    batch_size: int,
    model_code: str | None,
    trust_code: bool,
) -> None:
    """Classify raw text with the trained model of RUN (a run/preset name or a model directory).

    Texts come from the arguments, from --file (one per line), or from standard input.
    They are normalized and encoded with the run's own tokenizer.json. For a whole
    data set, --input FILE -o OUT streams it in batches and writes a label and the class
    probabilities per row.

    \b
    Examples:
      textpipe predict imdb-lstm "A wonderful, moving film."
      echo "Dull and far too long." | textpipe predict imdb-lstm --format jsonl
      textpipe predict imdb-lstm --input reviews.parquet -o predictions.parquet
    """
    from textpipe.cli.common import store
    from textpipe.errors import InputError
    from textpipe.predict import load_predictor

    if (input_path is None) != (output is None):
        raise InputError("--input and -o go together: textpipe predict RUN --input FILE -o OUT.")
    # an option that does not apply would be silently ignored: refuse it
    from click.core import ParameterSource

    context = click.get_current_context()

    def given(name: str) -> bool:
        return context.get_parameter_source(name) is ParameterSource.COMMANDLINE

    if input_path is None:
        for name, flag in (
            ("split", "--split"),
            ("text_column", "--text-column"),
            ("batch_size", "--batch-size"),
        ):
            if given(name):
                raise InputError(
                    f"{flag} applies to --input only: textpipe predict RUN --input FILE "
                    f"{flag} ... -o OUT."
                )
        if given("overwrite"):
            raise InputError(
                "--overwrite applies to --input only: textpipe predict RUN --input FILE "
                "-o OUT --overwrite."
            )
    elif given("output_format"):
        raise InputError(
            "--format applies to texts only: with --input, the suffix of -o OUT "
            "(.parquet, .csv, .jsonl) gives the format."
        )
    if input_path is not None:
        if texts or text_file is not None:
            raise InputError("--input reads the texts from FILE: pass no texts or --file with it.")
        from textpipe.cli.console import ConsoleProgress
        from textpipe.predict import predict_file

        assert output is not None
        store().check_file_output(output, option="-o")  # before any work
        predictor = load_predictor(run, store(), model_code=model_code, trust_code=trust_code)
        written = predict_file(
            predictor,
            source=input_path,
            output=output,
            text_column=text_column,
            split=split,
            batch_size=batch_size,
            overwrite=overwrite,
            progress=ConsoleProgress(),
        )
        counts = ", ".join(f"{name} {count:,}" for name, count in written.label_counts.items())
        click.echo(
            f"predicted {written.rows:,} rows in {written.seconds:.1f} s -> {written.output} "
            f"({counts})"
        )
        return

    inputs = list(texts)
    if text_file is not None:
        try:
            content = text_file.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"{text_file}: not UTF-8 text ({error.reason}).") from None
        inputs += [line for line in content.splitlines() if line.strip()]
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
