"""The multilayer perceptron: the baseline that reads every position, padding included."""

from __future__ import annotations

import keras
from keras import layers

from textpipe.models.head import classifier_head, functional_model, layer_dtype, token_input


def build_mlp(
    *,
    vocab_size: int,
    length: int,
    num_classes: int,
    embedding_dim: int,
    units: int,
    dropout: float,
    mixed_precision: bool,
) -> keras.Model:
    """Builds Embedding -> Flatten -> Dense(units, relu) -> [Dropout] -> logits.

    The input has exactly `length` steps and the embedding has no mask: every position, padding
    included, has its own weights in the first Dense layer, so the model is not
    padding-invariant by construction. It is the baseline the masked models are compared with.

    Args:
        vocab_size: Number of token ids, padding id 0 included.
        length: Number of token ids per review; the model accepts this length only.
        num_classes: 2 gives one logit, more give one logit per class.
        embedding_dim: Width of the token embedding.
        units: Width of the hidden Dense layer.
        dropout: Dropout rate after the hidden layer.
        mixed_precision: Compute in float16 with float32 variables and float32 logits.

    Returns:
        An uncompiled `keras.Model` mapping `(batch, length)` int32 token ids to logits.
    """
    dtype = layer_dtype(mixed_precision)
    token_ids = token_input(length)
    embedded = layers.Embedding(vocab_size, embedding_dim, dtype=dtype, name="embedding")(token_ids)
    flat = layers.Flatten(dtype=dtype, name="flatten")(embedded)
    logits = classifier_head(
        flat,
        units=units,
        num_classes=num_classes,
        dropout=dropout,
        mixed_precision=mixed_precision,
    )
    return functional_model(token_ids, logits, name="mlp", mixed_precision=mixed_precision)
