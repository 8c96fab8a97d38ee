"""The evaluate stage and the metrics behind it."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from tests.conftest import TINY_MODEL
from textpipe.artifacts import Store
from textpipe.config import EvaluateParams, TrainParams
from textpipe.errors import ConfigError
from textpipe.metrics import classification_metrics, roc_auc
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


def test_roc_auc_matches_pair_counting() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    scores = np.round(rng.random(60), 1)  # many ties
    pairs = [
        (p, n)
        for p, n in itertools.product(np.flatnonzero(labels == 1), np.flatnonzero(labels == 0))
    ]
    expected = np.mean(
        [1.0 if scores[p] > scores[n] else 0.5 if scores[p] == scores[n] else 0.0 for p, n in pairs]
    )
    assert roc_auc(labels, scores) == pytest.approx(expected)
    assert roc_auc(np.ones(4, int), np.ones(4)) is None


def test_binary_and_macro_metrics() -> None:
    labels = np.array([1, 1, 1, 0, 0, 0])
    probabilities = np.array([0.9, 0.8, 0.3, 0.2, 0.6, 0.1])
    metrics = classification_metrics(labels, probabilities, ["neg", "pos"])
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["precision"] == pytest.approx(2 / 3) and metrics["recall"] == pytest.approx(
        2 / 3
    )
    assert metrics["confusion_matrix"] == [[2, 1], [1, 2]]
    three = classification_metrics(
        np.array([0, 1, 2, 2]),
        np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2]]),
        ["a", "b", "c"],
    )
    assert three["accuracy"] == 0.75 and three["roc_auc"] is None
    assert three["per_class"]["c"]["recall"] == 0.5
    assert three["f1"] == pytest.approx(np.mean([2 / 3, 1.0, 2 / 3]))


def test_per_class_macro_and_weighted_averages_on_imbalanced_classes() -> None:
    # 4 classes, supports 5, 3, 1, 1; class "d" is never predicted.
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 3])
    predicted = np.array([0, 0, 0, 0, 1, 1, 1, 0, 2, 0])
    probabilities = np.eye(4)[predicted] * 0.7 + 0.075

    metrics = classification_metrics(labels, probabilities, ["a", "b", "c", "d"])

    # precision a 4/6, b 2/3, c 1, d 0; recall a 4/5, b 2/3, c 1, d 0
    f1 = np.array([2 * (4 / 6) * 0.8 / (4 / 6 + 0.8), 2 / 3, 1.0, 0.0])
    assert metrics["per_class"]["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert metrics["per_class"]["a"]["support"] == 5
    assert metrics["macro_avg"]["f1"] == pytest.approx(f1.mean())
    assert metrics["macro_f1"] == metrics["f1"] == pytest.approx(f1.mean())
    assert metrics["weighted_avg"]["f1"] == pytest.approx(f1 @ np.array([5, 3, 1, 1]) / 10)
    assert metrics["weighted_avg"]["recall"] == pytest.approx(metrics["accuracy"])
    assert metrics["macro_avg"]["support"] == 10
    assert metrics["confusion_matrix"] == [[4, 1, 0, 0], [1, 2, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]]
