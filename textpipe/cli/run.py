"""``textpipe run``."""

from __future__ import annotations

import click

from textpipe.cli.common import store
from textpipe.cli.console import ConsoleProgress, stdout_console
from textpipe.config import STAGE_NAMES


@click.command("run")
@click.argument("preset")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="STAGE.KEY=VALUE",
    help="Override a parameter (repeatable), e.g. --set train.epochs=5.",
)
@click.option(
    "--force",
    is_flag=False,
    flag_value="all",
    default=None,
    metavar="[=STAGE]",
    type=click.Choice(["all", *STAGE_NAMES]),
    help="Rebuild STAGE and every later stage (all stages without a value).",
)
@click.option("--until", type=click.Choice(STAGE_NAMES), help="Stop after this stage.")
@click.option("--dry-run", is_flag=True, help="Say what would run and why, without running.")
@click.option(
    "--resume", is_flag=True, help="Continue an interrupted training from its last epoch."
)
def command(
    preset: str,
    overrides: tuple[str, ...],
    force: str | None,
    until: str | None,
    dry_run: bool,
    resume: bool,
) -> None:
    """Run a preset (or a pipeline TOML file) from download to evaluation, through the cache.

    Prints one line per stage (cached or built, key, time), then the evaluation metrics
    and where the artifacts are. A second identical run is entirely cached.

    \b
    Examples:
      textpipe run imdb-lstm
      textpipe run imdb-lstm --set train.epochs=5 --dry-run
      textpipe run my-pipeline.toml --force=train
    """
    from textpipe.pipeline import plan_pipeline, run_pipeline
    from textpipe.presets import load_config

    artifact_store = store()
    config = load_config(preset, overrides, artifact_store)
    if dry_run:
        for plan in plan_pipeline(config, artifact_store, force=force, until=until):
            action = "cached" if plan.cached else "build"
            click.echo(f"{plan.stage:<10}{action:<8}{plan.key[:6]}  {plan.reason}")
        return
    click.echo(f"pipeline {config.name}: {config.description}".rstrip(": "))
    result = run_pipeline(
        config,
        artifact_store,
        force=force,
        until=until,
        resume=resume,
        progress=ConsoleProgress(),
        on_stage=lambda outcome: click.echo(outcome.line()),
    )
    metrics = result.metrics
    if metrics:
        from textpipe.cli.evaluate import metrics_table

        stdout_console().print(metrics_table(metrics, f"{config.name}: {metrics['split']} split"))
    click.echo(f"done in {result.seconds:.1f} s; artifacts under {artifact_store.root}:")
    for stage, outcome in result.outcomes.items():
        click.echo(f"  {stage:<10}{outcome.artifact.path}")
