"""Benchmark: settings of the ngram model on an encode artifact, validation (and test) per epoch.

The scratch runs behind the imdb-ngram preset's choices (hash buckets, n-gram order, batch size
and learning rate, n-gram dropout): each configuration is built, adapted to the training split
and trained as `textpipe train` does (same compile, XLA on), printing validation accuracy after
every epoch and test accuracy after the epochs listed in `test` and the last.

Usage:
    textpipe run imdb-ngram --until encode
    python bench/ngram_sweep.py data/encode/<key> \\
        '[{"epochs": 3, "lr": 0.003, "bs": 256, "test": [2], "ngram_buckets": 16777216}]'
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

from textpipe.models import build_model
from textpipe.models.adapt import adapt_model
from textpipe.stages.train import compile_model


def accuracy(model: keras.Model, ids: np.ndarray, labels: np.ndarray) -> float:
    logits = model.predict(ids, batch_size=512, verbose=0)[:, 0]
    return float(((logits > 0) == labels).mean())


def main() -> None:
    encoded = sys.argv[1]
    configurations = json.loads(sys.argv[2])
    splits = {
        split: (np.load(f"{encoded}/{split}.ids.npy"), np.load(f"{encoded}/{split}.labels.npy"))
        for split in ("train", "validation", "test")
    }
    stats = json.loads(Path(encoded, "manifest.json").read_text())["stats"]
    train_ids, train_labels = splits["train"]
    for configuration in configurations:
        keras.utils.set_random_seed(0)
        options = dict(configuration)
        epochs, learning_rate = options.pop("epochs"), options.pop("lr")
        batch_size, test_after = options.pop("bs"), options.pop("test", [])
        model = build_model(
            "ngram",
            vocab_size=int(stats["vocab_size"]),
            length=train_ids.shape[1],
            num_classes=2,
            **options,
        )
        compile_model(model, num_classes=2, learning_rate=learning_rate, jit_compile=True)
        adapt_model(model, train_ids, train_labels, num_classes=2)
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            model.fit(
                train_ids,
                train_labels.astype("float32"),
                batch_size=batch_size,
                epochs=1,
                shuffle=True,
                verbose=0,
            )
            line = (
                f"{configuration} epoch {epoch} {time.perf_counter() - start:.1f} s "
                f"validation {accuracy(model, *splits['validation']):.4f}"
            )
            if epoch in test_after or epoch == epochs:
                line += f" test {accuracy(model, *splits['test']):.4f}"
            print(line, flush=True)


if __name__ == "__main__":
    main()
