"""Benchmark: streamed (memory-mapped) batches against in-memory arrays, and length bucketing.

Each measurement is a separate process under ``/usr/bin/time -v`` (peak RSS), on the IMDB
encode artifact of the imdb-lstm preset, built from the mirror, or on the one ``--encoded``
names (the figures in BENCHMARKS.md: vocabulary 20,000, length 256, right-padded). The models
take the imdb-lstm preset's options that they use:

  (a) one epoch of ``bag`` and of ``lstm``: ``model.fit`` on the whole id matrix in memory
      (textpipe before issue #10) against ``model.fit`` on textpipe's streamed batches (the
      PyDataset through ``fit_input``, as ``textpipe train`` reads it), both without bucketing,
      then the streamed one with bucketing; ``fit --mode pydataset`` gives Keras the PyDataset
      itself (textpipe before ``fit_input``);
  (b) IMDB train tiled 20 times (500,000 rows, an encode artifact written by this script), one
      epoch of ``bag`` through ``textpipe train`` (what a user runs), in memory and streamed;
  (c) the imdb-lstm and imdb-bilstm presets' model, one epoch with and without bucketing, and
      the test accuracy of each.

Usage:
    TEXTPIPE_MIRROR=/work/shared/datasets python bench/input_pipeline.py [--store DIR]
        [--parts a,b,c] [--encoded IMDB_ENCODE_ARTIFACT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prepare_imdb(store_dir: Path) -> Path:
    """The imdb-lstm preset's encode artifact (built from the mirror when absent)."""
    from textpipe.artifacts import Store
    from textpipe.presets import load_config
    from textpipe.stages.download import download
    from textpipe.stages.encode import encode
    from textpipe.stages.normalize import normalize
    from textpipe.stages.vocab import build_vocab

    store = Store(store_dir)
    config = load_config("imdb-lstm", store=store)
    dataset = download(params=config.download, store=store).artifact
    normalized = normalize(dataset=dataset, params=config.normalize, store=store).artifact
    vocab = build_vocab(normalized=normalized, params=config.vocab, store=store).artifact
    encoded = encode(normalized=normalized, vocab=vocab, params=config.encode, store=store)
    return encoded.artifact.path


def prepare_tiled(store_dir: Path, encoded_dir: Path, tiles: int) -> Path:
    """An encode artifact whose train split is IMDB's repeated ``tiles`` times (validation as
    is, no test), written in chunks so that building it stays small too."""
    import numpy as np

    from textpipe.artifacts import Identity, Store, open_artifact
    from textpipe.stages.encode import IDS_SUFFIX, LABELS_SUFFIX, LENGTHS_SUFFIX, STAGE

    store = Store(store_dir)
    source = open_artifact(encoded_dir, stage="encode")
    identity = Identity(
        stage="encode",
        version=STAGE.version,
        params={**source.params, "bench_tiles": tiles},
        inputs=dict(source.inputs),
    )

    def build(directory: Path) -> dict:
        for name in ("train", "validation"):
            repeat = tiles if name == "train" else 1
            for suffix in (IDS_SUFFIX, LABELS_SUFFIX, LENGTHS_SUFFIX):
                array = np.load(source.file(f"{name}{suffix}"), mmap_mode="r")
                target = np.lib.format.open_memmap(
                    directory / f"{name}{suffix}",
                    mode="w+",
                    dtype=array.dtype,
                    shape=(len(array) * repeat, *array.shape[1:]),
                )
                for index in range(repeat):
                    target[index * len(array) : (index + 1) * len(array)] = array
                target.flush()
                del target
        stats = json.loads(json.dumps(source.stats))
        splits = {name: stats["splits"][name] for name in ("train", "validation")}
        splits["train"]["rows"] = splits["train"].get("rows", 25_000) * tiles
        stats["splits"] = splits
        return stats

    return store.produce(identity, build=build).artifact.path


def timed(command: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    """Runs a command under /usr/bin/time -v: its stdout, wall seconds and peak RSS in MB."""
    result = subprocess.run(
        ["/usr/bin/time", "-v", *command], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode:
        sys.stderr.write(result.stderr[-3000:])
        raise SystemExit(f"failed: {' '.join(command)}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    clock = re.search(r"Elapsed \(wall clock\) time .*: (?:(\d+):)?(\d+):([\d.]+)", result.stderr)
    hours, minutes, seconds = clock.groups()
    wall = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    return result.stdout, wall, rss / 1024


def fit_child(arguments: argparse.Namespace) -> None:
    """One epoch (or more) in this process; prints a JSON line of what it measured."""
    import numpy as np

    from textpipe.artifacts import open_artifact
    from textpipe.backend import load_keras
    from textpipe.models import build_model, model_info, model_options, select_model_options
    from textpipe.presets import load_config
    from textpipe.stages.batches import epoch_order_callback, fit_input, sequence_batches
    from textpipe.stages.encode import Encoded
    from textpipe.stages.evaluate import predict_probabilities
    from textpipe.stages.train import _resolve_jit_compile, _targets, compile_model

    keras = load_keras()
    params = load_config(arguments.preset, [f"train.model={arguments.model}"]).train
    keras.utils.set_random_seed(params.seed)
    data = Encoded(open_artifact(Path(arguments.encoded), stage="encode"))
    info = model_info(params.model)
    # the preset's options for its own model (pooling for lstm), those another model uses
    used = model_options(params.model)
    options = {name: value for name, value in params.model_options().items() if name in used}
    model = build_model(
        params.model,
        vocab_size=data.vocab_size,
        length=data.length,
        num_classes=data.num_classes,
        **select_model_options(params.model, options),
    )
    compile_model(
        model,
        num_classes=data.num_classes,
        learning_rate=params.learning_rate,
        jit_compile=_resolve_jit_compile("auto", info.recurrent, data.length),
    )
    seconds: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(round(time.perf_counter() - self.start, 2))

    bucketed = arguments.mode == "bucketed"
    targets = _targets(data.labels("train"), data.num_classes)
    validation_targets = _targets(data.labels("validation"), data.num_classes)
    if arguments.mode == "memory":
        ids = np.load(data.artifact.file("train.ids.npy"))
        validation_ids = np.load(data.artifact.file("validation.ids.npy"))
        model.fit(
            ids,
            targets,
            batch_size=params.batch_size,
            epochs=arguments.epochs,
            validation_data=(validation_ids, validation_targets),
            shuffle=True,
            callbacks=[Timer()],
            verbose=0,
        )
    else:
        batches = sequence_batches(
            data.ids("train"),
            targets=targets,
            lengths=data.lengths("train") if bucketed else None,
            batch_size=params.batch_size,
            padding=data.padding,
            shuffle=True,
            seed=params.seed,
        )
        validation = sequence_batches(
            data.ids("validation"),
            targets=validation_targets,
            lengths=data.lengths("validation") if bucketed else None,
            batch_size=params.batch_size,
            padding=data.padding,
        )
        if arguments.mode != "pydataset":  # what textpipe train does; pydataset: before
            batches_in, validation_in = fit_input(batches), fit_input(validation)
        else:
            batches_in, validation_in = batches, validation
        model.fit(
            batches_in,
            epochs=arguments.epochs,
            validation_data=validation_in,
            shuffle=False,
            callbacks=[epoch_order_callback(batches), Timer()],
            verbose=0,
        )
    result = {"epoch_seconds": seconds}
    if arguments.evaluate:
        start = time.perf_counter()
        probabilities = predict_probabilities(
            model,
            data.ids("test"),
            lengths=data.lengths("test") if bucketed else None,
            padding=data.padding,
        )
        labels = data.labels("test")
        result["test_accuracy"] = round(float(((probabilities > 0.5) == labels).mean()), 4)
        result["evaluate_seconds"] = round(time.perf_counter() - start, 2)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=os.path.join(tempfile.gettempdir(), "textpipe-bench"))
    parser.add_argument("--parts", default="a,b,c")
    parser.add_argument("--tiles", type=int, default=20)
    parser.add_argument(
        "--encoded", help="an IMDB encode artifact to use instead of building the preset's"
    )
    subparsers = parser.add_subparsers(dest="command")
    child = subparsers.add_parser("fit")
    child.add_argument("--encoded", required=True)
    child.add_argument("--model", required=True)
    child.add_argument("--preset", default="imdb-lstm")
    child.add_argument(
        "--mode", choices=("memory", "stream", "pydataset", "bucketed"), required=True
    )
    child.add_argument("--epochs", type=int, default=1)
    child.add_argument("--evaluate", action="store_true")
    arguments = parser.parse_args()
    if arguments.command == "fit":
        fit_child(arguments)
        return

    store = Path(arguments.store)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    parts = set(arguments.parts.split(","))
    encoded = Path(arguments.encoded) if arguments.encoded else prepare_imdb(store)
    print(f"# {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"# IMDB encode artifact: {encoded}")

    def fit(model: str, mode: str, data: Path, preset: str = "imdb-lstm", evaluate=False):
        command = [sys.executable, __file__, "fit", "--encoded", str(data), "--model", model]
        command += ["--mode", mode, "--preset", preset] + (["--evaluate"] if evaluate else [])
        out, wall, rss = timed(command, env)
        result = json.loads(out.strip().splitlines()[-1])
        line = (
            f"{preset:12} {model:7} {mode:9} epoch {result['epoch_seconds'][0]:7.2f} s  "
            f"process {wall:6.1f} s  peak RSS {rss:6.0f} MB"
        )
        if evaluate:
            line += f"  test accuracy {result['test_accuracy']:.4f}"
            line += f" (evaluate {result['evaluate_seconds']:.1f} s)"
        print(line, flush=True)
        return result["epoch_seconds"][0], rss

    if "a" in parts:
        print("## (a) IMDB 22,500 rows, one epoch, memory vs streamed")
        for model in ("bag", "lstm"):
            memory, memory_rss = fit(model, "memory", encoded)
            stream, stream_rss = fit(model, "stream", encoded)
            print(
                f"   {model}: streamed / in memory = {stream / memory:.3f} (epoch), "
                f"{stream_rss / memory_rss:.3f} (peak RSS)",
                flush=True,
            )
    if "b" in parts:
        tiled = prepare_tiled(store, encoded, arguments.tiles)
        print(f"## (b) IMDB train x{arguments.tiles}, one epoch of bag ({tiled})")
        memory, memory_rss = fit("bag", "memory", tiled)
        stream, stream_rss = fit("bag", "stream", tiled)
        print(
            f"   bag: streamed / in memory = {stream / memory:.3f} (epoch), "
            f"{stream_rss / memory_rss:.3f} (peak RSS)",
            flush=True,
        )
        with tempfile.TemporaryDirectory() as home:
            command = [sys.executable, "-m", "textpipe", "train", str(tiled), "--model", "bag"]
            command += ["--epochs", "1", "--batch-size", "64", "--seed", "0"]
            _, wall, rss = timed(command, {**env, "TEXTPIPE_HOME": home})
            history = json.loads(next(Path(home, "train").glob("*/history.json")).read_text())
            print(
                f"   textpipe train {tiled.name} --model bag --epochs 1: epoch "
                f"{history[0]['seconds']:.2f} s, process {wall:.1f} s, peak RSS {rss:.0f} MB",
                flush=True,
            )
    if "c" in parts:
        print("## (c) bucketing on the IMDB presets' model, one epoch, then the test split")
        for preset, model in (("imdb-lstm", "lstm"), ("imdb-bilstm", "bilstm")):
            plain, _ = fit(model, "stream", encoded, preset, evaluate=True)
            bucketed, _ = fit(model, "bucketed", encoded, preset, evaluate=True)
            print(f"   {preset}: bucketed / fixed length = {bucketed / plain:.3f} (epoch)")


if __name__ == "__main__":
    main()
