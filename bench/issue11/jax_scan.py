"""Issue 11 probe: ways of running a masked LSTM's scan on a JAX CPU, forward and backward.

One LSTM direction of `--batch` rows x `--steps` steps x 64 features -> 64 units (the
imdb-bilstm preset's layer), random right-padded lengths, written out in JAX as Keras's masked
loop runs it (each step's input product inside the scan, `where` on the mask); variants:
"keras" (that), "hoisted" (every step's input product before the scan), "unroll N"
(`lax.scan(unroll=N)`), "chunks N" (several scans of N steps carrying the state), and, for two
directions, "two scans" (as Keras's Bidirectional) against "stacked" (both directions in one
scan, batched products; the backward one over each row's real steps reversed). Microseconds per
step (per step of both directions for the last two), best of 5 rounds of 5 calls.

    KERAS_BACKEND=jax python bench/issue11/jax_scan.py
"""

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    import jax
    import jax.numpy as jnp

    batch, steps, features, units = args.batch, args.steps, 64, 64
    rng = np.random.default_rng(0)
    shapes = [(features, 4 * units), (units, 4 * units), (4 * units,)]
    weights = [jnp.asarray(rng.normal(0, 0.1, s).astype("float32")) for s in shapes]
    backward_weights = [w * 1.1 for w in weights]
    x = jnp.asarray(rng.normal(size=(batch, steps, features)).astype("float32"))
    lengths = jnp.asarray(np.minimum(rng.integers(60, 2 * steps, batch), steps).astype("int32"))
    mask = jnp.arange(steps)[None, :] < lengths[:, None]

    def gates_to_state(gates, h, c, m):
        i, f, g, o = jnp.split(gates, 4, -1)
        c2 = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h2 = jax.nn.sigmoid(o) * jnp.tanh(c2)
        h2, c2 = jnp.where(m, h2, h), jnp.where(m, c2, c)
        return (h2, c2), jnp.where(m, h2, 0.0)

    def direction(x, mask, w, *, hoisted=False, unroll=1, chunk=None):
        kernel, recurrent, bias = w
        inputs = jnp.swapaxes(x @ kernel + bias if hoisted else x, 0, 1)

        def step(carry, item):
            (h, c), (xt, m) = carry, item
            gates = (xt if hoisted else xt @ kernel + bias) + h @ recurrent
            return gates_to_state(gates, h, c, m[:, None])

        zeros = jnp.zeros((x.shape[0], units))
        carry, outputs = (zeros, zeros), []
        size = chunk or steps
        for begin in range(0, steps, size):
            part = (inputs[begin : begin + size], mask.T[begin : begin + size])
            carry, out = jax.lax.scan(step, carry, part, unroll=unroll)
            outputs.append(out)
        return jnp.concatenate(outputs)

    def two_scans(x, w, wb):
        forward = direction(x, mask, w)
        backward = direction(jnp.flip(x, 1), jnp.flip(mask, 1), wb)
        return forward.max(0).sum() + backward.max(0).sum()

    def stacked(x, w, wb):
        position = jnp.arange(steps)[None, :]
        reversed_first = jnp.where(mask, lengths[:, None] - 1 - position, position)
        xb = jnp.take_along_axis(x, reversed_first[:, :, None], axis=1)
        inputs = jnp.moveaxis(jnp.stack([x, xb]), 2, 0)
        kernel, recurrent, bias = (jnp.stack([a, b]) for a, b in zip(w, wb, strict=True))

        def step(carry, item):
            (h, c), (xt, m) = carry, item
            gates = (
                jnp.einsum("dbf,dfg->dbg", xt, kernel)
                + jnp.einsum("dbu,dug->dbg", h, recurrent)
                + bias[:, None]
            )
            return gates_to_state(gates, h, c, m[None, :, None])

        zeros = jnp.zeros((2, batch, units))
        _, out = jax.lax.scan(step, (zeros, zeros), (inputs, mask.T))
        return out[:, 0].max(0).sum() + out[:, 1].max(0).sum()

    one = {
        "keras": {},
        "hoisted": {"hoisted": True},
        "unroll 2": {"unroll": 2},
        "unroll 8": {"unroll": 8},
        "chunks 64": {"chunk": 64},
    }
    variants = {
        name: jax.jit(
            jax.value_and_grad(
                lambda x, w, o=options: direction(x, mask, w, **o).max(0).sum(), argnums=(0, 1)
            )
        )
        for name, options in one.items()
    }
    two = {
        "two scans": jax.jit(jax.value_and_grad(two_scans, argnums=(0, 1, 2))),
        "stacked": jax.jit(jax.value_and_grad(stacked, argnums=(0, 1, 2))),
    }
    calls = {name: (fn, (x, weights)) for name, fn in variants.items()}
    calls |= {name: (fn, (x, weights, backward_weights)) for name, fn in two.items()}
    values = {}
    for name, (fn, inputs) in calls.items():
        value, grads = fn(*inputs)
        jax.block_until_ready(grads)
        values[name] = float(value)
    assert np.allclose(values["two scans"], values["stacked"], rtol=1e-5), values
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(5):
        for name, (fn, inputs) in calls.items():
            start = time.perf_counter()
            for _ in range(5):
                jax.block_until_ready(fn(*inputs))
            best[name] = min(best[name], (time.perf_counter() - start) / 5)
    print(f"JAX {jax.__version__}, {jax.devices()[0].platform}, batch {batch}, {steps} steps")
    for name, seconds in best.items():
        print(f"  {name:>10}: {seconds / steps * 1e6:7.1f} us per step")


if __name__ == "__main__":
    main()
