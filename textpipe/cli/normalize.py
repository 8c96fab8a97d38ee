"""``textpipe normalize``."""

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
from textpipe.config import NormalizeParams


@click.command("normalize")
@click.argument("dataset", type=click.Path(path_type=Path))
@params_options(NormalizeParams)
@threads_option
@output_options
def command(
    dataset: Path,
    output: Path | None,
    force: bool,
    threads: int | None,
    overrides: tuple[str, ...],
    **options: object,
) -> None:
    """Normalize the text of a download artifact (DATASET directory).

    \b
    Example:
      textpipe normalize build/imdb --strip-html -o build/imdb-normalized
    """
    from textpipe.stages.normalize import STAGE, normalize

    params = params_from_cli(NormalizeParams, options, overrides)
    outcome = normalize(
        dataset=open_artifact(dataset, stage=STAGE.input_stage("dataset")),
        params=params,
        store=store(),
        output=output,
        force=force,
        threads=threads,
        progress=ConsoleProgress(),
    )
    empty = sum(split["empty_texts"] for split in outcome.artifact.stats["splits"].values())
    report(outcome, [f"texts empty after normalization: {empty}"])
