"""Streamed batches and length bucketing: every row once, seeded order, trimmed shapes, and the
same predictions with and without trimming."""

from __future__ import annotations

import numpy as np
import pytest

from textpipe.errors import ConfigError
from textpipe.models import build_model, model_info
from textpipe.stages.batches import (
    bucketing_applies,
    epoch_order_callback,
    plan_batches,
    row_widths,
    sequence_batches,
    width_step,
)
from textpipe.stages.encode import pad_ids
from textpipe.stages.evaluate import predict_probabilities

LENGTH = 160


def padded_rows(count: int, padding: str = "post", seed: int = 0):
    """Rows of 1 to 200 token ids (ids 1..49), laid out as the encode stage does."""
    generator = np.random.default_rng(seed)
    sizes = generator.integers(1, 200, size=count)
    flat = generator.integers(1, 50, size=int(sizes.sum())).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    return pad_ids(flat, offsets, length=LENGTH, padding=padding, truncation="post")


@pytest.mark.parametrize("bucketed", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_row_exactly_once_per_epoch(bucketed: bool, shuffle: bool) -> None:
    lengths = padded_rows(203).lengths if bucketed else None
    for epoch in range(3):
        plan = plan_batches(
            203, length=LENGTH, batch_size=16, lengths=lengths, shuffle=shuffle, epoch=epoch
        )
        assert len(plan.batches) == 13
        assert sorted(len(rows) for rows in plan.batches)[1:] == [16] * 12
        assert np.array_equal(np.sort(plan.row_order), np.arange(203))


def test_same_seed_same_order_and_each_epoch_its_own() -> None:
    lengths = padded_rows(300).lengths

    def order(seed: int, epoch: int) -> np.ndarray:
        plan = plan_batches(
            300, length=LENGTH, batch_size=32, lengths=lengths, shuffle=True, seed=seed, epoch=epoch
        )
        return plan.row_order

    assert np.array_equal(order(7, 2), order(7, 2))
    assert not np.array_equal(order(7, 2), order(7, 3))
    assert not np.array_equal(order(7, 2), order(8, 2))


def test_batches_are_trimmed_to_a_few_rounded_widths() -> None:
    rows = padded_rows(400)
    plan = plan_batches(400, length=LENGTH, batch_size=32, lengths=rows.lengths, shuffle=True)
    step = width_step(LENGTH)
    assert set(plan.widths) <= set(range(step, LENGTH, step)) | {LENGTH}
    assert len(set(plan.widths)) > 1 and min(plan.widths) < LENGTH
    for rows_of_batch, width in zip(plan.batches, plan.widths, strict=True):
        assert rows.lengths[rows_of_batch].max() <= width
        assert row_widths(rows.lengths[rows_of_batch], LENGTH).max() == width
    # a long encode length still gives at most 8 shapes
    assert len(set(row_widths(np.arange(1, 2049), 2048))) == 8
    # Keras reads the first two batches to declare the shapes on TensorFlow: they must differ
    assert plan.widths[0] != plan.widths[1]


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_trimming_drops_only_padding_from_the_padded_side(padding: str) -> None:
    rows = padded_rows(120, padding=padding)
    batches = sequence_batches(
        rows.ids,
        targets=np.arange(120),
        lengths=rows.lengths,
        batch_size=16,
        padding=padding,
        shuffle=True,
    )
    widths = set()
    for index in range(len(batches)):
        x, targets = batches[index]
        widths.add(x.shape[1])
        full = rows.ids[targets]
        kept = full[:, : x.shape[1]] if padding == "post" else full[:, LENGTH - x.shape[1] :]
        assert np.array_equal(x, kept)
        assert (full != 0).sum() == (x != 0).sum()
    assert min(widths) < LENGTH


def test_unbucketed_batches_keep_every_column() -> None:
    rows = padded_rows(50)
    batches = sequence_batches(rows.ids, batch_size=16, shuffle=True)
    assert {batches[index][0].shape[1] for index in range(len(batches))} == {LENGTH}


def test_batches_read_a_memory_mapped_matrix(tmp_path) -> None:
    rows = padded_rows(64)
    np.save(tmp_path / "ids.npy", rows.ids)
    mapped = np.load(tmp_path / "ids.npy", mmap_mode="r")
    batches = sequence_batches(mapped, lengths=rows.lengths, batch_size=16)
    seen = np.concatenate([batches[index][0][:, :1] for index in range(len(batches))])
    assert np.array_equal(seen[:, 0], rows.ids[batches.plan.row_order, 0])


@pytest.mark.parametrize(
    ("name", "padding"),
    [("lstm", "post"), ("bilstm", "post"), ("bag", "pre"), ("cnn", "pre"), ("transformer", "post")],
)
def test_a_masked_model_predicts_the_same_with_and_without_bucketing(
    name: str, padding: str
) -> None:
    import keras

    keras.utils.set_random_seed(3)
    rows = padded_rows(90, padding=padding, seed=1)
    model = build_model(name, vocab_size=50, length=LENGTH, num_classes=3, embedding_dim=8, units=8)
    full = predict_probabilities(model, rows.ids, batch_size=16)
    trimmed = predict_probabilities(
        model, rows.ids, batch_size=16, lengths=rows.lengths, padding=padding
    )
    streamed = predict_probabilities(
        model, rows.ids, batch_size=16, lengths=rows.lengths, padding=padding, streaming=True
    )
    np.testing.assert_allclose(trimmed, full, atol=1e-5)
    np.testing.assert_allclose(streamed, full, atol=1e-5)
    assert np.ptp(full[:, 0]) > 0


def test_which_models_are_bucketed() -> None:
    assert bucketing_applies(model_info("lstm"), padding="post", setting="auto")
    assert bucketing_applies(model_info("bag"), padding="pre", setting="auto")
    # learned positions: padding before the tokens moves them
    assert not bucketing_applies(model_info("transformer"), padding="pre", setting="auto")
    assert bucketing_applies(model_info("transformer"), padding="post", setting="auto")
    assert not bucketing_applies(model_info("lstm"), padding="post", setting="off")
    assert not bucketing_applies(model_info("mlp"), padding="post", setting="auto")
    with pytest.raises(ConfigError, match="not masked"):
        bucketing_applies(model_info("mlp"), padding="post", setting="on")


def test_fit_reads_each_epoch_in_the_order_of_that_epoch() -> None:
    """No batch of an epoch is read before that epoch's order is set (prefetching included)."""
    import keras

    rows = padded_rows(96)
    batches = sequence_batches(
        rows.ids,
        targets=(np.arange(96) % 2).astype(np.float32).reshape(-1, 1),
        lengths=rows.lengths,
        batch_size=16,
        shuffle=True,
        seed=5,
    )
    reads: list[tuple[int, int]] = []
    marks: list[int] = []

    class Recording(type(batches)):
        def __getitem__(self, index: int):
            reads.append((self.epoch, index))
            return super().__getitem__(index)

    batches.__class__ = Recording

    class Mark(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            marks.append(len(reads))

    model = build_model(
        "bag", vocab_size=50, length=LENGTH, num_classes=2, embedding_dim=4, units=4
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(
        batches,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[epoch_order_callback(batches), Mark()],
    )
    assert len(marks) == 3
    for epoch, start in enumerate(marks):
        end = marks[epoch + 1] if epoch + 1 < len(marks) else len(reads)
        assert {read_epoch for read_epoch, _ in reads[start:end]} <= {epoch}


def test_shape_runs_cover_the_plan_in_order_with_one_shape_each() -> None:
    from textpipe.stages.batches import shape_runs

    rows = padded_rows(203)
    for lengths in (None, rows.lengths):
        plan = plan_batches(
            203, length=LENGTH, batch_size=16, lengths=lengths, shuffle=True, seed=2
        )
        runs = shape_runs(plan, 4)
        assert [index for first, stop in runs for index in range(first, stop)] == list(
            range(len(plan.batches))
        )
        for first, stop in runs:
            assert 1 <= stop - first <= 4
            assert len({(len(plan.batches[i]), plan.widths[i]) for i in range(first, stop)}) == 1
        if lengths is None:  # 12 full batches in runs of 4 at most, and the short one alone
            assert len(runs) in (4, 5)


@pytest.mark.parametrize("bucketed", [False, True])
def test_fit_input_gives_the_batches_of_the_dataset_in_its_order(bucketed: bool) -> None:
    """On TensorFlow, the tf.data pipeline of runs yields exactly the PyDataset's batches (a
    short batch and sample weights included), and a new epoch's order after set_epoch."""
    import keras

    from textpipe.stages.batches import fit_input

    rows = padded_rows(203)
    batches = sequence_batches(
        rows.ids,
        targets=(np.arange(203) % 2).astype(np.float32).reshape(-1, 1),
        sample_weights=np.linspace(0.5, 1.5, 203).astype(np.float32),
        lengths=rows.lengths if bucketed else None,
        batch_size=16,
        shuffle=True,
        seed=3,
    )
    pipeline = fit_input(batches)
    if keras.backend.backend() != "tensorflow":
        assert pipeline is batches
        return
    assert int(pipeline.cardinality()) == len(batches) == 13
    for epoch in (0, 1):
        batches.set_epoch(epoch)
        expected = [batches[index] for index in range(len(batches))]
        seen = [tuple(part.numpy() for part in batch) for batch in pipeline]
        assert len(seen) == len(expected)
        for got, want in zip(seen, expected, strict=True):
            assert len(got) == len(want) == 3
            for got_part, want_part in zip(got, want, strict=True):
                np.testing.assert_array_equal(got_part, want_part)
    assert pipeline.element_spec[0].shape.as_list() == [None, None if bucketed else LENGTH]
    # tf.data's autotuner held each epoch's end until its thread next woke (BENCHMARKS.md)
    assert pipeline.options().autotune.enabled is False


@pytest.mark.parametrize("bucketed", [False, True])
def test_fit_on_fit_input_reads_each_epoch_in_the_order_of_that_epoch(bucketed: bool) -> None:
    """As the test above for the PyDataset: with fit_input's pipeline (and its prefetching), the
    rows read during each epoch are exactly that epoch's plan, in its order."""
    import keras

    from textpipe.stages.batches import fit_input

    rows = padded_rows(96)
    batches = sequence_batches(
        rows.ids,
        targets=(np.arange(96) % 2).astype(np.float32).reshape(-1, 1),
        lengths=rows.lengths if bucketed else None,
        batch_size=16,
        shuffle=True,
        seed=5,
    )
    reads: list[np.ndarray] = []
    marks: list[int] = []

    class Recording(type(batches)):
        def _read(self, rows, width):
            reads.append(np.array(rows))
            return super()._read(rows, width)

    batches.__class__ = Recording

    class Mark(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            marks.append(len(reads))

    model = build_model(
        "bag", vocab_size=50, length=LENGTH, num_classes=2, embedding_dim=4, units=4
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(
        fit_input(batches),
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[epoch_order_callback(batches), Mark()],
    )
    assert len(marks) == 3
    for epoch, start in enumerate(marks):
        end = marks[epoch + 1] if epoch + 1 < len(marks) else len(reads)
        batches.set_epoch(epoch)
        expected = np.concatenate(batches.plan.batches)
        np.testing.assert_array_equal(np.concatenate(reads[start:end]), expected)
    # the epochs' orders differ, so reading a stale plan would have been seen above
    batches.set_epoch(0)
    first = np.concatenate(batches.plan.batches)
    batches.set_epoch(1)
    assert not np.array_equal(first, np.concatenate(batches.plan.batches))
