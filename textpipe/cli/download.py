"""``textpipe download``."""

from __future__ import annotations

from pathlib import Path

import click

from textpipe.cli.common import output_options, params_from_cli, params_options, report, store
from textpipe.cli.console import ConsoleProgress
from textpipe.config import DownloadParams


@click.command("download")
@params_options(DownloadParams)
@output_options
def command(
    source: str, output: Path | None, force: bool, overrides: tuple[str, ...], **options: object
) -> None:
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

    params = params_from_cli(DownloadParams, {"source": source, **options}, overrides)
    outcome = download(
        params=params, store=store(), output=output, force=force, progress=ConsoleProgress()
    )
    stats = outcome.artifact.stats
    splits = ", ".join(f"{name} {split['rows']:,}" for name, split in stats["splits"].items())
    report(outcome, [f"splits: {splits}", f"labels: {', '.join(stats['label_names'])}"])
