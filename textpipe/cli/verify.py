"""``textpipe verify``."""

from __future__ import annotations

import time
from pathlib import Path

import click


@click.command("verify")
@click.argument("folders", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--clean",
    is_flag=True,
    help="Remove the damaged store entries and interrupted builds found (never -o folders).",
)
@click.option("-v", "--verbose", is_flag=True, help="Also list every artifact that is intact.")
def command(folders: tuple[Path, ...], clean: bool, verbose: bool) -> None:
    """Re-hash every file of every artifact in the store (or of the FOLDERS given).

    Everyday commands check each file's size, mtime, inode and ctime against the last
    time it was hashed and re-hash only what changed; verify re-hashes everything and
    reports each damaged artifact. Exits 1 when something is damaged (unless --clean
    removed it: the next build then rebuilds it).

    \b
    Examples:
      textpipe verify
      textpipe verify build/imdb/encoded build/imdb/lstm/model
    """
    from textpipe.artifacts import DamagedArtifactError
    from textpipe.cli.common import store
    from textpipe.errors import ArtifactError

    artifact_store = store()
    start = time.perf_counter()
    if folders:
        damaged = 0
        for folder in folders:
            try:
                artifact = artifact_store.inspect(folder, deep=True)
                click.echo(f"{artifact.stage:<10}ok      {artifact.short_key}  {folder}")
            except DamagedArtifactError as error:
                damaged += 1
                click.echo(f"Damaged: {error}", err=True)
        if damaged:
            raise ArtifactError(
                f"{damaged} of {len(folders)} folders are damaged; rebuild them with the "
                "commands that made them (with --force)."
            )
        return
    report = artifact_store.verify_all(progress=click.echo if verbose else None)
    for error in report.damaged:
        click.echo(f"Damaged: {error}", err=True)
    for path in report.leftovers:
        click.echo(f"Leftover of an interrupted build: {path}", err=True)
    for path in report.foreign:
        click.echo(f"Not a textpipe artifact (left alone): {path}", err=True)
    if clean:
        for path in [error.path for error in report.damaged] + report.leftovers:
            artifact_store.discard(path)
    seconds = time.perf_counter() - start
    click.echo(
        f"verified {report.checked} artifacts, {report.files} files, "
        f"{report.bytes / 1e6:,.1f} MB in {seconds:.1f} s under {artifact_store.root}: "
        f"{len(report.damaged)} damaged, {len(report.leftovers)} interrupted leftovers"
        + (" (removed)" if clean and (report.damaged or report.leftovers) else "")
    )
    if report.damaged and not clean:
        raise ArtifactError(
            "the store holds damaged artifacts; the commands that build them rebuild them, "
            "or run textpipe verify --clean to remove them now."
        )
