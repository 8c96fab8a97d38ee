"""``textpipe ensemble``."""

from __future__ import annotations

from pathlib import Path

import click

from textpipe.cli.common import output_options, store
from textpipe.cli.console import ConsoleProgress, stdout_console


@click.command("ensemble")
@click.argument("runs", nargs=-1, required=True)
@click.option(
    "--weights",
    help="Comma-separated weight per run, e.g. 2,1 (normalized to sum 1)  [default: equal].",
)
@output_options
def command(runs: tuple[str, ...], weights: str | None, output: Path | None, force: bool) -> None:
    """Average the class probabilities of evaluated RUNS and evaluate the average.

    RUNS are run/preset names or evaluate artifact directories, evaluated on the same rows
    (same data set and split); others are refused. The result is an evaluate artifact,
    cached like any other, that `textpipe report` lists beside the single runs.

    \b
    Example:
      textpipe ensemble imdb-ngram imdb-bilstm --weights 2,1 -o build/ensemble
    """
    from textpipe.cli.evaluate import metrics_table
    from textpipe.errors import ConfigError
    from textpipe.stages.ensemble import ensemble, resolve_evaluations

    parsed = None
    if weights is not None:
        try:
            parsed = [float(item) for item in weights.split(",")]
        except ValueError:
            raise ConfigError(
                f"--weights: expected comma-separated numbers such as 2,1, got {weights!r}."
            ) from None
    artifact_store = store()
    evaluations, names = resolve_evaluations(artifact_store, runs)
    outcome = ensemble(
        evaluations=evaluations,
        names=names,
        weights=parsed,
        store=artifact_store,
        output=output,
        force=force,
        progress=ConsoleProgress(),
    )
    click.echo(f"{outcome.line()}  {outcome.artifact.path}")
    stats = outcome.artifact.stats
    members = ", ".join(f"{member['name']} ×{member['weight']:.3g}" for member in stats["ensemble"])
    stdout_console().print(metrics_table(stats, f"ensemble of {members}: {stats['split']} split"))
