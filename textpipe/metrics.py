"""Classification metrics from labels and predicted probabilities, in numpy."""

from __future__ import annotations

from typing import Any

import numpy as np


def log_loss(labels: np.ndarray, probabilities: np.ndarray, epsilon: float = 1e-7) -> float:
    """Mean cross-entropy of binary ([N]) or multi-class ([N, C]) probabilities."""
    probabilities = np.clip(np.asarray(probabilities, dtype=np.float64), epsilon, 1 - epsilon)
    if probabilities.ndim == 1:
        return float(
            -np.mean(labels * np.log(probabilities) + (1 - labels) * np.log(1 - probabilities))
        )
    chosen = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(chosen)))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class) pairs, rows = true class."""
    return np.bincount(labels * num_classes + predicted, minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties); None if one class."""
    labels = np.asarray(labels)
    positives = int((labels == 1).sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    # average rank within runs of equal scores
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    average = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(average, ends - starts)
    rank_sum = ranks[labels == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def _precision_recall_f1(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    true_positive = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    actual = matrix.sum(axis=1).astype(np.float64)
    precision = np.divide(
        true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0
    )
    recall = np.divide(true_positive, actual, out=np.zeros_like(true_positive), where=actual > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return precision, recall, f1


def classification_metrics(
    labels: np.ndarray, probabilities: np.ndarray, label_names: list[str]
) -> dict[str, Any]:
    """Loss, accuracy, precision, recall, F1, ROC-AUC (binary) and the confusion matrix.

    The headline precision, recall and F1 are the positive class's for two classes and macro
    averages for more; `per_class` holds every class's (with its support), `macro_avg` the
    unweighted and `weighted_avg` the support-weighted means (as scikit-learn's
    `classification_report`), and `macro_f1` the macro F1 again, for reports.

    Args:
        labels: true class ids, [N].
        probabilities: [N] probability of class 1 (binary) or [N, C] class probabilities.
        label_names: class names, index = class id.
    """
    labels = np.asarray(labels, dtype=np.int64)
    num_classes = len(label_names)
    binary = probabilities.ndim == 1
    predicted = (probabilities >= 0.5).astype(np.int64) if binary else probabilities.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, num_classes)
    precision, recall, f1 = _precision_recall_f1(matrix)
    result: dict[str, Any] = {
        "examples": len(labels),
        "loss": log_loss(labels, probabilities),
        "accuracy": float((predicted == labels).mean()) if len(labels) else 0.0,
    }
    if binary:
        result.update(precision=float(precision[1]), recall=float(recall[1]), f1=float(f1[1]))
        result["roc_auc"] = roc_auc(labels, probabilities)
    else:
        result.update(
            precision=float(precision.mean()), recall=float(recall.mean()), f1=float(f1.mean())
        )
        result["roc_auc"] = None
    result["per_class"] = {
        name: {
            "precision": float(precision[index]),
            "recall": float(recall[index]),
            "f1": float(f1[index]),
            "support": int(matrix[index].sum()),
        }
        for index, name in enumerate(label_names)
    }
    support = matrix.sum(axis=1).astype(np.float64)
    share = support / support.sum() if support.sum() else support
    result["macro_avg"] = {
        "precision": float(precision.mean()),
        "recall": float(recall.mean()),
        "f1": float(f1.mean()),
        "support": int(support.sum()),
    }
    result["weighted_avg"] = {
        "precision": float(precision @ share),
        "recall": float(recall @ share),
        "f1": float(f1 @ share),
        "support": int(support.sum()),
    }
    result["macro_f1"] = result["macro_avg"]["f1"]
    result["confusion_matrix"] = matrix.tolist()
    result["label_names"] = list(label_names)
    result["averaging"] = "binary (positive class: " + label_names[1] + ")" if binary else "macro"
    return result
