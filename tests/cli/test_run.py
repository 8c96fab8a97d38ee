"""``textpipe run``: one line per stage, the metrics, the cache, ``--dry-run`` and ``--set``."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import invoke
from textpipe.cli.main import cli


def test_run_prints_stages_metrics_and_is_cached_the_second_time(runner, trained_run: Path) -> None:
    result = invoke(runner, "run", trained_run)
    lines = result.output.splitlines()
    stage_lines = [
        line
        for line in lines
        if line.split()[:1]
        and line.split()[0] in ("download", "normalize", "vocab", "encode", "train", "evaluate")
        and "skipped" in line
    ]
    assert len(stage_lines) == 6
    assert "accuracy" in result.output and "artifacts under" in result.output
    dry = invoke(runner, "run", trained_run, "--set", "train.epochs=4", "--dry-run").output
    assert "train     build" in dry and "train.epochs 2 -> 4" in dry and "encode    cached" in dry
    bad = runner.invoke(
        cli, ["run", str(trained_run), "--set", "train.epochs=ten", "--set", "vocab.sise=3"]
    )
    assert bad.exit_code == 2
    assert "[train.epochs] expected a positive integer, got 'ten'" in bad.output
    assert "[vocab.sise] unknown key" in bad.output


def test_run_refuses_the_same_set_twice(runner) -> None:
    result = runner.invoke(
        cli, ["run", "imdb-lstm", "--dry-run", "--set", "train.epochs=1", "--set", "train.epochs=2"]
    )
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: --set train.epochs=2: train.epochs is also given by --set train.epochs=1; "
        "give it once."
    )


def test_a_relative_source_is_read_from_the_current_directory(
    runner, tmp_path: Path, monkeypatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "train.jsonl").write_text('{"text": "good", "label": "pos"}\n')
    pipeline = elsewhere / "my.toml"
    pipeline.write_text('[download]\nsource = "train.jsonl"\n')
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    result = runner.invoke(cli, ["run", str(pipeline), "--dry-run"])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: Source 'train.jsonl': no such file or folder ({here / 'train.jsonl'}: a relative "
        "path is read from the current directory).\n"
    )
