"""Benchmark: seconds per epoch of every zoo model on the current Keras backend and device.

Synthetic right-padded data shaped like encoded IMDB (vocabulary 20,002, length 256, lengths
drawn like IMDB's: median ~170 tokens), so it needs no dataset and runs anywhere: on a GPU
machine with KERAS_BACKEND=jax or torch, or on a CPU. Each model is compiled as `textpipe
train` compiles it (XLA on, except on torch) and timed over a warm-up epoch and a timed one.

With `--masking`, each recurrent model is timed three ways in one run, alternating: as textpipe
builds it (masked, `FusedLSTM`/`FusedGRU`), with Keras's own LSTM/GRU layers (masked), and
unmasked (`Embedding(mask_zero=False)`, textpipe's layers), each over a warm-up epoch and then
the best of `--repeats` epochs; the ratios to the unmasked epoch come from the same run.

Usage:
    KERAS_BACKEND=jax python bench/zoo_backends.py [--rows 25000] [--models lstm bilstm ...]
    KERAS_BACKEND=torch python bench/zoo_backends.py --masking --models bilstm --rows 1536 \
        --length 128 --units 32
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
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--masking", action="store_true", help="masked against unmasked epochs")
    parser.add_argument("--repeats", type=int, default=2, help="timed epochs (--masking)")
    parser.add_argument(
        "--jit-compile", choices=("auto", "on", "off"), default="auto", help="as `textpipe train`"
    )
    args = parser.parse_args()
    if args.masking:
        masking_comparison(args)
        return
    keras = load_keras()
    ids, labels = synthetic(args.rows, args.length, args.vocab_size)
    device = describe_device()
    print(
        f"backend {keras.backend.backend()}, device {device}, {platform.machine()}, Keras {keras.__version__}"
    )
    results = []
    for name in args.models:
        keras.utils.set_random_seed(0)
        model = build_model(
            name,
            vocab_size=args.vocab_size,
            length=args.length,
            num_classes=2,
            units=args.units,
            embedding_dim=args.embedding_dim,
        )
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


def _variant(model, variant: str):
    """The model as built (`textpipe`), with Keras's own LSTM/GRU (`keras`), or `unmasked`."""
    import keras

    from textpipe.models.layers import FusedGRU, FusedLSTM

    if variant == "textpipe":
        return model
    plain = {FusedLSTM: keras.layers.LSTM, FusedGRU: keras.layers.GRU}

    def clone(layer):
        config = layer.get_config()
        if variant == "unmasked" and isinstance(layer, keras.layers.Embedding):
            return keras.layers.Embedding.from_config({**config, "mask_zero": False})
        if variant == "keras" and isinstance(layer, keras.layers.Bidirectional):
            inner = layer.forward_layer
            return keras.layers.Bidirectional(
                plain[type(inner)].from_config(inner.get_config()),
                merge_mode=layer.merge_mode,
                name=layer.name,
            )
        if variant == "keras" and type(layer) in plain:
            return plain[type(layer)].from_config(config)
        return layer.__class__.from_config(config)

    def call(layer, *args, **kwargs):
        # A functional model records the mask each layer was called with and a clone replays
        # it, so the unmasked variant must drop it: without this its recurrent layers still
        # ran masked (its figures before this fix measured the masked layer twice).
        if variant == "unmasked":
            kwargs.pop("mask", None)
        return layer(*args, **kwargs)

    cloned = keras.models.clone_model(model, clone_function=clone, call_function=call)
    cloned.set_weights(model.get_weights())
    return cloned


def masking_comparison(args: argparse.Namespace) -> None:
    keras = load_keras()
    ids, labels = synthetic(args.rows, args.length, args.vocab_size)
    device = describe_device()
    lengths = (ids != 0).sum(axis=1)
    print(
        f"backend {keras.backend.backend()}, device {device}, {platform.machine()}, Keras {keras.__version__}, "
        f"{args.rows} rows of length {args.length} (real tokens: median {int(np.median(lengths))}, "
        f"{(lengths == args.length).mean():.0%} of rows without padding), batch {args.batch_size}"
    )
    variants = ("textpipe", "keras", "unmasked")
    for name in args.models:
        if not model_info(name).recurrent:
            continue
        keras.utils.set_random_seed(0)
        built = build_model(
            name,
            vocab_size=args.vocab_size,
            length=args.length,
            num_classes=2,
            units=args.units,
            embedding_dim=args.embedding_dim,
        )
        jit = _resolve_jit_compile(args.jit_compile, True)
        models = {}
        for variant in variants:
            models[variant] = _variant(built, variant)
            compile_model(models[variant], num_classes=2, learning_rate=1e-3, jit_compile=jit)
            models[variant].fit(ids, labels, batch_size=args.batch_size, epochs=1, verbose=0)
        times = {variant: [] for variant in variants}
        for _ in range(args.repeats):
            for variant in variants:
                start = time.perf_counter()
                models[variant].fit(ids, labels, batch_size=args.batch_size, epochs=1, verbose=0)
                times[variant].append(round(time.perf_counter() - start, 2))
        best = {variant: min(runs) for variant, runs in times.items()}
        row = {
            "model": name,
            "units": args.units,
            "epochs_s": times,
            "best_s": best,
            "masked_over_unmasked": round(best["textpipe"] / best["unmasked"], 2),
            "keras_masked_over_unmasked": round(best["keras"] / best["unmasked"], 2),
            "jit_compile": bool(jit),
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
