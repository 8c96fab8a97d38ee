"""``textpipe/metrics.py``: loss, confusion matrix, ROC-AUC and the per-class and averaged
precision, recall and F1, checked against hand counts."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from textpipe.metrics import classification_metrics, confusion_matrix, log_loss, roc_auc


def test_log_loss_is_the_mean_cross_entropy_for_binary_and_multiclass() -> None:
    binary = log_loss(np.array([1, 0]), np.array([0.8, 0.4]))
    assert binary == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    multiclass = log_loss(np.array([2, 0]), np.array([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]]))
    assert multiclass == pytest.approx(-(math.log(0.5) + math.log(0.9)) / 2)
    # a confident mistake is clipped, not infinite
    assert math.isfinite(log_loss(np.array([1]), np.array([0.0])))
    assert log_loss(np.array([1]), np.array([0.0])) == pytest.approx(-math.log(1e-7))


def test_confusion_matrix_rows_are_true_classes() -> None:
    matrix = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    assert matrix.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    # a class seen nowhere still has its row and column
    assert confusion_matrix(np.array([0]), np.array([0]), 3).shape == (3, 3)


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
