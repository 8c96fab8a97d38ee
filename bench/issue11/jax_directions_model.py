"""Issue 11 probe: imdb-bilstm's shape of model on a JAX CPU, its two directions on two host
devices (`shard_map`, one direction's scan per device) against both on one device.

The model: Embedding(40,002 x 64, mask_zero) -> SpatialDropout1D(0.3) -> both LSTM(64)
directions over the masked steps, max-pooled -> Dropout(0.5) -> Dense(1), Adam 2e-3, batches
of 32, XLA; `--rows` synthetic right-padded rows of length 500 (lengths drawn like IMDB's).
The recurrence is written out in JAX (the backward direction reverses whole rows, padding
included: the timing is what is asked, not Keras's masked semantics). Each variant in its own
process (`--variant`), an untimed epoch first, then `--repeats` epochs; seconds per 1,000 rows.

    for v in one two one two; do KERAS_BACKEND=jax \
        python bench/issue11/jax_directions_model.py --variant $v; done
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from jax_directions import TWO_DEVICES, UNITS, max_pooled_direction, shard_map_and_mesh

EMBEDDING, VOCABULARY, LENGTH, BATCH = 64, 40_002, 500, 32


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variant", choices=("one", "two"), default="two", help="devices")
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("XLA_FLAGS", TWO_DEVICES)
    os.environ["KERAS_BACKEND"] = "jax"
    import jax.numpy as jnp
    import keras
    from jax.sharding import PartitionSpec as P

    shard_map, mesh = shard_map_and_mesh()
    rng = np.random.default_rng(0)
    lengths = np.clip(rng.lognormal(5.2, 0.7, args.rows).astype(int), 1, LENGTH)
    ids = rng.integers(2, VOCABULARY, (args.rows, LENGTH)).astype("int32")
    ids[np.arange(LENGTH)[None] >= lengths[:, None]] = 0
    labels = rng.integers(0, 2, args.rows).astype("float32")[:, None]
    direction = max_pooled_direction

    class BidirectionalMaxPooled(keras.layers.Layer):
        def build(self, shape):
            shapes = ((shape[-1], 4 * UNITS), (UNITS, 4 * UNITS), (4 * UNITS,))
            self.directions = [
                [
                    self.add_weight(
                        shape=s, initializer="glorot_uniform" if len(s) > 1 else "zeros"
                    )
                    for s in shapes
                ]
                for _ in range(2)
            ]

        def call(self, x, mask=None):
            inputs = jnp.stack([x, jnp.flip(x, 1)])
            masks = jnp.stack([mask, jnp.flip(mask, 1)])
            weights = [jnp.stack([a.value, b.value]) for a, b in zip(*self.directions, strict=True)]
            if args.variant == "two":

                def body(inputs, masks, kernel, recurrent, bias):
                    return direction(inputs[0], masks[0], kernel[0], recurrent[0], bias[0])[None]

                outputs = shard_map(
                    body, mesh=mesh, in_specs=(P("direction"),) * 5, out_specs=P("direction")
                )(inputs, masks, *weights)
            else:
                outputs = jnp.stack(
                    [direction(inputs[d], masks[d], *(w[d] for w in weights)) for d in range(2)]
                )
            return jnp.concatenate([outputs[0], outputs[1]], -1)

        def compute_mask(self, x, mask=None):
            return None

    keras.utils.set_random_seed(0)
    tokens = keras.Input((None,), dtype="int32")
    hidden = keras.layers.Embedding(VOCABULARY, EMBEDDING, mask_zero=True)(tokens)
    hidden = keras.layers.SpatialDropout1D(0.3)(hidden)
    hidden = keras.layers.Dropout(0.5)(BidirectionalMaxPooled()(hidden))
    model = keras.Model(tokens, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(keras.optimizers.Adam(2e-3), "binary_crossentropy", jit_compile=True)
    model.fit(ids, labels, batch_size=BATCH, epochs=1, verbose=0)
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.fit(ids, labels, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        seconds.append(time.perf_counter() - start)
    per_thousand = ", ".join(f"{s / args.rows * 1000:.2f}" for s in seconds)
    print(
        f"{args.variant} device(s): s / 1,000 rows {per_thousand} (best {min(seconds) / args.rows * 1000:.2f})"
    )


if __name__ == "__main__":
    main()
