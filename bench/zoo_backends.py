"""Benchmark: seconds per epoch of every zoo model on the current Keras backend and device.

Synthetic right-padded data shaped like encoded IMDB (vocabulary 20,002, length 256, lengths
drawn like IMDB's: median ~170 tokens), so it needs no dataset and runs anywhere: on a GPU
machine with KERAS_BACKEND=jax or torch, or on a CPU. Each model is compiled as `textpipe
train` compiles it (`_resolve_jit_compile`) and fed as it feeds it (`sequence_batches`,
`fit_input`: on TensorFlow, NumPy arrays would go through Keras's tf.data pipeline, whose
autotuner holds the end of each epoch), and timed over a warm-up epoch and a timed one.

With `--masking`, each recurrent model is timed three ways in one run, alternating: as textpipe
builds it (masked, `FusedLSTM`/`FusedGRU`), with Keras's own LSTM/GRU layers (masked), and
unmasked (`Embedding(mask_zero=False)`, textpipe's layers), each over a warm-up epoch and then
the best of `--repeats` epochs; the ratios to the unmasked epoch come from the same run.

With `--preset imdb-lstm imdb-bilstm`, each preset's model with its real settings (model,
options, batch size, learning rate, seed) is trained on `--rows` seeded rows of its real encode
artifact (in the store under TEXTPIPE_HOME, or `--store`; build it with `textpipe run PRESET
--until encode` and the same TEXTPIPE_MIRROR), through the batches `textpipe train` reads
(`sequence_batches`, `fit_input`): "after", the model as textpipe builds it (`FusedLSTM`), against "before", the same model with
Keras's own masked LSTM layers (textpipe before issue 11); full-length batches (the presets'
default, `train.bucketing=off`) and, with `--bucketing both`, length-bucketed ones too. A
warm-up epoch each, then the best of `--repeats` epochs, alternating; no validation pass.
`--output FILE` appends each preset's figures as a JSON line and `--summarize FILE...` prints
the table of several backends' files, with the ratios.

Usage:
    KERAS_BACKEND=jax python bench/zoo_backends.py [--rows 25000] [--models lstm bilstm ...]
    KERAS_BACKEND=torch python bench/zoo_backends.py --masking --models bilstm --rows 1536 \
        --length 128 --units 32
    TEXTPIPE_MIRROR=... KERAS_BACKEND=tensorflow python bench/zoo_backends.py \
        --preset imdb-lstm imdb-bilstm --rows 2048 --repeats 3 --bucketing both \
        --output tensorflow.jsonl
    python bench/zoo_backends.py --summarize tensorflow.jsonl jax.jsonl torch.jsonl
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

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
    parser.add_argument(
        "--preset", nargs="+", metavar="PRESET", help="presets' epochs, before and after issue 11"
    )
    parser.add_argument("--store", type=Path, help="the store of --preset's encode artifacts")
    parser.add_argument(
        "--bucketing",
        choices=("preset", "both"),
        default="preset",
        help="--preset: the batches the preset trains on, or full-length and bucketed ones",
    )
    parser.add_argument("--output", type=Path, help="--preset: append a JSON line per preset")
    parser.add_argument("--summarize", nargs="+", type=Path, metavar="FILE", help="--output files")
    args = parser.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return
    if args.preset:
        preset_epochs(args)
        return
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
        jit = _resolve_jit_compile("auto", model_info(name).recurrent, args.length)
        compile_model(model, num_classes=2, learning_rate=1e-3, jit_compile=jit)
        batches = train_input(ids, labels, args.batch_size)
        start = time.perf_counter()
        model.fit(batches, epochs=1, verbose=0, shuffle=False)
        warm = time.perf_counter() - start
        start = time.perf_counter()
        model.fit(batches, epochs=1, verbose=0, shuffle=False)
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


def train_input(ids: np.ndarray, labels: np.ndarray, batch_size: int):
    """The batches `textpipe train` reads (`sequence_batches`, `fit_input`), one seeded order.

    On TensorFlow, NumPy arrays given to `fit` go through Keras's own `tf.data` pipeline, whose
    autotuner holds each epoch's end until its thread next wakes (1.27 s, 2.55 s, ...:
    BENCHMARKS.md); `fit_input` turns it off, as `textpipe train` does.
    """
    from textpipe.stages.batches import fit_input, sequence_batches
    from textpipe.stages.train import _targets

    batches = sequence_batches(
        ids, targets=_targets(labels, 2), batch_size=batch_size, shuffle=True, seed=0
    )
    return fit_input(batches)


def _epoch(model, x, y=None, **fit_options) -> Callable[[], None]:
    """One epoch of `model.fit` on the same data at each call."""

    def run() -> None:
        model.fit(x, y, epochs=1, verbose=0, **fit_options)

    return run


def alternate_epochs(
    epochs: dict[str, Callable[[], None]], repeats: int
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """A warm-up epoch of each, then `repeats` rounds of one epoch of each, in turn.

    Returns:
        The warm-up epochs' seconds (compilation included) and each one's timed epochs.
    """
    warmup = {}
    for name, epoch in epochs.items():
        start = time.perf_counter()
        epoch()
        warmup[name] = round(time.perf_counter() - start, 2)
    times: dict[str, list[float]] = {name: [] for name in epochs}
    for _ in range(repeats):
        for name, epoch in epochs.items():
            start = time.perf_counter()
            epoch()
            times[name].append(round(time.perf_counter() - start, 2))
    return warmup, times


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
        jit = _resolve_jit_compile(args.jit_compile, True, args.length)
        epochs = {}
        for variant in variants:
            model = _variant(built, variant)
            compile_model(model, num_classes=2, learning_rate=1e-3, jit_compile=jit)
            epochs[variant] = _epoch(
                model, train_input(ids, labels, args.batch_size), shuffle=False
            )
        _, times = alternate_epochs(epochs, args.repeats)
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


def backend_versions(keras) -> str:
    """Keras's version and its backend library's."""
    backend = keras.backend.backend()
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    library = __import__(module).__version__ if module else "?"
    return f"Keras {keras.__version__}, {backend} {library}"


def preset_rows(name: str, store, rows: int, seed: int = 0):
    """A preset's config, its encode artifact and `rows` seeded rows of its train split (ids,
    labels, lengths; in file order), read from `store`."""
    from textpipe.pipeline import stage_identities
    from textpipe.presets import load_config
    from textpipe.stages.encode import Encoded

    config = load_config(name, store=store)
    artifact = store.get("encode", stage_identities(config)["encode"].key)
    if artifact is None:
        raise SystemExit(
            f"{name}: no encode artifact in {store.root}; build it with "
            f"`textpipe run {name} --until encode` (same TEXTPIPE_HOME and TEXTPIPE_MIRROR, "
            "which decides the source's key)."
        )
    data = Encoded(artifact)
    ids, labels = data.split("train")
    lengths = data.lengths("train")
    chosen = np.arange(len(ids))
    if rows < len(ids):
        chosen = np.sort(np.random.default_rng(seed).choice(len(ids), rows, replace=False))
    return config, data, np.asarray(ids[chosen]), labels[chosen], lengths[chosen]


def preset_model_and_batches(config, data, ids, labels, model_name: str | None = None):
    """A preset's model (or `model_name` with its options), seeded, and one seeded epoch order
    of full-length batches of `ids` (from `preset_rows`)."""
    from textpipe.models import select_model_options
    from textpipe.stages.batches import sequence_batches
    from textpipe.stages.train import _targets

    keras = load_keras()
    params = config.train
    model_name = model_name or params.model
    batches = sequence_batches(
        ids,
        targets=_targets(labels, data.num_classes),
        batch_size=params.batch_size,
        padding=data.padding,
        shuffle=True,
        seed=params.seed,
    )
    keras.utils.set_random_seed(params.seed)
    model = build_model(
        model_name,
        vocab_size=data.vocab_size,
        length=data.length,
        num_classes=data.num_classes,
        **select_model_options(model_name, params.model_options()),
    )
    return model, batches


def compile_like_train(model, config, data, steps_per_epoch: int, *, jit_compile: bool) -> None:
    """Compiles a preset's model as `textpipe train` does: its optimizer settings, its data's
    number of classes, `steps_per_epoch` for a learning-rate schedule."""
    params = config.train
    compile_model(
        model,
        num_classes=data.num_classes,
        learning_rate=params.learning_rate,
        jit_compile=jit_compile,
        learning_rate_decay=params.learning_rate_decay,
        steps_per_epoch=steps_per_epoch,
    )


def preset_epochs(args: argparse.Namespace) -> None:
    """Each preset's epoch, before (Keras's masked LSTM) and after (textpipe's), see the module
    docstring; one JSON line per preset."""
    from textpipe.artifacts import Store
    from textpipe.models import select_model_options
    from textpipe.stages.batches import (
        bucketing_applies,
        fit_input,
        plan_batches,
        sequence_batches,
    )
    from textpipe.stages.train import _targets

    keras = load_keras()
    store = Store(args.store) if args.store else Store()
    print(
        f"backend {keras.backend.backend()}, device {describe_device()}, {platform.machine()}, "
        f"{backend_versions(keras)}",
        flush=True,
    )
    for name in args.preset:
        config, data, ids, labels, lengths = preset_rows(name, store, args.rows)
        params = config.train
        info = model_info(params.model)
        by_default = bucketing_applies(info, padding=data.padding, setting=params.bucketing)
        modes = [by_default] if args.bucketing == "preset" else [False, True]
        if True in modes and not bucketing_applies(info, padding=data.padding, setting="auto"):
            raise SystemExit(f"{name}: model {params.model!r} cannot take bucketed batches.")
        jit = _resolve_jit_compile(params.jit_compile, info.recurrent, data.length)
        epochs, widths = {}, {}
        for bucketed in modes:
            batches = sequence_batches(
                ids,
                targets=_targets(labels, data.num_classes),
                lengths=lengths if bucketed else None,
                batch_size=params.batch_size,
                padding=data.padding,
                shuffle=True,
                seed=params.seed,
            )  # one epoch's order for every epoch and variant: the same batches, no new shapes
            mode = "bucketed" if bucketed else "full"
            widths[mode] = [int(width) for width in batches.plan.widths]
            keras.utils.set_random_seed(params.seed)
            built = build_model(
                params.model,
                vocab_size=data.vocab_size,
                length=data.length,
                num_classes=data.num_classes,
                **select_model_options(params.model, params.model_options()),
            )
            for variant, label in (("textpipe", "after"), ("keras", "before")):
                model = _variant(built, variant)
                compile_like_train(model, config, data, len(batches), jit_compile=jit)
                epochs[f"{label} {mode}"] = _epoch(model, fit_input(batches), shuffle=False)
        warmup, times = alternate_epochs(epochs, args.repeats)
        best = {run: min(seconds) for run, seconds in times.items()}
        per_1000 = {run: round(seconds * 1000 / len(ids), 3) for run, seconds in best.items()}
        full_rows = len(data.ids("train"))
        whole = plan_batches(
            full_rows,
            length=data.length,
            batch_size=params.batch_size,
            lengths=data.lengths("train"),
            shuffle=True,
            seed=params.seed,
        )
        row = {
            "preset": name,
            "backend": keras.backend.backend(),
            "versions": backend_versions(keras),
            "model": params.model,
            "rows": len(ids),
            "train_rows": full_rows,
            "length": data.length,
            "batch_size": params.batch_size,
            "median_length": int(np.median(lengths)),
            "bucketing_by_default": by_default,
            "mean_width": {mode: round(float(np.mean(w)), 1) for mode, w in widths.items()},
            # bucketed over the whole split (a sample's batches mix more widths)
            "train_split_bucketed_mean_width": round(float(np.mean(whole.widths)), 1),
            "jit_compile": bool(jit),
            "warmup_s": warmup,
            "epochs_s": times,
            "best_s": best,
            "s_per_1000_rows": per_1000,
            "extrapolated_epoch_s": {
                run: round(seconds * full_rows / 1000, 1) for run, seconds in per_1000.items()
            },
            "before_over_after": {
                mode: round(best[f"before {mode}"] / best[f"after {mode}"], 2) for mode in widths
            },
        }
        print(json.dumps(row), flush=True)
        if args.output:
            with args.output.open("a") as file:
                file.write(json.dumps(row) + "\n")


def summarize(files: list[Path]) -> None:
    """The table of `--preset --output` lines from several backends: seconds per 1,000 rows,
    before / after on each backend, each backend's after over the fastest backend's after."""
    rows = [json.loads(line) for path in files for line in path.read_text().splitlines() if line]
    print(
        "| preset | batches | backend | after (s / 1,000 rows) | before | before / after "
        "| after / fastest after | full epoch after, extrapolated (s) | before, extrapolated |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for preset in dict.fromkeys(row["preset"] for row in rows):
        runs = [row for row in rows if row["preset"] == preset]
        for mode in dict.fromkeys(mode for row in runs for mode in row["before_over_after"]):
            measured = [row for row in runs if mode in row["before_over_after"]]
            fastest = min(row["s_per_1000_rows"][f"after {mode}"] for row in measured)
            for row in measured:
                after, before = (row["s_per_1000_rows"][f"{v} {mode}"] for v in ("after", "before"))
                extrapolated = row["extrapolated_epoch_s"]
                print(
                    f"| {preset} | {mode} | {row['backend']} | {after:.2f} | {before:.2f} "
                    f"| **{row['before_over_after'][mode]:.2f}** | {after / fastest:.2f} "
                    f"| {extrapolated[f'after {mode}']:.0f} | {extrapolated[f'before {mode}']:.0f} |"
                )


if __name__ == "__main__":
    main()
