"""Adapting a model to its training split before training: layers that learn from the labels.

Some layers hold statistics of the training data rather than trained weights: the naive-Bayes
ratios of `NaiveBayesBag`. Any layer of a functional model with an `adapt(batches,
num_classes)` method is adapted here, from its own input computed on the training rows, so a
custom builder that uses such a layer is adapted too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import numpy as np


def adaptable_layers(model: keras.Model) -> list[Any]:
    """The layers of `model` that adapt to labelled training data, in order.

    Keras preprocessing layers (`TextVectorization`, `Normalization`) also have an `adapt`
    method, but one without labels; only layers whose `adapt` takes `num_classes` count.
    """
    import inspect

    found = []
    for layer in model.layers:
        adapt = getattr(layer, "adapt", None)
        if callable(adapt) and "num_classes" in inspect.signature(adapt).parameters:
            found.append(layer)
    return found


def adapt_model(
    model: keras.Model,
    ids: np.ndarray,
    labels: np.ndarray,
    *,
    num_classes: int,
    batch_size: int = 512,
) -> list[str]:
    """Adapts every adaptable layer of `model` to the training rows `ids` and their `labels`.

    Args:
        model: A functional model.
        ids: The training rows, `(rows, steps)` token ids.
        labels: Their class ids.
        num_classes: The number of classes.
        batch_size: Rows per batch when computing a layer's input.

    Returns:
        The names of the adapted layers.
    """
    import keras

    adapted = []
    for layer in adaptable_layers(model):
        features = keras.Model(model.input, layer.input)

        def batches(features: keras.Model = features) -> Iterator[tuple[Any, Any]]:
            for start in range(0, len(ids), batch_size):
                rows = ids[start : start + batch_size]
                computed = features(rows, training=False)
                yield keras.ops.convert_to_numpy(computed), labels[start : start + batch_size]

        layer.adapt(batches(), num_classes=num_classes)
        adapted.append(layer.name)
    return adapted
