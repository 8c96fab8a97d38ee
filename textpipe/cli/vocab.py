"""``textpipe vocab``."""

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
from textpipe.config import VocabParams


@click.command("vocab")
@click.argument("normalized", type=click.Path(path_type=Path))
@params_options(VocabParams)
@threads_option
@output_options
def command(
    normalized: Path,
    output: Path | None,
    force: bool,
    threads: int | None,
    overrides: tuple[str, ...],
    **options: object,
) -> None:
    """Build tokenizer.json from the training split of a normalize artifact.

    Ids: 0 padding, 1 out-of-vocabulary, then tokens by descending frequency, so
    --size 1024 gives 1026 ids.

    \b
    Example:
      textpipe vocab build/imdb-normalized --size 20000 -o build/imdb-vocab
    """
    from textpipe.stages.vocab import STAGE, build_vocab

    outcome = build_vocab(
        params=params_from_cli(VocabParams, options, overrides),  # checked first
        normalized=open_artifact(normalized, stage=STAGE.input_stage("normalized")),
        store=store(),
        output=output,
        force=force,
        threads=threads,
        progress=ConsoleProgress(),
    )
    stats = outcome.artifact.stats
    report(
        outcome,
        [
            f"ids: {stats['vocab_size']:,} (with padding and out-of-vocabulary); "
            f"distinct tokens seen: {stats['distinct_tokens']:,}; "
            f"training tokens covered: {stats['coverage']:.1%}"
        ],
    )
