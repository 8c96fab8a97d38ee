"""Benchmark: the classic linear references on textpipe's own normalized text and splits.

Reads a normalize artifact (the text exactly as textpipe's presets see it, after `normalize`)
and trains, on its train split, and measures, on its test split:

- **NB-LR**: logistic regression on naive-Bayes-scaled binary word n-grams (Wang & Manning
  2012; Mesnil et al. 2015): scikit-learn `CountVectorizer(binary=True, ngram_range=(1, N))`
  over space-separated tokens, log-count ratios with add-one smoothing,
  `LogisticRegression(solver="liblinear", dual=True, C=C)`. With several `--c` values, C is
  chosen on the validation split.
- **fastText** (`fasttext-wheel`): `train_supervised` with word bigrams.

Needs the bench extra: `pip install -e '.[bench]'`.

Usage:
    textpipe run imdb-ngram --until normalize       # or any preset: its normalize artifact
    python bench/reference.py data/normalize/<key> [--c 0.1 1] [--ngrams 3] [--skip-fasttext]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from textpipe.artifacts import open_artifact
from textpipe.stages.tables import read_split


def load(normalized: Path, split: str) -> tuple[list[str], np.ndarray]:
    table = read_split(open_artifact(normalized, stage=("normalize",)), split)
    return table.column("text").to_pylist(), table.column("label").to_numpy()


def accuracy_and_f1(labels: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """Accuracy and the F1 of class 1, as textpipe's metrics.json reports them for two classes."""
    true_positive = int(((predicted == 1) & (labels == 1)).sum())
    precision = true_positive / max(int((predicted == 1).sum()), 1)
    recall = true_positive / max(int((labels == 1).sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float((predicted == labels).mean()), f1


def nb_lr(data: dict, *, ngrams: int, c_values: list[float]) -> dict:
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.perf_counter()
    vectorizer = CountVectorizer(
        binary=True,
        ngram_range=(1, ngrams),
        token_pattern=r"\S+",
        lowercase=False,
        dtype=np.float32,
    )
    train_texts, train_labels = data["train"]
    features = vectorizer.fit_transform(train_texts)
    positive = np.asarray(features[train_labels == 1].sum(axis=0)).ravel() + 1.0
    negative = np.asarray(features[train_labels == 0].sum(axis=0)).ravel() + 1.0
    ratios = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
    scale = sparse.diags(ratios.astype(np.float32))
    train_features = features @ scale
    featurize_seconds = time.perf_counter() - start

    def fit(c: float) -> tuple[LogisticRegression, float]:
        began = time.perf_counter()
        model = LogisticRegression(solver="liblinear", dual=True, C=c, max_iter=1000)
        model.fit(train_features, train_labels)
        return model, time.perf_counter() - began

    chosen = c_values[0]
    validation_scores = {}
    if len(c_values) > 1 and "validation" in data:
        texts, labels = data["validation"]
        validation_features = vectorizer.transform(texts) @ scale
        for c in c_values:
            model, _ = fit(c)
            validation_scores[c] = float((model.predict(validation_features) == labels).mean())
        chosen = max(c_values, key=lambda c: validation_scores[c])
    model, fit_seconds = fit(chosen)
    texts, labels = data["test"]
    predicted = model.predict(vectorizer.transform(texts) @ scale)
    accuracy, f1 = accuracy_and_f1(labels, predicted)
    return {
        "method": f"NB-LR 1-{ngrams}-grams, C={chosen:g}",
        "accuracy": accuracy,
        "f1": f1,
        "train_seconds": round(featurize_seconds + fit_seconds, 1),
        "features": int(features.shape[1]),
        "validation_accuracy_by_c": validation_scores,
    }


def fasttext_reference(data: dict, *, settings: list[tuple[float, int]], word_ngrams: int) -> dict:
    """fastText with word n-grams; with several (lr, epochs) settings, chosen on validation."""
    import fasttext

    def fit(lr: float, epochs: int) -> tuple[object, float]:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "train.txt"
            texts, labels = data["train"]
            # fastText learns in file order, and IMDB's train split is sorted by label.
            order = np.random.default_rng(0).permutation(len(texts))
            path.write_text(
                "".join(f"__label__{labels[index]} {texts[index]}\n" for index in order)
            )
            start = time.perf_counter()
            model = fasttext.train_supervised(
                input=str(path), lr=lr, epoch=epochs, wordNgrams=word_ngrams, thread=2, verbose=0
            )
            return model, time.perf_counter() - start

    def predict(model: object, split: str) -> tuple[np.ndarray, np.ndarray]:
        texts, labels = data[split]
        predicted_labels, _ = model.predict([text.replace("\n", " ") for text in texts])
        predicted = np.array([int(item[0].removeprefix("__label__")) for item in predicted_labels])
        return labels, predicted

    chosen = settings[0]
    validation_scores = {}
    if len(settings) > 1 and "validation" in data:
        for lr, epochs in settings:
            labels, predicted = predict(fit(lr, epochs)[0], "validation")
            validation_scores[f"lr {lr:g}, {epochs} epochs"] = float((predicted == labels).mean())
        chosen = max(
            settings,
            key=lambda setting: validation_scores[f"lr {setting[0]:g}, {setting[1]} epochs"],
        )
    model, train_seconds = fit(*chosen)
    accuracy, f1 = accuracy_and_f1(*predict(model, "test"))
    return {
        "method": f"fastText, word {word_ngrams}-grams, lr {chosen[0]:g}, {chosen[1]} epochs",
        "accuracy": accuracy,
        "f1": f1,
        "train_seconds": round(train_seconds, 1),
        "validation_accuracy_by_setting": validation_scores,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("normalized", type=Path, help="a normalize artifact directory")
    parser.add_argument("--ngrams", type=int, default=3)
    parser.add_argument("--c", type=float, nargs="+", default=[1.0])
    parser.add_argument(
        "--fasttext",
        nargs="+",
        default=["0.1:5", "0.5:5", "0.5:10", "1.0:10"],
        metavar="LR:EPOCHS",
        help="fastText settings; with several, chosen on the validation split",
    )
    parser.add_argument("--skip-fasttext", action="store_true")
    parser.add_argument("--skip-nblr", action="store_true")
    arguments = parser.parse_args()
    settings = [
        (float(lr), int(epochs))
        for lr, _, epochs in (item.partition(":") for item in arguments.fasttext)
    ]
    splits = ["train", "test"] + (
        ["validation"] if len(arguments.c) > 1 or len(settings) > 1 else []
    )
    started = time.perf_counter()
    data = {split: load(arguments.normalized, split) for split in splits}
    load_seconds = time.perf_counter() - started
    results = []
    if not arguments.skip_nblr:
        began = time.perf_counter()
        result = nb_lr(data, ngrams=arguments.ngrams, c_values=arguments.c)
        result["total_seconds"] = round(load_seconds + time.perf_counter() - began, 1)
        results.append(result)
    if not arguments.skip_fasttext:
        began = time.perf_counter()
        result = fasttext_reference(data, settings=settings, word_ngrams=2)
        result["total_seconds"] = round(load_seconds + time.perf_counter() - began, 1)
        results.append(result)
    print(json.dumps(results, indent=2))
    print("| method | test accuracy | F1 | training | total (read, featurize, train, predict) |")
    print("|---|---|---|---|---|")
    for result in results:
        print(
            f"| {result['method']} | {result['accuracy']:.4f} | {result['f1']:.4f} | "
            f"{result['train_seconds']:.1f} s | {result['total_seconds']:.1f} s |"
        )


if __name__ == "__main__":
    main()
