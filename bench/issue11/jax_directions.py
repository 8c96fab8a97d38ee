"""Issue 11 probe: a bidirectional LSTM's two directions on two JAX host devices, one each.

On a JAX CPU one scan runs on one core (XLA's loop; its small matrix products are not split
across threads), which is why a JAX BiLSTM epoch is slower than TensorFlow's, whose fused op
runs each direction on its own core. This probe asks whether two host devices
(`--xla_force_host_platform_device_count=2`, set here unless XLA_FLAGS is given) can run the
two directions side by side: the forward and the reversed inputs stacked on a device axis,
`shard_map` running one direction's scan per device, against the two scans on one device
(as Keras's Bidirectional runs them). Forward and backward (value and gradient), microseconds
per step, best of 5 rounds of 5 calls. The directions here reverse whole rows (the timing is
what is asked, not Keras's masked semantics).

    KERAS_BACKEND=jax python bench/issue11/jax_directions.py [--batch 32] [--steps 500]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

UNITS = 64
TWO_DEVICES = "--xla_force_host_platform_device_count=2"


def shard_map_and_mesh():
    """`shard_map` and a mesh of two JAX devices on the axis "direction"; exits in one line
    when there are fewer (XLA_FLAGS must keep --xla_force_host_platform_device_count=2)."""
    import jax
    from jax.sharding import Mesh

    try:
        from jax import shard_map
    except ImportError:  # older JAX
        from jax.experimental.shard_map import shard_map
    if len(jax.devices()) < 2:
        raise SystemExit(f"needs two JAX devices: keep {TWO_DEVICES} in XLA_FLAGS")
    return shard_map, Mesh(np.array(jax.devices()[:2]), ("direction",))


def max_pooled_direction(x, mask, kernel, recurrent, bias):
    """One masked LSTM direction (Keras's gate order), written as Keras's masked loop runs
    it, max-pooled over each row's real steps: `(batch, UNITS)`."""
    import jax
    import jax.numpy as jnp

    def step(carry, item):
        (h, c), (xt, m) = carry, item
        i, f, g, o = jnp.split(xt @ kernel + bias + h @ recurrent, 4, -1)
        c2 = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h2 = jax.nn.sigmoid(o) * jnp.tanh(c2)
        m = m[:, None]
        return (jnp.where(m, h2, h), jnp.where(m, c2, c)), jnp.where(m, h2, -1e9)

    zeros = jnp.zeros((x.shape[0], UNITS), x.dtype) + 0 * x[:, 0, :1]  # shard_map's types
    _, outputs = jax.lax.scan(step, (zeros, zeros), (jnp.swapaxes(x, 0, 1), mask.T))
    return outputs.max(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    os.environ.setdefault("XLA_FLAGS", TWO_DEVICES)
    import jax
    import jax.numpy as jnp
    from jax.sharding import PartitionSpec as P

    shard_map, mesh = shard_map_and_mesh()
    batch, steps, features, units = args.batch, args.steps, 64, UNITS
    rng = np.random.default_rng(0)
    shapes = [(features, 4 * units), (units, 4 * units), (4 * units,)]
    forward_weights = [jnp.asarray(rng.normal(0, 0.1, s).astype("float32")) for s in shapes]
    backward_weights = [w * 1.1 for w in forward_weights]
    x = jnp.asarray(rng.normal(size=(batch, steps, features)).astype("float32"))
    lengths = np.minimum(rng.integers(60, 2 * steps, batch), steps)
    mask = jnp.asarray(np.arange(steps)[None, :] < lengths[:, None])

    def direction(x, mask, kernel, recurrent, bias):
        return max_pooled_direction(x, mask, kernel, recurrent, bias).sum()

    def one_device(x, forward, backward):
        return direction(x, mask, *forward) + direction(
            jnp.flip(x, 1), jnp.flip(mask, 1), *backward
        )

    def two_devices(x, forward, backward):
        stacked = [jnp.stack([a, b]) for a, b in zip(forward, backward, strict=True)]
        inputs = jnp.stack([x, jnp.flip(x, 1)])
        masks = jnp.stack([mask, jnp.flip(mask, 1)])

        def body(inputs, masks, kernel, recurrent, bias):
            return direction(inputs[0], masks[0], kernel[0], recurrent[0], bias[0])[None]

        per_direction = shard_map(
            body, mesh=mesh, in_specs=(P("direction"),) * 5, out_specs=P("direction")
        )(inputs, masks, *stacked)
        return per_direction.sum()

    calls = {
        "two scans, one device": jax.jit(jax.value_and_grad(one_device, argnums=(0, 1, 2))),
        "one scan per device": jax.jit(jax.value_and_grad(two_devices, argnums=(0, 1, 2))),
    }
    values = {}
    for name, function in calls.items():
        value, grads = function(x, forward_weights, backward_weights)
        jax.block_until_ready(grads)
        values[name] = float(value)
    first, second = values.values()
    assert np.isclose(first, second, rtol=1e-5), values
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(5):
        for name, function in calls.items():
            start = time.perf_counter()
            for _ in range(5):
                jax.block_until_ready(function(x, forward_weights, backward_weights))
            best[name] = min(best[name], (time.perf_counter() - start) / 5)
    print(
        f"JAX {jax.__version__}, {len(jax.devices())} {jax.devices()[0].platform} devices, "
        f"batch {batch}, {steps} steps, XLA_FLAGS={os.environ['XLA_FLAGS']!r}"
    )
    for name, seconds in best.items():
        print(f"  {name:>22}: {seconds / steps * 1e6:7.1f} us per step")


if __name__ == "__main__":
    main()
