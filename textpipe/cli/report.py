"""``textpipe report``."""

from __future__ import annotations

from pathlib import Path

import click

from textpipe.report import COLUMNS

TABLE_COLUMNS = tuple(name for name in COLUMNS if name not in ("settings", "split"))
TABLE_HEADERS = {
    "train_seconds": "train s",
    "seconds_per_epoch": "s/epoch",
    "roc_auc": "auc",
    "macro_f1": "macro f1",
    "length": "len",
}


@click.command("report")
@click.argument("runs", nargs=-1)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "markdown", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--sort",
    "sort_by",
    type=click.Choice(COLUMNS),
    help="Sort by this column (metrics best first).",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a PNG: learning curves, test accuracy and confusion matrices.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --plot file.")
def command(
    runs: tuple[str, ...],
    output_format: str,
    sort_by: str | None,
    plot_path: Path | None,
    overwrite: bool,
) -> None:
    """Compare evaluated runs side by side (all under TEXTPIPE_HOME, or the RUNS named).

    RUNS are run/preset names or evaluate artifact directories. Reads manifests only.
    The best value of each metric is highlighted.

    \b
    Examples:
      textpipe report
      textpipe report imdb-lstm imdb-bilstm --sort accuracy --format markdown
    """
    from textpipe.cli.common import store
    from textpipe.report import (
        check_plot_path,
        collect_rows,
        formatted_cells,
        plot,
        sort_rows,
        to_csv,
        to_json,
        to_markdown,
    )

    if plot_path is not None:  # before any work: the name may be a file of the user's
        store().check_file_output(plot_path, option="--plot")
        check_plot_path(plot_path, overwrite=overwrite)

    def warn(message: str) -> None:
        click.echo(f"Warning: {message}", err=True)

    rows = sort_rows(collect_rows(store(), runs, notice=warn), sort_by)
    if output_format == "json":
        click.echo(to_json(rows))
    elif output_format == "csv":
        click.echo(to_csv(rows), nl=False)
    elif output_format == "markdown":
        click.echo(to_markdown(rows), nl=False)
    else:
        from rich.table import Table

        from textpipe.cli.console import stdout_console

        if not rows:
            click.echo(f"No evaluated runs under {store().root}. Run `textpipe run PRESET` first.")
        else:
            table = Table(show_header=True)
            for name in TABLE_COLUMNS:
                justify = "left" if name in ("run", "model", "data") else "right"
                table.add_column(TABLE_HEADERS.get(name, name), justify=justify)
            for cells in formatted_cells(rows, TABLE_COLUMNS, "[bold green]{}[/bold green]".format):
                table.add_row(*cells)
            stdout_console().print(table)
    if plot_path is not None:
        plot(rows, plot_path, overwrite=overwrite)
        click.echo(f"plot written to {plot_path}", err=True)
