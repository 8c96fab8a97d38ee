"""The CLI, through click's runner and a real subprocess where it matters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import REPO_ROOT, tiny_pipeline_toml
from textpipe.cli.main import cli


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, input: str | None = None):
    return runner.invoke(cli, [str(arg) for arg in args], input=input, catch_exceptions=False)


def test_data_stages_chain_through_explicit_outputs_and_cache(
    runner, tmp_path: Path, reviews_csv: Path
) -> None:
    out = tmp_path / "build"
    commands = [
        ("download", reviews_csv, "-o", out / "dataset"),
        ("normalize", out / "dataset", "--strip-html", "-o", out / "normalized"),
        ("vocab", out / "normalized", "--size", "20", "-o", out / "vocab"),
        (
            "encode",
            out / "normalized",
            "--vocab",
            out / "vocab",
            "--length",
            "8",
            "-o",
            out / "encoded",
        ),
    ]
    for command in commands:
        result = invoke(runner, *command)
        assert result.exit_code == 0, result.output
        assert " built " in result.output
    assert np.load(out / "encoded" / "train.ids.npy").shape == (12, 8)
    for command in commands:
        assert " cached " in invoke(runner, *command).output
    result = invoke(runner, "vocab", out / "normalized", "--size", "10", "-o", out / "vocab")
    assert " built " in result.output
    assert json.loads((out / "vocab" / "manifest.json").read_text())["params"]["size"] == 10


def test_errors_are_one_line_with_exit_code_and_traceback_only_under_debug(
    runner, tmp_path: Path
) -> None:
    result = runner.invoke(cli, ["normalize", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {tmp_path / 'missing'}: no such artifact directory."
    ]
    result = runner.invoke(cli, ["vocab", str(tmp_path), "--size", "0"])  # checked first
    assert result.exit_code == 2 and "Error: --size: expected a positive integer" in result.output
    result = runner.invoke(cli, ["vocab", str(tmp_path), "--size", "10"])
    assert result.exit_code == 1 and "not a textpipe artifact" in result.output
    debug = runner.invoke(cli, ["--debug", "normalize", str(tmp_path / "missing")])
    assert "Traceback" in debug.output and debug.exit_code == 1
    assert "TEXTPIPE_DEBUG" not in os.environ  # --debug lasts one command


def test_bad_option_value_is_a_config_error(runner, reviews_csv: Path) -> None:
    result = runner.invoke(cli, ["download", str(reviews_csv), "--validation-size", "2"])
    assert result.exit_code == 2
    assert (
        "Error: --validation-size: expected a non-negative number below 1, got 2.0."
        in result.output
    )


def test_help_does_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "from textpipe.cli.main import cli\n"
        "for args in (['--help'], ['train', '--help'], ['run', '--help'], ['report', '--help']):\n"
        "    try:\n        cli.main(args, standalone_mode=False)\n"
        "    except SystemExit:\n        pass\n"
        "heavy = ('tensorflow', 'keras', 'jax', 'torch', 'datasets')\n"
        "print('HEAVY:', sorted(name for name in heavy if name in sys.modules))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY: []" in output


def test_console_script_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "textpipe", "--version"], capture_output=True, text=True, check=True
    )
    assert "textpipe, version" in result.stdout


@pytest.fixture
def trained_run(runner, tmp_path: Path, sentiment_csv: Path, sentiment_test_csv: Path) -> Path:
    path = tiny_pipeline_toml(tmp_path / "tiny.toml", sentiment_csv, sentiment_test_csv)
    result = invoke(runner, "run", path)
    assert result.exit_code == 0, result.output
    return path


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
    missing = runner.invoke(cli, ["report", "nothing-here"])
    assert missing.exit_code == 1 and "No evaluated run named 'nothing-here'" in missing.output


def test_report_plot_without_matplotlib_says_how_to_install(
    runner, trained_run: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = runner.invoke(cli, ["report", "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 1 and "pip install 'textpipe[plot]'" in result.output


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


def test_show_before_and_after_training(
    runner, trained_run: Path, tmp_path: Path, sentiment_csv: Path, sentiment_test_csv: Path
) -> None:
    trained = invoke(runner, "show", trained_run).output
    assert "makes mask (id 0)" in trained and "trained model from" in trained
    fresh = tiny_pipeline_toml(
        tmp_path / "fresh.toml", sentiment_csv, sentiment_test_csv, model="bilstm"
    )
    untrained = invoke(runner, "show", fresh).output
    assert (
        "Bidirectional" in untrained and "consumes mask" in untrained and "not trained" in untrained
    )


def test_models_and_presets_lists(runner) -> None:
    models = invoke(runner, "models").output
    for name in ("mlp", "lstm", "bilstm", "gru", "bigru", "cnn", "bag", "ngram", "transformer"):
        assert name in models
    assert "kernel_size" in models  # the options column
    presets = invoke(runner, "presets").output
    assert "imdb-lstm" in presets and "imdb-bilstm-classic" in presets


def test_train_and_evaluate_commands_with_the_custom_cell(
    runner, tmp_path: Path, sentiment_csv: Path, sentiment_test_csv: Path
) -> None:
    path = tiny_pipeline_toml(tmp_path / "tiny.toml", sentiment_csv, sentiment_test_csv)
    invoke(runner, "run", path, "--until", "encode")
    encoded = next((Path(os.environ["TEXTPIPE_HOME"]) / "encode").iterdir())
    spec = f"{REPO_ROOT / 'examples' / 'custom_cell.py'}:build"
    result = invoke(
        runner,
        "train",
        encoded,
        "--model",
        spec,
        "--epochs",
        "2",
        "--embedding-dim",
        "8",
        "--units",
        "8",
        "-o",
        tmp_path / "custom",
    )
    assert result.exit_code == 0 and "custom_cell.py:build" in result.output
    evaluation = invoke(
        runner, "evaluate", tmp_path / "custom", encoded, "-o", tmp_path / "custom-eval"
    )
    assert "accuracy" in evaluation.output
    assert json.loads((tmp_path / "custom-eval" / "metrics.json").read_text())["examples"] == 24


def test_multiclass_evaluation_prints_named_confusion_and_report_has_macro_f1(
    runner, tmp_path: Path
) -> None:
    import random

    from tests.conftest import write_csv

    topics = {
        "sport": ["goal", "team", "match"],
        "politics": ["vote", "party", "law"],
        "music": ["song", "band", "album"],
        "food": ["bread", "spice", "chef"],
    }
    rng = random.Random(0)

    def rows(count: int) -> list[tuple[str, str]]:
        # imbalanced: 50%, 25%, 15%, 10%
        names = rng.choices(list(topics), weights=[50, 25, 15, 10], k=count)
        return [(" ".join([*rng.sample(topics[name], 2), "the", "news"]), name) for name in names]

    train_csv = write_csv(tmp_path / "topics.csv", rows(80))
    test_csv = write_csv(tmp_path / "topics-test.csv", rows(40))
    path = tiny_pipeline_toml(tmp_path / "topics.toml", train_csv, test_csv)
    result = invoke(runner, "run", path, "--set", "train.epochs=4")
    assert result.exit_code == 0, result.output
    output = result.output
    assert "confusion matrix" in output and "true \\ predicted" in output
    assert all(name in output for name in topics)
    assert "macro avg" in output and "weighted avg" in output and "f1 (macro)" in output
    metrics = json.loads(
        next((Path(os.environ["TEXTPIPE_HOME"]) / "evaluate").glob("*/metrics.json")).read_text()
    )
    assert len(metrics["confusion_matrix"]) == 4 and metrics["macro_avg"]["support"] == 40
    report_rows = json.loads(invoke(runner, "report", "--format", "json").output)
    assert report_rows[0]["macro_f1"] == pytest.approx(metrics["macro_f1"])
    assert "macro f1" in invoke(runner, "report").output
    plot = tmp_path / "topics.png"
    invoke(runner, "report", "--plot", plot)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
