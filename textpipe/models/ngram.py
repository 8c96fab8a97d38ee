"""The n-gram model: naive-Bayes-scaled logistic regression over hashed word n-grams (NB-LR).

The linear model that beat every neural model on IMDB for years (Wang & Manning 2012; Mesnil et
al. 2015): binary features for the word n-grams of a review, each scaled by its log-count ratio
in the training split, and a logistic regression on them. Here the n-grams are hashed inside
the model (`HashedNgrams`), the ratios are a non-trainable weight that `adapt` fills in from the
training split before training (`NaiveBayesBag.adapt`, called by the train stage), and with
`ngram_hidden` the scaled n-gram vectors feed a hidden layer instead of the logits directly.
"""

from __future__ import annotations

import keras

from textpipe.models.head import classifier_head, functional_model, token_input
from textpipe.models.layers import HashedNgrams, NaiveBayesBag


def build_ngram(
    *,
    vocab_size: int,
    length: int,
    num_classes: int,
    embedding_dim: int,
    units: int,
    dropout: float,
    ngram_order: int,
    ngram_buckets: int,
    ngram_hidden: bool,
    mixed_precision: bool,
) -> keras.Model:
    """Builds hashed binary n-grams -> naive-Bayes-scaled sum -> logits (or a hidden layer).

    Linear (the default): one weight per n-gram id and class column, multiplied by the id's
    log-count ratio and summed over the distinct n-grams of the row, plus a bias: the logits.
    With `ngram_hidden`, each id has an `embedding_dim`-wide vector instead, the ratio-scaled
    vectors are summed per ratio column and go through Dense(units, relu) -> [Dropout] -> logits.

    The ratios are 1 until the train stage adapts the model to its training split (see
    `textpipe.models.adapt`); padding never changes a prediction.

    Args:
        vocab_size: Number of token ids, padding id 0 included.
        length: Unused: the model accepts any number of steps.
        num_classes: 2 gives one logit, more give one logit per class.
        embedding_dim: Width of the n-gram vectors, with `ngram_hidden` only.
        units: Width of the hidden Dense layer, with `ngram_hidden` only.
        dropout: Rate at which whole n-grams are dropped in training; with `ngram_hidden` also
            the dropout after the hidden layer.
        ngram_order: The longest n-gram: 1 words, 2 words and bigrams, 3 up to trigrams.
        ngram_buckets: Number of n-gram ids hashed into; the weights have one more row (0).
        ngram_hidden: Whether to add the hidden layer.
        mixed_precision: The hidden layer computes in float16; the n-gram sums and the logits
            stay float32.

    Returns:
        An uncompiled `keras.Model` mapping `(batch, steps)` int32 token ids to logits.
    """
    outputs = 1 if num_classes == 2 else num_classes
    token_ids = token_input(None)
    ngram_ids = HashedNgrams(vocab_size, ngram_order, ngram_buckets, name="hashed_ngrams")(
        token_ids
    )
    if not ngram_hidden:
        logits = NaiveBayesBag(
            ngram_buckets,
            num_ratios=outputs,
            width=outputs,
            elementwise=True,
            dropout=dropout,
            name="naive_bayes_bag",
        )(ngram_ids)
        return functional_model(token_ids, logits, name="ngram", mixed_precision=False)
    features = NaiveBayesBag(
        ngram_buckets,
        num_ratios=outputs,
        width=embedding_dim,
        elementwise=False,
        dropout=dropout,
        name="naive_bayes_bag",
    )(ngram_ids)
    logits = classifier_head(
        features,
        units=units,
        num_classes=num_classes,
        dropout=dropout,
        mixed_precision=mixed_precision,
    )
    return functional_model(token_ids, logits, name="ngram", mixed_precision=mixed_precision)
