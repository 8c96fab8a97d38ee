"""``textpipe encode``."""

from __future__ import annotations

from pathlib import Path

import click

from textpipe.artifacts import open_artifact
from textpipe.cli.common import (
    output_options,
    params_from_cli,
    params_options,
    report,
    store,
    threads_option,
)
from textpipe.cli.console import ConsoleProgress
from textpipe.config import EncodeParams


@click.command("encode")
@click.argument("normalized", type=click.Path(path_type=Path))
@click.option(
    "--vocab",
    "vocab_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The vocab artifact directory.",
)
@params_options(EncodeParams)
@threads_option
@output_options
def command(
    normalized: Path,
    vocab_dir: Path,
    output: Path | None,
    force: bool,
    threads: int | None,
    overrides: tuple[str, ...],
    **options: object,
) -> None:
    """Encode every split of a normalize artifact into padded id matrices.

    Writes {split}.ids.npy (int32 [N, L]), {split}.labels.npy and {split}.lengths.npy.

    \b
    Example:
      textpipe encode build/imdb-normalized --vocab build/imdb-vocab --length 256 \\
          -o build/imdb-encoded
    """
    from textpipe.stages.encode import STAGE, encode

    outcome = encode(
        params=params_from_cli(EncodeParams, options, overrides),  # checked first
        normalized=open_artifact(normalized, stage=STAGE.input_stage("normalized")),
        vocab=open_artifact(vocab_dir, stage=STAGE.input_stage("vocab")),
        store=store(),
        output=output,
        force=force,
        threads=threads,
        progress=ConsoleProgress(),
    )
    lines = []
    for name, split in outcome.artifact.stats["splits"].items():
        lines.append(
            f"{name}: {split['rows']:,} rows, median length {split['length_percentiles']['p50']}, "
            f"truncated {split['share_truncated']:.1%}, out-of-vocabulary {split['oov_rate']:.1%}"
        )
    report(outcome, lines)
