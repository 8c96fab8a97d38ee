"""Benchmark: the steps of the preprocessing fast path, one by one, on IMDB's train split.

Prints the best of 5 runs of each step (25,000 reviews, 33 MB), single- and two-threaded
where it applies, next to the per-row alternatives that were measured against them.

Usage:
    TEXTPIPE_MIRROR=../shared/datasets python bench/preprocess_steps.py
"""

from __future__ import annotations

import tempfile
import time

import pyarrow as pa
import pyarrow.compute as pc

from textpipe import textops
from textpipe.artifacts import Store
from textpipe.config import DownloadParams, EncodeParams, NormalizeParams
from textpipe.stages.download import download
from textpipe.stages.encode import pad_ids
from textpipe.stages.tables import read_split
from textpipe.stages.vocab import count_tokens


def best(function, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        dataset = download(
            params=DownloadParams(source="stanfordnlp/imdb"), store=Store(root)
        ).artifact
        texts = read_split(dataset, "train").column("text").combine_chunks()
    params = NormalizeParams()
    normalizer = textops.build_normalizer(params)
    rows = texts.to_pylist()
    normalized = textops.normalize_array(texts, params)
    tokens = textops.split_tokens(normalized, params)
    counts = count_tokens(tokens)
    vocabulary = pa.array(["[PAD]", "[UNK]", *counts.column("token").slice(0, 20000).to_pylist()])
    flat_ids = pc.fill_null(pc.index_in(tokens.flatten(), value_set=vocabulary), 1).to_numpy()
    offsets = tokens.offsets.to_numpy()
    encode_params = EncodeParams()
    steps = {
        "tokenizers normalizer, normalize_str per row (1 of 5 runs)": (
            lambda: [normalizer.normalize_str(text) for text in rows],
            1,
        ),
        "normalize, Arrow Latin-1 path, 1 thread": (
            lambda: textops.normalize_array(texts, params, threads=1),
            5,
        ),
        "normalize, Arrow Latin-1 path, 2 threads": (
            lambda: textops.normalize_array(texts, params, threads=2),
            5,
        ),
        "split on spaces, 1 thread": (
            lambda: textops.split_tokens(normalized, params, threads=1),
            5,
        ),
        "split on spaces, 2 threads": (
            lambda: textops.split_tokens(normalized, params, threads=2),
            5,
        ),
        "split, at most 256 pieces per text, 2 threads": (
            lambda: textops.split_tokens(normalized, params, threads=2, max_tokens=256),
            5,
        ),
        "count tokens (value_counts on 2 threads, merge, sort)": (lambda: count_tokens(tokens), 5),
        "look up ids (index_in, 20,002 tokens)": (
            lambda: pc.fill_null(pc.index_in(tokens.flatten(), value_set=vocabulary), 1),
            5,
        ),
        "pad/truncate to 256 (numpy)": (
            lambda: pad_ids(
                flat_ids,
                offsets,
                length=256,
                padding=encode_params.padding,
                truncation=encode_params.truncation,
            ),
            5,
        ),
    }
    print(
        f"IMDB train: {len(texts):,} reviews, {texts.nbytes / 1e6:.0f} MB of text, {len(tokens.flatten()):,} tokens"
    )
    print("| step | best time (s) |")
    print("|---|---|")
    for name, (function, repeats) in steps.items():
        print(f"| {name} | {best(function, repeats):.3f} |", flush=True)


if __name__ == "__main__":
    main()
