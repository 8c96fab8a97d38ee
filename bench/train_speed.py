"""Benchmark: epochs of `lstm` through `textpipe train` against a minimal hand-written model.fit.

Same arrays (IMDB, vocabulary 20,000, length 256, batch 64), same architecture
(Embedding(mask_zero) → LSTM(64) → Dense(64, relu) → Dense(1)), same optimizer; the hand-written
side uses Keras defaults (on a CPU-only TensorFlow, jit_compile="auto" means no XLA). Runs
alternate, and the script prints seconds per epoch for each and their ratio.

Usage:
    TEXTPIPE_MIRROR=../shared/datasets python bench/train_speed.py [--epochs 2] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time

import numpy as np

from textpipe.artifacts import Store
from textpipe.backend import describe_device, load_keras
from textpipe.config import DownloadParams, EncodeParams, NormalizeParams, TrainParams, VocabParams
from textpipe.stages.download import download
from textpipe.stages.encode import encode
from textpipe.stages.normalize import normalize
from textpipe.stages.train import train
from textpipe.stages.vocab import build_vocab


def prepare(store: Store, size: int, length: int):
    dataset = download(params=DownloadParams(source="stanfordnlp/imdb"), store=store).artifact
    normalized = normalize(
        dataset=dataset, params=NormalizeParams(strip_html=True), store=store
    ).artifact
    vocab = build_vocab(normalized=normalized, params=VocabParams(size=size), store=store).artifact
    return encode(
        normalized=normalized, vocab=vocab, params=EncodeParams(length=length), store=store
    ).artifact


def hand_written(encoded, *, epochs: int, batch_size: int, seed: int) -> dict:
    keras = load_keras()
    keras.utils.set_random_seed(seed)
    ids = np.load(encoded.path / "train.ids.npy")
    labels = np.load(encoded.path / "train.labels.npy").astype("float32")
    test_ids = np.load(encoded.path / "test.ids.npy")
    test_labels = np.load(encoded.path / "test.labels.npy").astype("float32")
    model = keras.Sequential(
        [
            keras.Input(shape=(ids.shape[1],), dtype="int32"),
            keras.layers.Embedding(encoded.stats["vocab_size"], 64, mask_zero=True),
            keras.layers.LSTM(64),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
    )
    seconds: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    model.fit(
        ids,
        labels,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=0,
        callbacks=[Timer()],
    )
    _, accuracy = model.evaluate(test_ids, test_labels, batch_size=256, verbose=0)
    return {
        "epoch_seconds": seconds,
        "test_accuracy": float(accuracy),
        "jit_compile": bool(model.jit_compile),
    }


def through_textpipe(encoded, *, epochs: int, batch_size: int, seed: int) -> dict:
    from textpipe.models import load_model
    from textpipe.stages.evaluate import predict_probabilities

    with tempfile.TemporaryDirectory() as root:
        outcome = train(
            encoded=encoded,
            params=TrainParams(
                model="lstm", epochs=epochs, batch_size=batch_size, learning_rate=1e-3, seed=seed
            ),
            store=Store(root),
        )
        history = json.loads((outcome.artifact.path / "history.json").read_text())
        model = load_model(outcome.artifact.path / "model.keras")
        probabilities = predict_probabilities(model, np.load(encoded.path / "test.ids.npy"))
        labels = np.load(encoded.path / "test.labels.npy")
        accuracy = float(((probabilities >= 0.5) == labels).mean())
        return {
            "epoch_seconds": [record["seconds"] for record in history],
            "test_accuracy": accuracy,
            "jit_compile": outcome.artifact.stats["jit_compile"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--length", type=int, default=256)
    args = parser.parse_args()
    keras = load_keras()
    with tempfile.TemporaryDirectory() as root:
        encoded = prepare(Store(root), args.size, args.length)
        results: dict[str, list[dict]] = {"hand-written model.fit": [], "textpipe train": []}
        for repeat in range(args.repeats):
            order = list(results) if repeat % 2 == 0 else list(reversed(results))
            for name in order:
                runner = hand_written if name.startswith("hand") else through_textpipe
                results[name].append(
                    runner(encoded, epochs=args.epochs, batch_size=args.batch_size, seed=repeat)
                )
                print(name, results[name][-1], flush=True)
    print(
        f"machine: {platform.machine()}, {describe_device()}, Keras {keras.__version__} ({keras.backend.backend()})"
    )
    print(
        f"IMDB train {25000} rows, vocabulary {args.size}, length {args.length}, batch {args.batch_size}, {args.epochs} epochs x {args.repeats}"
    )
    summary = {}
    for name, runs in results.items():
        first = float(np.mean([run["epoch_seconds"][0] for run in runs]))
        later = [seconds for run in runs for seconds in run["epoch_seconds"][1:]]
        steady = float(np.mean(later)) if later else first
        accuracy = float(np.mean([run["test_accuracy"] for run in runs]))
        summary[name] = (first, steady)
        print(
            f"{name:<24} first epoch {first:6.1f} s  later epochs {steady:6.1f} s  test accuracy {accuracy:.4f}  XLA {runs[0]['jit_compile']}"
        )
    hand, ours = summary["hand-written model.fit"], summary["textpipe train"]
    print(
        f"ratio hand-written / textpipe: first epoch {hand[0] / ours[0]:.2f}x, later epochs {hand[1] / ours[1]:.2f}x"
    )


if __name__ == "__main__":
    main()
