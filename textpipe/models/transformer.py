"""The transformer encoder: self-attention over the real tokens, then their mean."""

from __future__ import annotations

import keras
from keras import layers

from textpipe.errors import ConfigError
from textpipe.models.head import classifier_head, functional_model, layer_dtype, token_input
from textpipe.models.layers import MaskedMeanPooling, PaddingMask, PositionEmbedding


def build_transformer(
    *,
    vocab_size: int,
    length: int,
    num_classes: int,
    embedding_dim: int,
    units: int,
    num_layers: int,
    dropout: float,
    num_heads: int,
    mixed_precision: bool,
) -> keras.Model:
    """Builds token + position embeddings -> encoder blocks -> masked mean -> Dense -> logits.

    Each encoder block is post-norm: multi-head self-attention in which every token attends to
    the real tokens only, a residual connection and LayerNormalization, then a feed-forward
    network (Dense(units, relu) -> Dense(embedding_dim)), a residual connection and
    LayerNormalization.

    Args:
        vocab_size: Number of token ids, padding id 0 included.
        length: Number of learned positions: the model accepts up to `length` steps.
        num_classes: 2 gives one logit, more give one logit per class.
        embedding_dim: Width of the embeddings and of every encoder block's output; must be a
            multiple of `num_heads`.
        units: Width of the feed-forward networks' hidden layer and of the hidden Dense layer.
        num_layers: Number of encoder blocks.
        dropout: Dropout rate after the hidden Dense layer.
        num_heads: Number of attention heads, each of width `embedding_dim // num_heads`.
        mixed_precision: Compute in float16 with float32 variables and float32 logits.

    Returns:
        An uncompiled `keras.Model` mapping `(batch, steps)` int32 token ids to logits,
        `steps <= length`.

    Raises:
        ConfigError: If `embedding_dim` is not a multiple of `num_heads`.
    """
    if embedding_dim % num_heads:
        raise ConfigError(
            f"Invalid options for model 'transformer': embedding_dim ({embedding_dim}) "
            f"must be a multiple of num_heads ({num_heads})."
        )
    dtype = layer_dtype(mixed_precision)
    token_ids = token_input(None)
    padding_mask = PaddingMask(name="padding_mask")(token_ids)
    attention_mask = PaddingMask(attention=True, name="attention_mask")(token_ids)
    hidden = layers.Embedding(
        vocab_size, embedding_dim, mask_zero=True, dtype=dtype, name="embedding"
    )(token_ids)
    hidden = PositionEmbedding(length, dtype=dtype, name="position_embedding")(hidden)
    for block in range(1, num_layers + 1):
        attended = layers.MultiHeadAttention(
            num_heads,
            key_dim=embedding_dim // num_heads,
            dtype=dtype,
            name=f"attention_{block}",
        )(hidden, hidden, attention_mask=attention_mask)
        hidden = layers.Add(dtype=dtype, name=f"attention_residual_{block}")([hidden, attended])
        hidden = layers.LayerNormalization(dtype=dtype, name=f"attention_norm_{block}")(hidden)
        fed = layers.Dense(units, activation="relu", dtype=dtype, name=f"feed_forward_{block}")(
            hidden
        )
        fed = layers.Dense(embedding_dim, dtype=dtype, name=f"feed_forward_output_{block}")(fed)
        hidden = layers.Add(dtype=dtype, name=f"feed_forward_residual_{block}")([hidden, fed])
        hidden = layers.LayerNormalization(dtype=dtype, name=f"feed_forward_norm_{block}")(hidden)
    pooled = MaskedMeanPooling(dtype=dtype, name="mean_pooling")(hidden, mask=padding_mask)
    logits = classifier_head(
        pooled,
        units=units,
        num_classes=num_classes,
        dropout=dropout,
        mixed_precision=mixed_precision,
    )
    return functional_model(token_ids, logits, name="transformer", mixed_precision=mixed_precision)
