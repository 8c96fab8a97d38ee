"""Issue 11 probe: TensorFlow's fused LSTM op (`fused_rnn.tf_block_lstm`) with each batch's rows
sorted by length before it is split into parts, so that each part stops at its own longest row.

Forward and backward of the LSTM alone (no model), on the lengths of a preset's encoded reviews
(each batch of `--batch` rows drawn with seed 0 from `--rows` rows, as `zoo_backends.py
--preset` draws them), random inputs and weights: `(batch, length, 64) -> 64 units`. Variants
(parts, sorted) alternate batch by batch; total seconds over the batches, best of --repeats.

    TEXTPIPE_HOME=/tmp/preset-epochs python bench/issue11/tf_parts.py --preset imdb-lstm
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="imdb-lstm")
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=["2", "2s", "4s", "8s", "16s"])
    args = parser.parse_args()
    import tensorflow as tf
    from zoo_backends import preset_rows

    from textpipe.artifacts import Store
    from textpipe.models import fused_rnn

    _, _, ids, _, _ = preset_rows(args.preset, Store(), args.rows)
    steps = ids.shape[1]
    lengths = (ids != 0).sum(axis=1).astype(np.int32)
    batches = [lengths[i : i + args.batch] for i in range(0, len(lengths), args.batch)]
    rng = np.random.default_rng(0)
    features, units = 64, args.units
    weights = [
        tf.Variable(rng.normal(0, 0.1, shape).astype("float32"))
        for shape in ((features, 4 * units), (units, 4 * units), (4 * units,))
    ]
    inputs = tf.constant(rng.normal(0, 1, (args.batch, steps, features)).astype("float32"))

    def variant(name: str):
        shards, sort = int(name.rstrip("s")), name.endswith("s")

        @tf.function(jit_compile=False, reduce_retracing=True)
        def step(sequences, lengths):
            with tf.GradientTape() as tape:
                tape.watch(sequences)
                zeros = tf.zeros([tf.shape(sequences)[0], units])
                processed, _, final = fused_rnn.tf_block_lstm(
                    sequences, [zeros, zeros], lengths, weights, shards=shards, sort_rows=sort
                )
                mask = tf.sequence_mask(lengths, tf.shape(sequences)[1], dtype=tf.float32)
                loss = tf.reduce_sum(processed * mask[:, :, None]) + tf.reduce_sum(final[1])
            grads = tape.gradient(loss, [sequences, *weights])
            return loss, [tf.convert_to_tensor(grad) for grad in grads]

        return step

    steps_fn = {name: variant(name) for name in args.variants}
    reference = None
    for name, fn in steps_fn.items():  # warm-up and a check that every variant agrees
        loss, grads = fn(inputs[: len(batches[0])], tf.constant(batches[0]))
        if reference is None:
            reference = (loss, grads)
        np.testing.assert_allclose(loss.numpy(), reference[0].numpy(), rtol=1e-4)
        for got, want in zip(grads, reference[1], strict=True):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-3, atol=1e-3)
    times = {name: [] for name in steps_fn}
    for _ in range(args.repeats):
        totals = dict.fromkeys(steps_fn, 0.0)
        for batch in batches:
            for name, fn in steps_fn.items():
                start = time.perf_counter()
                loss, grads = fn(inputs[: len(batch)], tf.constant(batch))
                _ = grads[0].numpy()
                totals[name] += time.perf_counter() - start
        for name, total in totals.items():
            times[name].append(round(total, 3))
    print(
        f"{args.preset}: {len(batches)} batches of {args.batch}, {steps} steps, lengths median "
        f"{int(np.median(lengths))}, {units} units; seconds over the batches, each repeat"
    )
    base = min(times[args.variants[0]])
    for name, runs in times.items():
        print(f"  {name:>4}: best {min(runs):.3f}  {runs}  {args.variants[0]} / this {base / min(runs):.2f}")


if __name__ == "__main__":
    main()
