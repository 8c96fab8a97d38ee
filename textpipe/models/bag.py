"""The bag of embeddings (fastText): the average of the word and, optionally, bigram vectors."""

from __future__ import annotations

import keras
from keras import layers

from textpipe.models.head import classifier_head, functional_model, layer_dtype, token_input
from textpipe.models.layers import HashedBigrams, MaskedMeanPooling


def build_bag(
    *,
    vocab_size: int,
    length: int,
    num_classes: int,
    embedding_dim: int,
    units: int,
    dropout: float,
    bigrams: bool,
    bigram_buckets: int,
    mixed_precision: bool,
) -> keras.Model:
    """Builds masked average of embeddings -> Dense(units, relu) -> [Dropout] -> logits.

    With `bigrams=True`, each pair of neighbouring tokens is hashed into one of `bigram_buckets`
    ids inside the model (see `HashedBigrams`), embedded by its own Embedding, and averaged
    together with the word embeddings: one mean over the real words and the real bigrams
    (a bigram with padding on either side is masked). Word order is otherwise ignored.

    Args:
        vocab_size: Number of token ids, padding id 0 included.
        length: Unused: the model accepts any number of steps.
        num_classes: 2 gives one logit, more give one logit per class.
        embedding_dim: Width of the word (and bigram) embeddings.
        units: Width of the hidden Dense layer.
        dropout: Dropout rate after the hidden Dense layer.
        bigrams: Whether to add hashed word bigrams.
        bigram_buckets: Number of bigram ids hashed into, when `bigrams` is true; the bigram
            embedding has `bigram_buckets + 1` rows, row 0 being padding.
        mixed_precision: Compute in float16 with float32 variables and float32 logits.

    Returns:
        An uncompiled `keras.Model` mapping `(batch, steps)` int32 token ids to logits.
    """
    dtype = layer_dtype(mixed_precision)
    token_ids = token_input(None)
    embedded = layers.Embedding(
        vocab_size, embedding_dim, mask_zero=True, dtype=dtype, name="embedding"
    )(token_ids)
    if bigrams:
        bigram_ids = HashedBigrams(vocab_size, bigram_buckets, name="hashed_bigrams")(token_ids)
        bigram_embedded = layers.Embedding(
            bigram_buckets + 1, embedding_dim, mask_zero=True, dtype=dtype, name="bigram_embedding"
        )(bigram_ids)
        # Concatenating along the steps concatenates the masks too, so one masked mean averages
        # the real words and the real bigrams together.
        embedded = layers.Concatenate(axis=1, dtype=dtype, name="words_and_bigrams")(
            [embedded, bigram_embedded]
        )
    pooled = MaskedMeanPooling(dtype=dtype, name="mean_pooling")(embedded)
    logits = classifier_head(
        pooled,
        units=units,
        num_classes=num_classes,
        dropout=dropout,
        mixed_precision=mixed_precision,
    )
    return functional_model(token_ids, logits, name="bag", mixed_precision=mixed_precision)
