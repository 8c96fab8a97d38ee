"""``textpipe predict``: texts from arguments, ``--file`` and stdin; files with ``--input``."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner

from tests.cli.conftest import invoke
from tests.conftest import sentiment_rows
from textpipe.cli.main import cli


def texts(count: int) -> list[str]:
    return [text for text, _ in sentiment_rows(count, seed=7)]


def test_predict_from_arguments_file_and_stdin(runner, trained_run: Path, tmp_path: Path) -> None:
    table = invoke(runner, "predict", "tiny", "A wonderful superb film").output
    assert "pos" in table
    lines = tmp_path / "texts.txt"
    lines.write_text("awful boring plot\nwonderful, loved it\n")
    from_file = [
        json.loads(line)
        for line in invoke(
            runner, "predict", "tiny", "--file", lines, "--format", "jsonl"
        ).output.splitlines()
    ]
    assert [row["label"] for row in from_file] == ["neg", "pos"]
    assert all(0.5 <= row["probability"] <= 1 for row in from_file)
    from_stdin = invoke(
        runner, "predict", "tiny", "--format", "jsonl", input="terrible and dull\n"
    ).output
    assert json.loads(from_stdin)["label"] == "neg"


def test_cli_predict_input(trained_run: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"review": texts(30)}), source)
    output = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["predict", "tiny", "--input", str(source), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "predicted 30 rows" in result.output
    assert len(output.read_text().splitlines()) == 30
    result = CliRunner().invoke(cli, ["predict", "tiny", "--input", str(source)])
    assert result.exit_code == 1 and "go together" in result.output


def test_options_of_input_are_refused_without_it(runner, tmp_path: Path) -> None:
    for option, *value in (
        ("--split", "validation"),
        ("--text-column", "review"),
        ("--batch-size", "8"),
        ("--overwrite",),
    ):
        result = runner.invoke(cli, ["predict", "tiny", option, *value, "some text"])
        assert result.exit_code == 1
        assert result.output.startswith(f"Error: {option} applies to --input only")
        assert len(result.output.splitlines()) == 1
    # and --format, of the texts' output, with it: -o's suffix gives the file's format
    source = tmp_path / "in.csv"
    source.write_text("text\na good film\n")
    output = tmp_path / "out.csv"
    result = runner.invoke(
        cli,
        ["predict", "tiny", "--input", str(source), "-o", str(output), "--format", "jsonl"],
    )
    assert result.exit_code == 1
    assert result.output == (
        "Error: --format applies to texts only: with --input, the suffix of -o OUT "
        "(.parquet, .csv, .jsonl) gives the format.\n"
    )
    assert not output.exists()


def test_the_output_is_never_inside_the_store(runner, artifact_root: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("text\na good film\n")
    artifact_root.mkdir(parents=True, exist_ok=True)
    (tmp_path / "link").symlink_to(artifact_root)
    for output in (artifact_root / "predictions.jsonl", tmp_path / "link" / "train" / "p.csv"):
        result = runner.invoke(
            cli, ["predict", "tiny", "--input", str(source), "-o", str(output), "--overwrite"]
        )
        assert result.exit_code == 1
        assert result.output == (
            f"Error: -o {output}: inside the store {artifact_root}, which holds only textpipe's "
            "artifacts; choose a path outside it.\n"
        )
    assert sorted(path.name for path in artifact_root.iterdir()) == []
