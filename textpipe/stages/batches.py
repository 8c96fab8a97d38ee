"""Batches of id rows streamed from (memory-mapped) encode arrays, for train, evaluate, predict.

One input pipeline for every Keras backend: a ``keras.utils.PyDataset`` whose batches are read
from the rows they need, so the id matrix is never loaded whole. Training reshuffles every
epoch from ``(seed, epoch)``, so the same seed gives the same batch order, and a resumed run the
order an uninterrupted one would have had.

Length bucketing (for models whose prediction ignores padding): rows are grouped by their true
length, rounded up to a few widths, and each batch keeps only as many columns as its longest
row needs (the first columns for right padding, the last for left padding), as tf.data's
``bucket_by_sequence_length`` does. Rounding keeps the number of batch shapes small, because
each new shape costs a trace and an XLA compilation.

``plan_batches`` is plain NumPy (no Keras); ``sequence_batches`` builds the ``PyDataset``.

On TensorFlow, Keras hands a ``PyDataset`` to ``tf.data.Dataset.from_generator``, one Python call
(about 0.3 ms) per batch: 12-28% of a ``bag`` epoch. ``fit_input`` gives TensorFlow the same
batches, in the same order, read a run of up to ``RUN_BATCHES`` consecutive batches of one
shape at a time and split again by ``unbatch`` (in C++).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from textpipe.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

    from textpipe.models.registry import ModelInfo

MIN_WIDTH_STEP = 32
MAX_WIDTHS = 8
# Batches read in one Python call by fit_input on TensorFlow (about 1 MB of ids at length 256).
RUN_BATCHES = 16
# Batches fit_input keeps ready ahead of the model on TensorFlow.
PREFETCH_BATCHES = 2


def width_step(length: int) -> int:
    """Batch widths are multiples of this: 32, or more so that there are at most 8 of them."""
    return max(MIN_WIDTH_STEP, math.ceil(length / MAX_WIDTHS / MIN_WIDTH_STEP) * MIN_WIDTH_STEP)


def row_widths(lengths: np.ndarray, length: int) -> np.ndarray:
    """Each row's true length rounded up to a multiple of ``width_step``, at most ``length``."""
    import numpy as np

    step = width_step(length)
    rounded = -(-np.maximum(np.asarray(lengths, dtype=np.int64), 1) // step) * step
    return np.minimum(rounded, length)


@dataclass(frozen=True)
class BatchPlan:
    """Which rows make each batch (sorted, for locality in the file) and the columns it keeps."""

    batches: list[np.ndarray]
    widths: np.ndarray

    @property
    def row_order(self) -> np.ndarray:
        """Every row, in the order the batches deliver them."""
        import numpy as np

        return np.concatenate(self.batches) if self.batches else np.zeros(0, dtype=np.int64)


def plan_batches(
    num_rows: int,
    *,
    length: int,
    batch_size: int,
    lengths: np.ndarray | None = None,
    shuffle: bool = False,
    seed: int = 0,
    epoch: int = 0,
) -> BatchPlan:
    """The batches of one epoch.

    Args:
        num_rows: rows in the split.
        length: the columns of the id matrix.
        batch_size: rows per batch (the last batch may have fewer).
        lengths: each row's true length; given, rows are bucketed by length and each batch is
            trimmed to its longest row. None: every batch keeps every column.
        shuffle: draw a new order from ``(seed, epoch)``; otherwise rows keep their order
            (bucketed: ordered by width, then by position).
        seed: the shuffling seed.
        epoch: the epoch (each has its own order).

    Returns:
        The plan: ``ceil(num_rows / batch_size)`` batches, every row exactly once.
    """
    import numpy as np

    generator = np.random.default_rng([seed, epoch]) if shuffle else None
    if lengths is None:
        order = generator.permutation(num_rows) if generator is not None else np.arange(num_rows)
        widths_of_rows = None
    else:
        widths_of_rows = row_widths(lengths, length)
        if generator is not None:
            # shuffled within each width, widths in increasing order
            order = np.lexsort((generator.random(num_rows), widths_of_rows))
        else:
            order = np.argsort(widths_of_rows, kind="stable")
    batches = [
        np.sort(order[start : start + batch_size]) for start in range(0, num_rows, batch_size)
    ]
    if widths_of_rows is None:
        widths = np.full(len(batches), length, dtype=np.int64)
    else:
        widths = np.array([int(widths_of_rows[rows].max()) for rows in batches], dtype=np.int64)
    if generator is not None:
        permutation = generator.permutation(len(batches))
        batches = [batches[index] for index in permutation]
        widths = widths[permutation]
    batches, widths = _vary_first_two(batches, widths)
    return BatchPlan(batches=batches, widths=widths)


def _vary_first_two(
    batches: list[np.ndarray], widths: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """Puts a batch of another width second when the first two have the same width.

    On TensorFlow, Keras reads the shape of the first two batches of a PyDataset to declare the
    shapes of all of them: two equal widths would declare that width fixed, and a later
    batch of another width would fail.
    """
    if len(widths) < 3 or widths[0] != widths[1]:
        return batches, widths
    others = [index for index in range(2, len(widths)) if widths[index] != widths[0]]
    if not others:
        return batches, widths
    swap = others[0]
    batches = list(batches)
    widths = widths.copy()
    batches[1], batches[swap] = batches[swap], batches[1]
    widths[1], widths[swap] = widths[swap], widths[1]
    return batches, widths


def shape_runs(plan: BatchPlan, limit: int) -> list[tuple[int, int]]:
    """Consecutive batches of a plan with the same row count and width, at most ``limit`` per
    run, as ``(first, stop)`` index ranges that cover the plan in order."""
    runs = []
    first = 0
    count = len(plan.batches)
    while first < count:
        stop = first + 1
        size, width = len(plan.batches[first]), plan.widths[first]
        while (
            stop < count
            and stop - first < limit
            and len(plan.batches[stop]) == size
            and plan.widths[stop] == width
        ):
            stop += 1
        runs.append((first, stop))
        first = stop
    return runs


def trim(rows: np.ndarray, width: int, padding: str) -> np.ndarray:
    """The columns a batch keeps: the first ``width`` (right padding) or the last (left)."""
    import numpy as np

    if width >= rows.shape[1]:
        return rows
    kept = rows[:, :width] if padding == "post" else rows[:, rows.shape[1] - width :]
    return np.ascontiguousarray(kept)


def bucketing_applies(info: ModelInfo, *, padding: str, setting: str) -> bool:
    """Whether batches are bucketed by length and trimmed, for a train setting.

    ``auto``: for the zoo's masked models, whose prediction does not depend on how much
    padding follows (or, unless they learn positions, precedes) a review. A custom builder's
    model is not known to ignore padding, so only ``on`` trims its batches; an unmasked model
    (mlp) reads every position and never is.

    Raises:
        ConfigError: ``on`` for an unmasked model.
    """
    from textpipe.models import is_custom_spec

    if setting == "off":
        return False
    if not info.masked:
        if setting == "on":
            raise ConfigError(
                f"train.bucketing=on: model {info.name!r} is not masked (it reads every "
                "position, padding included), so its batches cannot be trimmed. Use "
                "train.bucketing=auto or off."
            )
        return False
    if setting == "on":
        return True
    if is_custom_spec(info.name):
        return False
    return padding == "post" or not info.positional


@lru_cache(maxsize=1)
def _dataset_class() -> type:
    from textpipe.backend import load_keras

    keras = load_keras()

    class SequenceBatches(keras.utils.PyDataset):
        """Batches of id rows (with targets and sample weights when given), read on demand."""

        def __init__(
            self,
            ids: np.ndarray,
            *,
            targets: np.ndarray | None,
            sample_weights: np.ndarray | None,
            lengths: np.ndarray | None,
            batch_size: int,
            padding: str,
            shuffle: bool,
            seed: int,
            epoch: int,
        ) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.ids, self.targets, self.sample_weights = ids, targets, sample_weights
            self.lengths, self.batch_size, self.padding = lengths, batch_size, padding
            self.shuffle, self.seed = shuffle, seed
            self.epoch = -1
            self.set_epoch(epoch)

        def set_epoch(self, epoch: int) -> None:
            """Orders the batches of an epoch (the same epoch and seed, the same order)."""
            if epoch == self.epoch or (not self.shuffle and self.epoch >= 0):
                return
            self.epoch = epoch
            self.plan = plan_batches(
                len(self.ids),
                length=self.ids.shape[1],
                batch_size=self.batch_size,
                lengths=self.lengths,
                shuffle=self.shuffle,
                seed=self.seed,
                epoch=epoch,
            )

        def __len__(self) -> int:
            return len(self.plan.batches)

        def __getitem__(self, index: int) -> Any:
            return self._read(self.plan.batches[index], int(self.plan.widths[index]))

        def _read(self, rows: np.ndarray, width: int) -> tuple[np.ndarray, ...]:
            x = trim(self.ids[rows], width, self.padding)
            if self.targets is None:
                return (x,)
            if self.sample_weights is None:
                return x, self.targets[rows]
            return x, self.targets[rows], self.sample_weights[rows]

        def runs(self, limit: int = RUN_BATCHES) -> Any:
            """The batches of the current plan, in order, ``limit`` batches of one shape at a
            time: each array stacked as ``[batches, rows, ...]``."""
            import numpy as np

            plan = self.plan  # the epoch's plan when the iteration starts
            for first, stop in shape_runs(plan, limit):
                rows = np.concatenate(plan.batches[first:stop])
                arrays = self._read(rows, int(plan.widths[first]))
                yield tuple(array.reshape(stop - first, -1, *array.shape[1:]) for array in arrays)

    return SequenceBatches


def sequence_batches(
    ids: np.ndarray,
    *,
    targets: np.ndarray | None = None,
    sample_weights: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
    batch_size: int,
    padding: str = "post",
    shuffle: bool = False,
    seed: int = 0,
    epoch: int = 0,
) -> Any:
    """A ``keras.utils.PyDataset`` over the rows of ``ids`` (a memory-mapped array is read per
    batch). ``lengths`` turns length bucketing on; see ``plan_batches``.

    Training datasets call ``set_epoch`` at each epoch's start (``EpochOrder``).
    """
    return _dataset_class()(
        ids,
        targets=targets,
        sample_weights=sample_weights,
        lengths=lengths,
        batch_size=batch_size,
        padding=padding,
        shuffle=shuffle,
        seed=seed,
        epoch=epoch,
    )


def fit_input(dataset: Any) -> Any:
    """What ``model.fit`` should read for a ``sequence_batches`` dataset: on TensorFlow, a
    ``tf.data`` pipeline of the same batches in the same order (see the module's docstring),
    read again from the dataset's current plan at each epoch; on the other backends, whose
    trainers iterate a ``PyDataset`` without ``from_generator``, the dataset itself."""
    from textpipe.backend import load_keras

    keras = load_keras()
    if keras.backend.backend() != "tensorflow":
        return dataset
    import tensorflow as tf

    # [batches, rows, ...]: every dimension of a batch as its first batch has it, but the
    # width of bucketed batches, which varies (Keras declares the same from a PyDataset)
    signature = tuple(
        tf.TensorSpec((None, None, *array.shape[1:]), tf.as_dtype(array.dtype))
        for array in dataset[0]
    )
    if dataset.lengths is not None:
        signature = (tf.TensorSpec((None, None, None), signature[0].dtype), *signature[1:])
    pipeline = tf.data.Dataset.from_generator(dataset.runs, output_signature=signature)
    pipeline = pipeline.unbatch().prefetch(PREFETCH_BATCHES)
    # tf.data's autotuner would end each pass over the batches only when its thread next wakes,
    # at 10 ms, 30 ms, 70 ms, ..., 2.55 s, 5.11 s, 10.23 s after the pass began (its period
    # doubles): measured here, epochs of 7.4-8.5 s took 10.23-10.27 s with it
    # (BENCHMARKS.md). Nothing in this pipeline has a setting for it to tune.
    options = tf.data.Options()
    options.autotune.enabled = False
    pipeline = pipeline.with_options(options)
    return pipeline.apply(tf.data.experimental.assert_cardinality(len(dataset)))


def epoch_order_callback(dataset: Any) -> Any:
    """A callback that gives the dataset the epoch about to run, so its order depends on the
    epoch number itself (a resumed run sees the batches an uninterrupted one would)."""
    from textpipe.backend import load_keras

    keras = load_keras()

    class EpochOrder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            dataset.set_epoch(epoch)

    return EpochOrder()
