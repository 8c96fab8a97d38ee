"""``textpipe encode``."""

from __future__ import annotations

from pathlib import Path

import click

from textpipe.artifacts import open_artifact
from textpipe.cli.common import make_params, output_options, report, store, threads_option
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
@click.option("--length", type=int, help="Fixed sequence length  [default: 256].")
@click.option(
    "--padding",
    type=click.Choice(["post", "pre"]),
    help="post pads on the right (cuDNN-friendly), pre on the left  [default: post].",
)
@click.option(
    "--truncation",
    type=click.Choice(["post", "pre"]),
    help="post keeps the beginning of long texts, pre the end  [default: post].",
)
@threads_option
@output_options
def command(
    normalized: Path,
    vocab_dir: Path,
    output: Path | None,
    force: bool,
    threads: int | None,
    **options: object,
) -> None:
    """Encode every split of a normalize artifact into padded id matrices.

    Writes {split}.ids.npy (int32 [N, L]), {split}.labels.npy and {split}.lengths.npy.

    \b
    Example:
      textpipe encode build/imdb-normalized --vocab build/imdb-vocab --length 256 \\
          -o build/imdb-encoded
    """
    from textpipe.stages.encode import INPUT_STAGES, VOCAB_STAGES, encode

    outcome = encode(
        normalized=open_artifact(normalized, stage=INPUT_STAGES),
        vocab=open_artifact(vocab_dir, stage=VOCAB_STAGES),
        params=make_params(EncodeParams, **options),
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
