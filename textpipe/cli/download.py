"""``textpipe download``."""

from __future__ import annotations

from pathlib import Path

import click

from textpipe.cli.common import make_params, output_options, report, store
from textpipe.cli.console import ConsoleProgress
from textpipe.config import DownloadParams


@click.command("download")
@click.argument("source")
@click.option("--test", "test_file", help="A separate test file, for a file source.")
@click.option("--text-column", help="Text column  [default: found among common names].")
@click.option("--label-column", help="Label column  [default: found among common names].")
@click.option("--limit", type=int, help="Keep a seeded, stratified sample of N rows per split.")
@click.option(
    "--validation-size",
    type=float,
    help="Carve a stratified validation split of this share out of train  [default: 0].",
)
@click.option("--seed", type=int, help="Seed of sampling and the carve-out  [default: 0].")
@click.option("--revision", help="Hub revision (branch, tag or commit).")
@output_options
def command(source: str, output: Path | None, force: bool, **options: object) -> None:
    """Load a dataset into integer-labelled train/validation/test splits.

    SOURCE is a Hugging Face hub id (owner/name), a local folder laid out like a hub
    dataset, or a .csv/.tsv/.jsonl/.parquet file. With TEXTPIPE_MIRROR=DIR set, hub id
    owner/name is read from DIR/owner/name.

    \b
    Example:
      TEXTPIPE_MIRROR=../shared/datasets textpipe download stanfordnlp/imdb \\
          --validation-size 0.1 -o build/imdb
    """
    from textpipe.stages.download import download

    params = make_params(DownloadParams, source=source, **options)
    outcome = download(
        params=params, store=store(), output=output, force=force, progress=ConsoleProgress()
    )
    stats = outcome.artifact.stats
    splits = ", ".join(f"{name} {split['rows']:,}" for name, split in stats["splits"].items())
    report(outcome, [f"splits: {splits}", f"labels: {', '.join(stats['label_names'])}"])
