"""Issue 11 probe: Keras's masked loop against the same loop with the input projection hoisted.

On TensorFlow and JAX (CPU) textpipe's masked LSTM/GRU run Keras's own masked loop
(`recurrence_kernel` returns None); the "hoisted" kernel (`fused_rnn.hoisted_recurrence`) runs
the same loop with every step's input product done before it. Epochs alternate between the
three variants after a warm-up each; best of --repeats. Usage:
KERAS_BACKEND=tensorflow python bench/issue11/hoisted.py --models lstm gru bilstm bigru
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from zoo_backends import _variant, synthetic

from textpipe.backend import load_keras
from textpipe.models import build_model
from textpipe.models import layers as zoo_layers
from textpipe.stages.train import _resolve_jit_compile, compile_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="*", default=["lstm", "gru", "bilstm", "bigru"])
    parser.add_argument("--rows", type=int, default=1536)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    keras = load_keras()
    ids, labels = synthetic(args.rows, args.length, 20002)
    default_kernel = zoo_layers.recurrence_kernel
    for name in args.models:
        keras.utils.set_random_seed(0)
        built = build_model(
            name, vocab_size=20002, length=args.length, num_classes=2, units=args.units
        )
        models = {}
        for variant in ("keras-loop", "hoisted", "unmasked"):
            model = _variant(built, "unmasked" if variant == "unmasked" else "textpipe")
            if variant == "hoisted":
                model = keras.models.clone_model(built)
                model.set_weights(built.get_weights())
                zoo_layers.recurrence_kernel = lambda *_, **__: "hoisted"
            compile_model(
                model,
                num_classes=2,
                learning_rate=1e-3,
                jit_compile=_resolve_jit_compile("auto", True, args.length),
            )
            model.fit(ids, labels, batch_size=64, epochs=1, verbose=0)  # traces the kernel
            zoo_layers.recurrence_kernel = default_kernel
            models[variant] = model
        times = {variant: [] for variant in models}
        for _ in range(args.repeats):
            for variant, model in models.items():
                start = time.perf_counter()
                model.fit(ids, labels, batch_size=64, epochs=1, verbose=0)
                times[variant].append(round(time.perf_counter() - start, 2))
        best = {variant: min(runs) for variant, runs in times.items()}
        print(
            json.dumps(
                {
                    "backend": keras.backend.backend(),
                    "model": name,
                    "best_s": best,
                    "hoisted_over_keras_loop": round(best["hoisted"] / best["keras-loop"], 2),
                    "hoisted_over_unmasked": round(best["hoisted"] / best["unmasked"], 2),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
