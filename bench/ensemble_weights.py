"""Choose ensemble weights on the validation split, then report the test split (issue 9).

Reads, for each run, its validation evaluation (``VALIDATION/RUN``, written by
``bench/ensemble_presets.sh``) and its test evaluation (the run's record). For every subset of
two or more runs and integer weights 1-9, it averages either the probabilities
(what ``textpipe ensemble`` does) or the log-odds (a geometric mean: a confident member cannot
drown the others), keeps the best validation accuracy (ties: the lower validation log loss),
and prints that choice's validation and test accuracy beside each run alone. The chosen
probability-average weights are then run through ``textpipe ensemble`` so the figure a user
gets is printed by the CLI.

    python bench/ensemble_weights.py STORE VALIDATION imdb-ngram imdb-lstm imdb-bilstm
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from textpipe.artifacts import Store
from textpipe.stages.encode import Encoded

EPSILON = 1e-7


def _labels(store: Store, record: dict, split: str) -> np.ndarray:
    encoded = store.find("encode", record["stages"]["encode"]["key"])
    return Encoded(encoded).labels(split)


def _accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(((probabilities >= 0.5).astype(np.int64) == labels).mean())


def _log_loss(probabilities: np.ndarray, labels: np.ndarray) -> float:
    clipped = np.clip(probabilities, EPSILON, 1 - EPSILON)
    return float(-np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped)))


def _combine(members: list[np.ndarray], weights: tuple[int, ...], how: str) -> np.ndarray:
    shares = np.asarray(weights, dtype=np.float64) / sum(weights)
    if how == "probabilities":
        return sum(share * member for share, member in zip(shares, members, strict=True))
    clipped = [np.clip(member, EPSILON, 1 - EPSILON) for member in members]
    logits = sum(
        share * np.log(member / (1 - member)) for share, member in zip(shares, clipped, strict=True)
    )
    return 1 / (1 + np.exp(-logits))


def main() -> None:
    store_root, validation_root, runs = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    store = Store(store_root)
    records = {run: json.loads((store_root / "runs" / f"{run}.json").read_text()) for run in runs}
    validation = {
        run: np.load(validation_root / run / "predictions.npy").astype(np.float64) for run in runs
    }
    test = {
        run: np.load(Path(records[run]["stages"]["evaluate"]["path"]) / "predictions.npy").astype(
            np.float64
        )
        for run in runs
    }
    validation_labels = _labels(store, records[runs[0]], "validation")
    test_labels = _labels(store, records[runs[0]], "test")
    print(
        "| runs | combine | weights (chosen on validation) | validation accuracy | test accuracy |"
    )
    print("|---|---|---|---|---|")
    for run in runs:
        print(
            f"| {run} | alone | | {_accuracy(validation[run], validation_labels):.4f} | "
            f"{_accuracy(test[run], test_labels):.4f} |"
        )
    chosen_probability_weights = []
    for size in range(2, len(runs) + 1):
        for subset in itertools.combinations(runs, size):
            for how in ("probabilities", "log-odds"):
                best = None
                for weights in itertools.product(range(1, 10), repeat=size):
                    combined = _combine([validation[run] for run in subset], weights, how)
                    score = (
                        _accuracy(combined, validation_labels),
                        -_log_loss(combined, validation_labels),
                    )
                    if best is None or score > best[0]:
                        best = (score, weights)
                assert best is not None
                (accuracy, _), weights = best
                tested = _combine([test[run] for run in subset], weights, how)
                print(
                    f"| {' + '.join(subset)} | {how} | {':'.join(map(str, weights))} | "
                    f"{accuracy:.4f} | {_accuracy(tested, test_labels):.4f} |"
                )
                if how == "probabilities":
                    chosen_probability_weights.append((subset, weights))
    for subset, weights in chosen_probability_weights:
        command = [
            sys.executable,
            "-m",
            "textpipe.cli.main",
            "ensemble",
            *subset,
            "--weights",
            ",".join(map(str, weights)),
        ]
        print("$", "textpipe", *command[3:], flush=True)
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        print("\n".join(line for line in result.stdout.splitlines() if "accuracy" in line))


if __name__ == "__main__":
    main()
