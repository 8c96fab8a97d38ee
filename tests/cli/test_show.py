"""``textpipe show``: a preset's model, layer by layer, before and after training."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import invoke
from tests.conftest import tiny_pipeline_toml


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
