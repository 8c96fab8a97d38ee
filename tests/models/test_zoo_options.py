"""Zoo options beyond the contract: classes, sizes, pooling, merge modes, bigrams, precision."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from textpipe.models import MODEL_NAMES, build_model
from textpipe.models.layers import HashedBigrams

TINY = {"vocab_size": 50, "embedding_dim": 8, "units": 8}
# Rows of 1 to 16 tokens; the 16-token one has no padding at 16 steps.
ROWS = [[3, 4, 5], [7], list(range(2, 18)), [9, 8, 7, 6, 5, 4, 3, 2, 11, 12]]


def _outputs(model: keras.Model, inputs: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(inputs, training=False))


def _assert_padding_invariant(model: keras.Model, right_pad) -> None:
    np.testing.assert_allclose(
        _outputs(model, right_pad(ROWS, 32)), _outputs(model, right_pad(ROWS, 16)), atol=1e-5
    )


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_more_than_two_classes_give_one_logit_per_class(name, right_pad):
    model = build_model(name, length=16, num_classes=4, **TINY)

    assert _outputs(model, right_pad(ROWS, 16)).shape == (4, 4)


@pytest.mark.parametrize(
    ("name", "expected"), [("mlp", 327_937), ("lstm", 102_913), ("bilstm", 140_033)]
)
def test_parameter_counts_at_reference_sizes(name, expected):
    # Dropout adds no parameters, so the count must not depend on it.
    for dropout in (0.0, 0.5):
        model = build_model(
            name,
            vocab_size=1026,
            embedding_dim=64,
            units=64,
            length=64,
            num_classes=2,
            dropout=dropout,
        )

        assert model.count_params() == expected


@pytest.mark.parametrize(
    "options",
    [
        {"name": "lstm", "pooling": "mean"},
        {"name": "gru", "pooling": "max"},
        {"name": "bilstm", "pooling": "max", "merge_mode": "sum"},
        {"name": "bigru", "pooling": "mean", "merge_mode": "mul"},
        {"name": "bilstm", "merge_mode": "ave", "num_layers": 2},
        {"name": "lstm", "pooling": "max", "embedding_dropout": 0.3},
        {"name": "lstm", "pooling": "mean-max"},
        {"name": "bigru", "pooling": "mean-max", "num_layers": 2},
        {"name": "bigru", "embedding_dropout": 0.5},
        {"name": "transformer", "num_layers": 2, "num_heads": 4},
        {"name": "cnn", "kernel_size": 4},
    ],
    ids=lambda options: "-".join(f"{value}" for value in options.values()),
)
def test_options_build_and_ignore_padding(options, right_pad):
    name = options.pop("name")
    model = build_model(name, length=32, num_classes=2, **TINY, **options)

    _assert_padding_invariant(model, right_pad)


def test_embedding_dropout_drops_whole_channels_in_training_only(right_pad):
    model = build_model("lstm", length=16, num_classes=2, embedding_dropout=0.5, **TINY)
    embedding = model.get_layer("embedding")
    dropout = model.get_layer("embedding_dropout")
    inputs = right_pad(ROWS, 16)
    embedded = embedding(inputs)

    dropped = keras.ops.convert_to_numpy(dropout(embedded, training=True))
    kept = keras.ops.convert_to_numpy(dropout(embedded, training=False))

    np.testing.assert_allclose(kept, keras.ops.convert_to_numpy(embedded))
    zeroed = dropped == 0
    # A dropped channel is zero at every step of its row; a kept one is scaled by 1 / (1 - rate).
    assert zeroed.any() and not zeroed.all()
    np.testing.assert_array_equal(zeroed, np.broadcast_to(zeroed[:, :1, :], zeroed.shape))
    np.testing.assert_allclose(dropped[~zeroed], 2 * kept[~zeroed], rtol=1e-6)
    assert "embedding_dropout" not in [
        layer.name for layer in build_model("lstm", length=16, num_classes=2, **TINY).layers
    ]


def test_mean_max_pooling_concatenates_the_mean_and_the_max(right_pad):
    model = build_model("bilstm", length=16, num_classes=2, pooling="mean-max", **TINY)
    recurrent = keras.Model(model.input, model.get_layer("bilstm_1").output)
    inputs = right_pad(ROWS, 16)
    steps = keras.ops.convert_to_numpy(recurrent(inputs, training=False))
    pooled = keras.ops.convert_to_numpy(
        keras.Model(model.input, model.get_layer("mean_max_pooling").output)(inputs, training=False)
    )

    assert pooled.shape == (len(ROWS), 32)  # 2 directions x 8 units, mean then max
    for row, tokens in enumerate(ROWS):
        real = steps[row, : len(tokens)]
        np.testing.assert_allclose(pooled[row, :16], real.mean(axis=0), atol=1e-5)
        np.testing.assert_allclose(pooled[row, 16:], real.max(axis=0), atol=1e-5)


def test_bidirectional_merge_modes_set_the_width():
    widths = {}
    for merge_mode in ("concat", "sum", "mul", "ave"):
        model = build_model("bigru", length=16, num_classes=2, merge_mode=merge_mode, **TINY)
        widths[merge_mode] = model.get_layer("bigru_1").output.shape[-1]

    assert widths == {"concat": 16, "sum": 8, "mul": 8, "ave": 8}


def test_hashed_bigram_ids_follow_the_formula_and_mask_padding():
    token_ids = np.array([[3, 4, 5, 0, 0], [7, 0, 0, 0, 0]], dtype="int32")

    bigram_ids = keras.ops.convert_to_numpy(HashedBigrams(vocab_size=50, num_buckets=97)(token_ids))

    expected_first = [1 + (3 * 46340 + 4) % 97, 1 + (4 * 46340 + 5) % 97, 0, 0]
    np.testing.assert_array_equal(bigram_ids, [expected_first, [0, 0, 0, 0]])


def test_hashed_bigrams_do_not_overflow_with_large_vocabularies():
    token_ids = np.array([[99_999, 99_998]], dtype="int32")

    bigram_ids = HashedBigrams(vocab_size=100_000, num_buckets=1_000_003)(token_ids)

    expected = 1 + ((99_999 % 46340) * 46340 + 99_998 % 46340) % 1_000_003
    assert keras.ops.convert_to_numpy(bigram_ids)[0, 0] == expected


def test_bag_with_bigrams_trains_and_ignores_padding(right_pad):
    model = build_model("bag", length=16, num_classes=2, bigrams=True, bigram_buckets=64, **TINY)
    without = build_model("bag", length=16, num_classes=2, **TINY)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.02),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    inputs = right_pad(ROWS, 16)

    history = model.fit(inputs, np.array([1, 0, 1, 0]), epochs=4, verbose=0)

    assert model.count_params() == without.count_params() + (64 + 1) * 8
    assert history.history["loss"][-1] < history.history["loss"][0]
    _assert_padding_invariant(model, right_pad)


def test_mixed_precision_keeps_float32_logits_and_scales_the_loss(right_pad):
    model = build_model("bag", length=16, num_classes=2, mixed_precision=True, **TINY)
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))

    assert model.get_layer("embedding").compute_dtype == "float16"
    assert keras.backend.standardize_dtype(_outputs(model, right_pad(ROWS, 16)).dtype) == "float32"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)


def test_recurrent_layers_stay_eligible_for_cudnn():
    model = build_model("bilstm", length=16, num_classes=2, num_layers=2, **TINY)

    recurrent = [
        layer.forward_layer
        for layer in model.layers
        if isinstance(layer, keras.layers.Bidirectional)
    ]
    assert len(recurrent) == 2
    for layer in recurrent:
        assert layer.activation is keras.activations.tanh
        assert layer.recurrent_activation is keras.activations.sigmoid
        assert layer.recurrent_dropout == 0
        assert not layer.unroll
        assert layer.use_cudnn == "auto"
