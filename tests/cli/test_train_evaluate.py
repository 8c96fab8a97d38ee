"""``textpipe train`` and ``textpipe evaluate`` on their own (a custom model named by file), and the
evaluation output of a multiclass run (named confusion matrix, per-class table, macro F1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from tests.conftest import REPO_ROOT, tiny_pipeline_toml


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
