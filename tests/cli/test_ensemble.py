"""``textpipe ensemble``: averaged probabilities of evaluated runs, refusals, and the report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import (
    TrainedStore,
    copy_store,
    run_presets,
    sentiment_rows,
    tiny_pipeline_toml,
    write_csv,
)
from textpipe.cli.main import cli


def invoke(runner: CliRunner, *args: object):
    return runner.invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def two_runs_store(
    tmp_path_factory: pytest.TempPathFactory, tiny_run_store: TrainedStore
) -> TrainedStore:
    """The runs tiny-bag and tiny-cnn, trained once for this module.

    tiny-bag is the session's tiny run under another name (same preset, so same keys): it is
    served from a copy of that store, and only tiny-cnn trains.
    """
    folder = tmp_path_factory.mktemp("two-runs")
    root = copy_store(tiny_run_store.root, folder / "artifacts")
    (root / "runs" / "tiny.json").unlink()
    train_csv = tiny_run_store.folder / "sentiment.csv"
    test_csv = tiny_run_store.folder / "sentiment-test.csv"
    presets = [
        tiny_pipeline_toml(folder / f"{name}.toml", train_csv, test_csv, model)
        for name, model in (("tiny-bag", "bag"), ("tiny-cnn", "cnn"))
    ]
    run_presets(folder, *presets)
    return TrainedStore(root=root, folder=folder)


@pytest.fixture
def two_runs(two_runs_store: TrainedStore, artifact_root: Path) -> CliRunner:
    """A runner over this test's own copy of the two runs' store."""
    copy_store(two_runs_store.root, artifact_root)
    return CliRunner()


def _evaluation(name: str) -> Path:
    record = json.loads((Path(os.environ["TEXTPIPE_HOME"]) / "runs" / f"{name}.json").read_text())
    key = record["stages"]["evaluate"]["key"]
    return Path(os.environ["TEXTPIPE_HOME"]) / "evaluate" / key[:16]


def test_ensemble_averages_probabilities_and_is_cached(two_runs: CliRunner, tmp_path: Path):
    result = invoke(
        two_runs, "ensemble", "tiny-bag", "tiny-cnn", "--weights", "3,1", "-o", tmp_path / "e"
    )

    assert result.exit_code == 0, result.output
    assert "evaluate  built" in result.output and "confusion matrix" in result.output
    bag = np.load(_evaluation("tiny-bag") / "predictions.npy")
    cnn = np.load(_evaluation("tiny-cnn") / "predictions.npy")
    averaged = np.load(tmp_path / "e" / "predictions.npy")
    np.testing.assert_allclose(averaged, 0.75 * bag + 0.25 * cnn, rtol=1e-6)
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert [member["weight"] for member in metrics["ensemble"]] == [0.75, 0.25]
    by_folder = invoke(
        two_runs, "ensemble", _evaluation("tiny-bag"), "tiny-cnn", "--weights", "3,1"
    )
    assert "evaluate  cached" in by_folder.output
    rows = json.loads(invoke(two_runs, "report", "--format", "json").output)
    ensemble_rows = [row for row in rows if row["model"] == "ensemble"]
    assert len(ensemble_rows) == 1 and "tiny-bag" in ensemble_rows[0]["run"]
    assert ensemble_rows[0]["accuracy"] == metrics["accuracy"]


def test_report_over_an_ensemble_keeps_every_stored_artifact(two_runs: CliRunner):
    invoke(two_runs, "ensemble", "tiny-bag", "tiny-cnn")
    root = Path(os.environ["TEXTPIPE_HOME"])
    before = sorted(path.relative_to(root) for path in root.glob("*/*"))

    invoke(two_runs, "report")
    invoke(two_runs, "report", "--plot", root.parent / "plot.png")

    assert sorted(path.relative_to(root) for path in root.glob("*/*")) == before
    assert (root / "train").is_dir() and (root / "encode").is_dir()


def test_ensemble_refuses_runs_on_other_rows_and_bad_weights(
    two_runs: CliRunner, tmp_path: Path, sentiment_test_csv: Path
):
    other = write_csv(tmp_path / "other.csv", sentiment_rows(64, seed=5))
    path = tiny_pipeline_toml(tmp_path / "tiny-other.toml", other, sentiment_test_csv)
    assert invoke(two_runs, "run", path).exit_code == 0

    refused = two_runs.invoke(cli, ["ensemble", "tiny-bag", "tiny-other"])
    assert refused.exit_code != 0 and "another data set" in refused.output
    weights = two_runs.invoke(cli, ["ensemble", "tiny-bag", "tiny-cnn", "--weights", "1"])
    assert weights.exit_code == 2 and "expected 2 non-negative numbers" in weights.output
    alone = two_runs.invoke(cli, ["ensemble", "tiny-bag"])
    assert alone.exit_code == 2 and "at least two" in alone.output
    missing = two_runs.invoke(cli, ["ensemble", "tiny-bag", "nope"])
    assert missing.exit_code == 1 and "No evaluated run named 'nope'" in missing.output


def test_ensemble_refuses_the_same_evaluation_twice(runner: CliRunner, trained_run: Path):
    evaluations = Path(os.environ["TEXTPIPE_HOME"]) / "evaluate"
    before = sorted(evaluations.iterdir())
    by_name = runner.invoke(cli, ["ensemble", "tiny", "tiny"])
    assert by_name.exit_code == 2
    assert by_name.output.startswith("Error: tiny is given twice (")
    assert "give each run once" in by_name.output and len(by_name.output.splitlines()) == 1
    by_folder = runner.invoke(cli, ["ensemble", "tiny", str(_evaluation("tiny"))])
    assert by_folder.exit_code == 2 and "tiny is given twice" in by_folder.output
    assert sorted(evaluations.iterdir()) == before  # nothing built
