"""The evaluate stage (the metrics behind it are tested in ``tests/test_metrics.py``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import TINY_MODEL
from textpipe.artifacts import Store
from textpipe.config import EvaluateParams, TrainParams
from textpipe.errors import ConfigError
from textpipe.stages.evaluate import evaluate
from textpipe.stages.train import train


def test_evaluate_writes_metrics_and_predictions(encoded_artifact) -> None:
    store = Store()
    trained = train(
        encoded=encoded_artifact,
        params=TrainParams(model="bag", epochs=8, batch_size=8, learning_rate=0.05, **TINY_MODEL),
        store=store,
    ).artifact
    outcome = evaluate(
        model=trained, encoded=encoded_artifact, params=EvaluateParams(), store=store
    )
    metrics = json.loads((outcome.artifact.path / "metrics.json").read_text())
    assert metrics["examples"] == 24 and metrics["split"] == "test"
    assert metrics["accuracy"] >= 0.9, metrics
    assert {
        "loss",
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "confusion_matrix",
        "per_class",
    } <= metrics.keys()
    assert np.asarray(metrics["confusion_matrix"]).sum() == 24
    predictions = np.load(outcome.artifact.path / "predictions.npy")
    assert predictions.shape == (24,) and ((predictions >= 0) & (predictions <= 1)).all()
    assert (
        evaluate(
            model=trained,
            encoded=encoded_artifact,
            params=EvaluateParams(batch_size=3),
            store=store,
        ).status
        == "cached"
    )
    # download names every split train, validation or test, so no other name can exist
    with pytest.raises(ConfigError, match=r"\[evaluate.split\] expected one of train, valid"):
        EvaluateParams(split="dev")
