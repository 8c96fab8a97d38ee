"""Recurrent models: LSTM and GRU, one- or two-directional, stacked, with a choice of pooling.

Every recurrent layer keeps the conditions under which Keras may run it with cuDNN on a GPU
(see the `keras.layers.LSTM` docstring): tanh and sigmoid activations, no recurrent dropout,
`unroll=False`, and a mask that is right-padded (padding id 0 at the end of each row). Under
such a mask they run fused on every backend (`FusedLSTM`, `FusedGRU`: packed sequences on
PyTorch, cuDNN with each row's length on a JAX GPU); any other mask is first turned into right
padding, with the same results as Keras's masked loop.
"""

from __future__ import annotations

import keras
from keras import layers

from textpipe.models.head import classifier_head, functional_model, layer_dtype, token_input
from textpipe.models.layers import (
    FusedBidirectional,
    FusedGRU,
    FusedLSTM,
    MaskedMaxPooling,
    MaskedMeanPooling,
)

# Keras's LSTM and GRU, with the masked recurrence on each backend's fused kernel
# (textpipe.models.fused_rnn); weights and results are Keras's.
_RECURRENT_LAYERS = {"lstm": FusedLSTM, "gru": FusedGRU}


def build_recurrent(
    *,
    cell: str,
    vocab_size: int,
    length: int,
    num_classes: int,
    embedding_dim: int,
    units: int,
    num_layers: int,
    dropout: float,
    embedding_dropout: float,
    pooling: str,
    merge_mode: str | None,
    mixed_precision: bool,
) -> keras.Model:
    """Embedding(mask_zero), [SpatialDropout1D], [Bidirectional] cells, pooling, then the head.

    The registry builds `lstm`, `gru` (`merge_mode=None`), `bilstm` and `bigru` with it; the
    head is Dense(units, relu) -> [Dropout] -> logits.

    Args:
        cell: "lstm" or "gru".
        vocab_size: Number of token ids, padding id 0 included.
        length: Unused: the model accepts any number of steps, so a review encoded at length 64
            and at 128 go through the same model.
        num_classes: 2 gives one logit, more give one logit per class.
        embedding_dim: Width of the token embedding.
        units: Width of each recurrent layer (of each direction) and of the hidden Dense layer.
        num_layers: Number of stacked recurrent layers.
        dropout: Dropout rate after the hidden Dense layer.
        embedding_dropout: Rate at which, in training, whole embedding channels of a row are
            zeroed (`SpatialDropout1D`); 0 adds no layer. The mask passes through.
        pooling: How the last recurrent layer's sequence becomes one vector: "last" (its output
            at the last real step), "mean" or "max" over the real steps, or "mean-max" (the
            two concatenated, twice as wide).
        merge_mode: None for one direction; otherwise the layers are bidirectional and this
            combines the two directions: "concat", "sum", "mul" or "ave".
        mixed_precision: Compute in float16 with float32 variables and float32 logits.

    Returns:
        An uncompiled `keras.Model` mapping `(batch, steps)` int32 token ids to logits.
    """
    name = cell if merge_mode is None else f"bi{cell}"
    dtype = layer_dtype(mixed_precision)
    token_ids = token_input(None)
    hidden = layers.Embedding(
        vocab_size, embedding_dim, mask_zero=True, dtype=dtype, name="embedding"
    )(token_ids)
    if embedding_dropout > 0:
        hidden = layers.SpatialDropout1D(embedding_dropout, dtype=dtype, name="embedding_dropout")(
            hidden
        )
    for index in range(num_layers):
        is_last = index == num_layers - 1
        # With "last" pooling the final layer's own output under the mask is the output at the
        # last real step (and, going backwards, at the first), so it needs no sequence.
        recurrent = _RECURRENT_LAYERS[cell](
            units,
            return_sequences=not is_last or pooling != "last",
            dtype=dtype,
            name=f"{cell}_{index + 1}",
        )
        if merge_mode is not None:
            recurrent = FusedBidirectional(
                recurrent, merge_mode=merge_mode, dtype=dtype, name=f"{name}_{index + 1}"
            )
        hidden = recurrent(hidden)
    if pooling in ("mean", "max"):
        pool = MaskedMeanPooling if pooling == "mean" else MaskedMaxPooling
        hidden = pool(dtype=dtype, name=f"{pooling}_pooling")(hidden)
    elif pooling == "mean-max":
        hidden = layers.Concatenate(dtype=dtype, name="mean_max_pooling")(
            [
                MaskedMeanPooling(dtype=dtype, name="mean_pooling")(hidden),
                MaskedMaxPooling(dtype=dtype, name="max_pooling")(hidden),
            ]
        )
    logits = classifier_head(
        hidden,
        units=units,
        num_classes=num_classes,
        dropout=dropout,
        mixed_precision=mixed_precision,
    )
    return functional_model(token_ids, logits, name=name, mixed_precision=mixed_precision)
