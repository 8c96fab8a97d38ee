"""The multilayer perceptron: the baseline that reads every position, padding included."""

from __future__ import annotations

import keras
from keras import layers

from textpipe.models.head import classifier_head, functional_model, layer_dtype, token_input
from textpipe.models.hyperparameters import validate_hyperparameters


def build_mlp(
    *,
    vocab_size: int,
    length: int,
    num_classes: int,
    embedding_dim: int = 64,
    units: int = 64,
    num_layers: int = 1,
    dropout: float = 0.0,
    pooling: str = "last",
    merge_mode: str = "concat",
    bigrams: bool = False,
    bigram_buckets: int = 100_000,
    ngram_order: int = 3,
    ngram_buckets: int = 2**21,
    ngram_hidden: bool = False,
    num_heads: int = 2,
    kernel_size: int = 5,
    use_cudnn: str | bool = "auto",
    mixed_precision: bool = False,
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
        num_layers: Ignored.
        dropout: Dropout rate after the hidden layer.
        pooling: Ignored.
        merge_mode: Ignored.
        bigrams: Ignored.
        bigram_buckets: Ignored.
        ngram_order: Ignored.
        ngram_buckets: Ignored.
        ngram_hidden: Ignored.
        num_heads: Ignored.
        kernel_size: Ignored.
        use_cudnn: Ignored.
        mixed_precision: Compute in float16 with float32 variables and float32 logits.

    Returns:
        An uncompiled `keras.Model` mapping `(batch, length)` int32 token ids to logits.

    Raises:
        ConfigError: If a hyperparameter value is invalid.
    """
    # Every argument, read before any other local exists.
    validate_hyperparameters(locals(), model="mlp")
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
