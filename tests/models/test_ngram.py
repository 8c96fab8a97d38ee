"""The ngram model: hashing of n-grams, binary features, naive-Bayes ratios and adaptation."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from textpipe.models import build_model
from textpipe.models.adapt import adapt_model
from textpipe.models.layers import HashedNgrams, NaiveBayesBag

TINY = {"vocab_size": 50, "ngram_buckets": 1000}
HIDDEN = {"embedding_dim": 8, "units": 8}  # sizes of the hidden layer, with ngram_hidden only


def _ids(layer: keras.layers.Layer, rows: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(layer(rows))


def _distinct(row: np.ndarray) -> set[int]:
    return {int(value) for value in row if value}


def test_ngrams_of_each_order_are_counted_once_and_padding_makes_none(right_pad):
    layer = HashedNgrams(vocab_size=50, order=3, num_buckets=10**6)
    # 5 tokens: 5 words, 4 bigrams, 3 trigrams; the repeated word and bigram count once.
    rows = right_pad([[3, 4, 3, 4, 9]], 8)

    ngram_ids = _ids(layer, rows)

    assert ngram_ids.shape == (1, 24)
    # distinct: words 3, 4, 9; bigrams 3-4, 4-3, 4-9; trigrams 3-4-3, 4-3-4, 3-4-9
    assert len(_distinct(ngram_ids[0])) == 9
    assert (ngram_ids[0] != 0).sum() == 9
    assert ngram_ids.min() >= 0 and ngram_ids.max() <= 10**6


def test_ngram_ids_do_not_depend_on_padding_or_position(right_pad):
    layer = HashedNgrams(vocab_size=50, order=3, num_buckets=1000)
    short = _ids(layer, right_pad([[5, 6, 7]], 3))
    long = _ids(layer, right_pad([[5, 6, 7]], 40))
    shifted = _ids(layer, right_pad([[8, 5, 6, 7]], 10))

    assert _distinct(short[0]) == _distinct(long[0])
    assert _distinct(short[0]) < _distinct(shifted[0])


def test_ngram_ids_are_the_same_after_saving_and_for_the_same_seed(tmp_path, right_pad):
    rows = right_pad([[2, 3, 4, 5], [9, 9, 8]], 6)
    first = build_model("ngram", length=6, num_classes=2, **TINY)
    second = build_model("ngram", length=6, num_classes=2, **TINY)
    path = tmp_path / "ngram.keras"
    first.save(path)
    loaded = keras.saving.load_model(path)

    expected = _ids(first.get_layer("hashed_ngrams"), rows)
    np.testing.assert_array_equal(_ids(second.get_layer("hashed_ngrams"), rows), expected)
    np.testing.assert_array_equal(_ids(loaded.get_layer("hashed_ngrams"), rows), expected)


def test_naive_bayes_ratios_are_smoothed_log_count_ratios():
    layer = NaiveBayesBag(num_buckets=4, num_ratios=1, width=1)
    layer.build((None, 3))
    # id 1 in both positive rows, id 2 in the negative one, id 3 in one of each
    ngram_ids = np.array([[1, 3, 0], [1, 0, 0], [2, 3, 0]])
    labels = np.array([1, 1, 0])

    layer.adapt([(ngram_ids, labels)], num_classes=2)

    positive = np.array([0, 2, 0, 1, 0]) + 1.0
    negative = np.array([0, 0, 1, 1, 0]) + 1.0
    expected = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
    expected[0] = 0.0
    ratios = keras.ops.convert_to_numpy(layer.ratios)[:, 0]
    np.testing.assert_allclose(ratios, expected, rtol=1e-6)
    assert ratios[1] > 0 > ratios[2]


def test_more_classes_get_one_ratio_column_each_one_against_the_rest():
    layer = NaiveBayesBag(num_buckets=3, num_ratios=3, width=3)
    layer.build((None, 2))
    ngram_ids = np.array([[1, 0], [2, 0], [3, 0]])

    layer.adapt([(ngram_ids, np.array([0, 1, 2]))], num_classes=3)

    ratios = keras.ops.convert_to_numpy(layer.ratios)
    # each class owns one id: its ratio is highest in that class's column
    assert [int(np.argmax(ratios[index])) for index in (1, 2, 3)] == [0, 1, 2]
    np.testing.assert_array_equal(ratios[0], 0.0)


@pytest.mark.parametrize("hidden", [False, True])
def test_adapted_ratios_travel_with_the_saved_model(hidden, tmp_path, reviews, right_pad):
    rows, labels = reviews
    inputs = right_pad(rows, 16)
    sizes = HIDDEN if hidden else {}
    model = build_model("ngram", length=16, num_classes=2, ngram_hidden=hidden, **TINY, **sizes)
    before = keras.ops.convert_to_numpy(model.get_layer("naive_bayes_bag").ratios)

    assert adapt_model(model, inputs, labels, num_classes=2) == ["naive_bayes_bag"]

    ratios = keras.ops.convert_to_numpy(model.get_layer("naive_bayes_bag").ratios)
    assert (before == 1).all() and not np.allclose(ratios, before)
    path = tmp_path / "ngram.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded.get_layer("naive_bayes_bag").ratios), ratios
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(inputs)), keras.ops.convert_to_numpy(model(inputs))
    )


def test_adapted_linear_model_separates_the_reviews_before_any_training(reviews, right_pad):
    # With the weights at their initial zeros the logits are 0; the ratios alone already carry
    # the classes, which one step of training turns into correct signs.
    rows, labels = reviews
    inputs = right_pad(rows, 16)
    model = build_model("ngram", length=16, num_classes=2, **TINY)
    adapt_model(model, inputs, labels, num_classes=2)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )

    model.fit(inputs, labels, batch_size=16, epochs=1, verbose=0)

    logits = keras.ops.convert_to_numpy(model(inputs))[:, 0]
    assert ((logits > 0) == (labels == 1)).all()


def test_ngram_dropout_only_in_training(right_pad):
    model = build_model("ngram", length=8, num_classes=2, dropout=0.5, **TINY)
    inputs = right_pad([[2, 3, 4, 5, 6]], 8)
    bag = model.get_layer("naive_bayes_bag")
    bag.vectors.assign(np.ones((1001, 1), dtype="float32"))

    inference = [float(keras.ops.convert_to_numpy(model(inputs))[0, 0]) for _ in range(3)]
    training = {
        float(keras.ops.convert_to_numpy(model(inputs, training=True))[0, 0]) for _ in range(8)
    }

    assert inference == [12.0] * 3  # 5 words + 4 bigrams + 3 trigrams, ratio 1, weight 1
    assert len(training) > 1


def test_ngram_ids_match_a_numpy_reference_on_every_backend(right_pad):
    # `make test` runs this file on jax too: equal to NumPy's int64 arithmetic means equal
    # across backends, so a model saved on one backend predicts the same on another.
    layer = HashedNgrams(vocab_size=50, order=3, num_buckets=997)
    rows = right_pad([[2, 3, 4, 5, 3, 4], [49, 1, 7]], 8)
    computed = _ids(layer, rows)
    tables = keras.ops.convert_to_numpy(layer.tables).astype(np.int64)

    for row, ngram_ids in zip(rows, computed, strict=True):
        tokens = [int(token) for token in row if token]
        expected = set()
        for order in (1, 2, 3):
            for start in range(len(tokens) - order + 1):
                code = 0
                for position in range(order):
                    code ^= int(tables[position, tokens[start + position]])
                expected.add(1 + code % 997)
        assert _distinct(ngram_ids) == expected
