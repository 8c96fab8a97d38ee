"""``textpipe normalize``."""

from __future__ import annotations

from pathlib import Path

import click

from textpipe.artifacts import open_artifact
from textpipe.cli.common import make_params, output_options, report, store, threads_option
from textpipe.cli.console import ConsoleProgress
from textpipe.config import NormalizeParams


@click.command("normalize")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option(
    "--lowercase/--no-lowercase", default=None, help="Unicode lowercasing  [default: on]."
)
@click.option(
    "--strip-punctuation/--keep-punctuation",
    default=None,
    help="Remove Unicode punctuation and symbols (P*, S*)  [default: on].",
)
@click.option(
    "--strip-html/--keep-html", default=None, help="Replace HTML tags by a space  [default: off]."
)
@click.option(
    "--collapse-whitespace/--keep-whitespace",
    default=None,
    help="Collapse whitespace runs, trim the ends  [default: on].",
)
@threads_option
@output_options
def command(
    dataset: Path, output: Path | None, force: bool, threads: int | None, **options: object
) -> None:
    """Normalize the text of a download artifact (DATASET directory).

    \b
    Example:
      textpipe normalize build/imdb --strip-html -o build/imdb-normalized
    """
    from textpipe.stages.normalize import INPUT_STAGES, normalize

    params = make_params(NormalizeParams, **options)
    outcome = normalize(
        dataset=open_artifact(dataset, stage=INPUT_STAGES),
        params=params,
        store=store(),
        output=output,
        force=force,
        threads=threads,
        progress=ConsoleProgress(),
    )
    empty = sum(split["empty_texts"] for split in outcome.artifact.stats["splits"].values())
    report(outcome, [f"texts empty after normalization: {empty}"])
