"""The convolutional model: n-gram detectors over the embeddings, max-pooled over real steps."""

from __future__ import annotations

import keras
from keras import layers

from textpipe.models.head import classifier_head, functional_model, layer_dtype, token_input
from textpipe.models.layers import MaskedMaxPooling, PaddingMask, ZeroMaskedSteps


def build_cnn(
    *,
    vocab_size: int,
    length: int,
    num_classes: int,
    embedding_dim: int,
    units: int,
    dropout: float,
    kernel_size: int,
    mixed_precision: bool,
) -> keras.Model:
    """Builds Embedding(mask_zero) -> zero padded steps -> Conv1D -> masked max -> Dense -> logits.

    `Conv1D` ignores masks, so the embeddings at padded steps are set to zero (the same values as
    the convolution's own "same" padding) and the padding mask is passed to the pooling as an
    explicit tensor. With right-padded input the output does not depend on the amount of padding.

    Args:
        vocab_size: Number of token ids, padding id 0 included.
        length: Unused: the model accepts any number of steps.
        num_classes: 2 gives one logit, more give one logit per class.
        embedding_dim: Width of the token embedding.
        units: Number of convolution filters and width of the hidden Dense layer.
        dropout: Dropout rate after the hidden Dense layer.
        kernel_size: Width of the convolution window, in tokens.
        mixed_precision: Compute in float16 with float32 variables and float32 logits.

    Returns:
        An uncompiled `keras.Model` mapping `(batch, steps)` int32 token ids to logits.
    """
    dtype = layer_dtype(mixed_precision)
    token_ids = token_input(None)
    padding_mask = PaddingMask(name="padding_mask")(token_ids)
    embedded = layers.Embedding(
        vocab_size, embedding_dim, mask_zero=True, dtype=dtype, name="embedding"
    )(token_ids)
    embedded = ZeroMaskedSteps(dtype=dtype, name="zero_padded_steps")(embedded)
    features = layers.Conv1D(
        units, kernel_size, padding="same", activation="relu", dtype=dtype, name="conv"
    )(embedded)
    pooled = MaskedMaxPooling(dtype=dtype, name="max_pooling")(features, mask=padding_mask)
    logits = classifier_head(
        pooled,
        units=units,
        num_classes=num_classes,
        dropout=dropout,
        mixed_precision=mixed_precision,
    )
    return functional_model(token_ids, logits, name="cnn", mixed_precision=mixed_precision)
