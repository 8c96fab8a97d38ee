"""Pieces every zoo model shares: the token input, the dtype policy and the classification head."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

MIXED_PRECISION_POLICY = "mixed_float16"


def layer_dtype(mixed_precision: bool) -> str | None:
    """Returns the dtype policy to give each layer.

    Set per layer rather than with `keras.mixed_precision.set_global_policy`, so that building
    a model leaves no global state behind.

    Args:
        mixed_precision: Whether to compute in float16 with float32 variables.

    Returns:
        `"mixed_float16"`, or None for the global policy (float32 unless changed).
    """
    return MIXED_PRECISION_POLICY if mixed_precision else None


def token_input(length: int | None) -> Any:
    """Returns the model's input: a batch of int32 token ids, padding id 0.

    Args:
        length: The fixed number of steps, or None to accept any length.

    Returns:
        A `keras.KerasTensor` of shape `(batch, length)`.
    """
    return keras.Input(shape=(length,), dtype="int32", name="token_ids")


def classifier_head(
    features: Any, *, units: int, num_classes: int, dropout: float, mixed_precision: bool
) -> Any:
    """Adds Dense(units, relu), then Dropout when `dropout > 0`, then the logits layer.

    Args:
        features: A `(batch, features)` tensor.
        units: Width of the hidden layer.
        num_classes: 2 gives one logit (for binary cross-entropy from logits); more give one
            logit per class (for sparse categorical cross-entropy from logits).
        dropout: Dropout rate after the hidden layer; 0 adds no Dropout layer.
        mixed_precision: Whether the other layers compute in float16; the logits stay float32
            either way so that the loss is computed in float32.

    Returns:
        The logits, a float32 `(batch, 1)` or `(batch, num_classes)` tensor.
    """
    dtype = layer_dtype(mixed_precision)
    hidden = layers.Dense(units, activation="relu", dtype=dtype, name="hidden")(features)
    if dropout > 0:
        hidden = layers.Dropout(dropout, dtype=dtype, name="dropout")(hidden)
    outputs = 1 if num_classes == 2 else num_classes
    return layers.Dense(outputs, dtype="float32" if mixed_precision else None, name="logits")(
        hidden
    )


def functional_model(inputs: Any, outputs: Any, *, name: str, mixed_precision: bool) -> keras.Model:
    """Wraps a functional graph in a `keras.Model`.

    Args:
        inputs: The token-id input.
        outputs: The logits.
        name: The model's name, the registry name.
        mixed_precision: When true the model's own dtype policy is mixed too, which is what
            makes `Model.compile` wrap the optimizer in a `LossScaleOptimizer`.

    Returns:
        The model.
    """
    model = keras.Model(inputs, outputs, name=name)
    if mixed_precision:
        # keras.Model(dtype=...) is silently ignored by functional models; the setter is not.
        model.dtype_policy = MIXED_PRECISION_POLICY
    return model
