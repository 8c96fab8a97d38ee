"""Benchmark: normalize + vocab + encode on the full IMDB against a plain Python loop.

Both sides do the same work on the same 50,000 reviews (vocabulary 20,000, length 256): lowercase,
remove Unicode punctuation and symbols (P*, S*), split on whitespace, count training tokens, look
up ids, pad and truncate. The script checks that both produce the same id matrices and prints the
ratio of their times, taken alternately in the same run.

Usage:
    pip install regex   # optional: adds the `regex`-module variant of the loop
    TEXTPIPE_MIRROR=../shared/datasets python bench/preprocess.py [--repeats 3] [--strip-html]
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import platform
import statistics
import sys
import tempfile
import time
import unicodedata

import numpy as np

from textpipe.artifacts import Store
from textpipe.config import DownloadParams, EncodeParams, NormalizeParams, VocabParams
from textpipe.stages.download import download
from textpipe.stages.encode import encode
from textpipe.stages.normalize import normalize
from textpipe.stages.tables import read_split
from textpipe.stages.vocab import build_vocab

HTML_TAG = r"<[A-Za-z/!][^<>]*>"


def python_loop(
    train: list[str],
    test: list[str],
    *,
    size: int,
    length: int,
    strip_html: bool,
    variant: str = "translate",
) -> dict[str, np.ndarray]:
    """The reference: the same work in plain Python, in one of four variants.

    ``re``: the standard library's ``re`` with a character class of every P*/S* code point
    (very slow: minutes). ``regex``: the third-party ``regex`` module with ``[\\p{P}\\p{S}]``, the
    usual notebook idiom (run when ``regex`` is installed). ``translate``: ``str.translate``
    deleting every P*/S* code point (CPython has a fast path for ASCII text). These three count
    with a plain dictionary, as the issue describes. ``counter``: translate and
    ``collections.Counter.update`` (C-accelerated): the strongest pure-Python loop we found.
    """
    import re

    punctuation_codes = [
        code for code in range(sys.maxunicode + 1) if unicodedata.category(chr(code))[0] in "PS"
    ]
    deletions = dict.fromkeys(punctuation_codes)
    if variant == "regex":
        import regex

        punctuation = regex.compile(r"[\p{P}\p{S}]")
    else:
        punctuation = re.compile(
            "[" + "".join(re.escape(chr(code)) for code in punctuation_codes) + "]"
        )
    html = re.compile(HTML_TAG)

    def tokens(text: str) -> list[str]:
        if strip_html:
            text = html.sub(" ", text)
        if variant in ("re", "regex"):
            return punctuation.sub("", text.lower()).split()
        return text.lower().translate(deletions).split()

    counter = variant == "counter"

    train_tokens = [tokens(text) for text in train]
    counts: dict[str, int] = collections.Counter() if counter else {}
    for row in train_tokens:
        if counter:
            counts.update(row)  # type: ignore[attr-defined]
        else:
            for token in row:
                counts[token] = counts.get(token, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:size]
    vocabulary = {token: index + 2 for index, (token, _) in enumerate(ranked)}
    result = {}
    for name, rows in (("train", train_tokens), ("test", [tokens(text) for text in test])):
        matrix = np.zeros((len(rows), length), dtype=np.int32)
        for index, row in enumerate(rows):
            ids = [vocabulary.get(token, 1) for token in row[:length]] or [1]
            matrix[index, : len(ids)] = ids
        result[name] = matrix
    return result


def textpipe_stages(
    dataset, root: str, *, size: int, length: int, strip_html: bool
) -> dict[str, np.ndarray]:
    """normalize, vocab and encode into a fresh store; returns the encode artifact's directory."""
    store = Store(root)
    normalized = normalize(
        dataset=dataset, params=NormalizeParams(strip_html=strip_html), store=store
    ).artifact
    vocab = build_vocab(normalized=normalized, params=VocabParams(size=size), store=store).artifact
    return encode(
        normalized=normalized, vocab=vocab, params=EncodeParams(length=length), store=store
    ).artifact.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--strip-html", action="store_true")
    parser.add_argument(
        "--with-re",
        action="store_true",
        help="also time the `re` variant (about 4 minutes per repeat: a class of every P/S code point)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as root:
        dataset = download(
            params=DownloadParams(source="stanfordnlp/imdb"), store=Store(root)
        ).artifact
        train = read_split(dataset, "train").column("text").to_pylist()
        test = read_split(dataset, "test").column("text").to_pylist()
        options = {"size": args.size, "length": args.length, "strip_html": args.strip_html}
        variants = ["translate", "counter"]
        if importlib.util.find_spec("regex") is not None:
            variants.insert(0, "regex")
        if args.with_re:
            variants.insert(0, "re")
        loop_times: dict[str, list[float]] = {variant: [] for variant in variants}
        textpipe_times: list[float] = []
        for _ in range(args.repeats):
            references = {}
            for variant in variants:
                start = time.perf_counter()
                references[variant] = python_loop(train, test, variant=variant, **options)
                loop_times[variant].append(time.perf_counter() - start)
            with tempfile.TemporaryDirectory() as store_root:
                # timed: the three stages, artifacts written and hashed; not the clean-up
                start = time.perf_counter()
                encoded_path = textpipe_stages(dataset, store_root, **options)
                textpipe_times.append(time.perf_counter() - start)
                ours = {
                    name: np.load(encoded_path / f"{name}.ids.npy") for name in ("train", "test")
                }
            for variant, reference in references.items():
                for name in ("train", "test"):
                    if not np.array_equal(reference[name], ours[name]):
                        rows = np.flatnonzero((reference[name] != ours[name]).any(axis=1))
                        raise SystemExit(
                            f"MISMATCH ({variant}) in {name}: {len(rows)} rows differ, first {rows[:5]}"
                        )
    fast = statistics.median(textpipe_times)
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )
    print(
        f"reviews: {len(train) + len(test)}, vocabulary {args.size}, length {args.length}, "
        f"strip_html={args.strip_html}, repeats {args.repeats}"
    )
    print("id matrices identical to every Python variant: yes")

    def runs(times: list[float]) -> str:
        return ", ".join(f"{value:.2f}" for value in times)

    print(f"textpipe                     median {fast:.2f} s  (runs: {runs(textpipe_times)})")
    for variant, times in loop_times.items():
        median = statistics.median(times)
        print(
            f"python loop ({variant:<9})      median {median:.2f} s  (runs: {runs(times)})"
            f"  -> textpipe {median / fast:.1f}x faster"
        )


if __name__ == "__main__":
    main()
