"""Benchmark: seconds per epoch of every zoo model on the current Keras backend and device.

Synthetic right-padded data shaped like encoded IMDB (vocabulary 20,002, length 256, lengths
drawn like IMDB's: median ~170 tokens), so it needs no dataset and runs anywhere: on a GPU
machine with KERAS_BACKEND=jax or torch, or on a CPU. Each model is compiled as `textpipe
train` compiles it (XLA on, except on torch) and timed over a warm-up epoch and a timed one.

Usage:
    KERAS_BACKEND=jax python bench/zoo_backends.py [--rows 25000] [--models lstm bilstm ...]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from textpipe.backend import describe_device, load_keras
from textpipe.models import MODEL_NAMES, build_model, model_info
from textpipe.stages.train import _resolve_jit_compile, compile_model


def synthetic(
    rows: int, length: int, vocab_size: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(mean=5.1, sigma=0.6, size=rows).astype(int), 1, length)
    ids = rng.integers(2, vocab_size, size=(rows, length), dtype=np.int32)
    ids[np.arange(length)[None, :] >= lengths[:, None]] = 0
    labels = rng.integers(0, 2, size=rows).astype(np.float32).reshape(-1, 1)
    return ids, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=25000)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--vocab-size", type=int, default=20002)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--models", nargs="*", default=list(MODEL_NAMES))
    args = parser.parse_args()
    keras = load_keras()
    ids, labels = synthetic(args.rows, args.length, args.vocab_size)
    device = describe_device()
    print(
        f"backend {keras.backend.backend()}, device {device}, {platform.machine()}, Keras {keras.__version__}"
    )
    results = []
    for name in args.models:
        keras.utils.set_random_seed(0)
        model = build_model(name, vocab_size=args.vocab_size, length=args.length, num_classes=2)
        jit = _resolve_jit_compile("auto", model_info(name).recurrent)
        compile_model(model, num_classes=2, learning_rate=1e-3, jit_compile=jit)
        start = time.perf_counter()
        model.fit(ids, labels, batch_size=args.batch_size, epochs=1, verbose=0)
        warm = time.perf_counter() - start
        start = time.perf_counter()
        model.fit(ids, labels, batch_size=args.batch_size, epochs=1, verbose=0)
        epoch = time.perf_counter() - start
        row = {
            "model": name,
            "first_epoch_s": round(warm, 2),
            "epoch_s": round(epoch, 2),
            "jit_compile": bool(model.jit_compile),
            "params": int(model.count_params()),
        }
        results.append(row)
        print(json.dumps(row), flush=True)
    print(
        f"| model | params | first epoch (s) | epoch (s) | XLA |  ({keras.backend.backend()}, {device}, {args.rows} rows)"
    )
    print("|---|---|---|---|---|")
    for row in results:
        print(
            f"| {row['model']} | {row['params']:,} | {row['first_epoch_s']} | {row['epoch_s']} | {row['jit_compile']} |"
        )


if __name__ == "__main__":
    main()
