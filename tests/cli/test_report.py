"""``textpipe report``: every format, ``--sort``, ``--plot``, and what it says when it cannot."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from textpipe.cli.main import cli


def test_report_in_every_format(runner, trained_run: Path, tmp_path: Path) -> None:
    rows = json.loads(invoke(runner, "report", "--format", "json").output)
    assert rows[0]["run"] == "tiny" and rows[0]["model"] == "bag"
    assert {"run", "model", "accuracy", "f1", "loss", "params", "train_seconds"} <= rows[0].keys()
    csv_text = invoke(runner, "report", "--format", "csv").output
    assert csv_text.splitlines()[0].startswith("run,model,params")
    markdown = invoke(runner, "report", "tiny", "--format", "markdown", "--sort", "accuracy").output
    assert markdown.startswith("| run |") and "**" in markdown
    table = invoke(runner, "report").output
    assert "tiny" in table and "accuracy" in table
    plot = tmp_path / "plot.png"
    invoke(runner, "report", "--plot", plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".plot*"))  # no temporary file left beside it
    missing = runner.invoke(cli, ["report", "nothing-here"])
    assert missing.exit_code == 1 and "No evaluated run named 'nothing-here'" in missing.output


def test_report_plot_without_matplotlib_says_how_to_install(
    runner, trained_run: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = runner.invoke(cli, ["report", "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 1 and "pip install 'textpipe[plot]'" in result.output


def test_report_plot_replaces_a_file_only_when_told(
    runner, trained_run: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "mine.png"
    mine.write_text("the user's own picture")
    refused = runner.invoke(cli, ["report", "--plot", str(mine)])
    assert refused.exit_code == 1 and "exists; pass --overwrite" in refused.output
    assert "accuracy" not in refused.output  # refused before any work
    assert mine.read_text() == "the user's own picture"
    folder = tmp_path / "folder.png"
    folder.mkdir()
    not_a_file = runner.invoke(cli, ["report", "--plot", str(folder), "--overwrite"])
    assert not_a_file.exit_code == 2 and "is a directory" in not_a_file.output
    invoke(runner, "report", "--plot", mine, "--overwrite")
    assert mine.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_plot_that_fails_keeps_the_old_file(
    runner, trained_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matplotlib.figure

    old = tmp_path / "old.png"
    invoke(runner, "report", "--plot", old)
    before = old.read_bytes()

    def half_written(figure, path, **options) -> None:
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", half_written)
    failed = runner.invoke(cli, ["report", "--plot", str(old), "--overwrite"])
    assert failed.exit_code == 1 and "No space left on device" in failed.output
    assert old.read_bytes() == before
    assert not list(tmp_path.glob(".old*"))  # the temporary file is gone too


def test_report_plot_is_never_inside_the_store(runner, artifact_root: Path) -> None:
    plot = artifact_root / "evaluate" / "plot.png"
    result = runner.invoke(cli, ["report", "--plot", str(plot), "--overwrite"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: --plot {plot}: inside the store {artifact_root}, which holds only textpipe's "
        "artifacts; choose a path outside it.\n"
    )
    assert not plot.exists()
