"""The vocab stage: a WordLevel ``tokenizer.json`` over the most frequent training tokens.

Ids: 0 is the padding token, 1 the out-of-vocabulary token, real tokens start at 2 by descending
training frequency, ties broken by the token's code points. The tokenizer carries the normalizer
and pre-tokenizer of the normalize artifact, so raw text at prediction time is treated exactly as
in training.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textpipe.arrays import compute, compute_options, to_numpy
from textpipe.artifacts import Artifact, Outcome, Store
from textpipe.config import NormalizeParams, VocabParams
from textpipe.errors import InputError
from textpipe.progress import Progress, or_silent
from textpipe.stages.base import Stage
from textpipe.stages.tables import chunk_bytes, iter_split_chunks
from textpipe.textops import (
    SPECIAL_TOKENS,
    build_tokenizer,
    default_threads,
    spaced_tokens,
    split_pieces,
)

if TYPE_CHECKING:
    import pyarrow as pa

STAGE = Stage(
    name="vocab",
    version=1,
    params=VocabParams,
    inputs={"normalized": "normalize"},
    function="build_vocab",
)
TOKENIZER_FILE = "tokenizer.json"
COUNTS_FILE = "counts.tsv"


def _partial_counts(tokens: pa.ListArray, *, threads: int | None = None) -> pa.Table:
    """Distinct tokens and counts of some texts' tokens, counted on threads (a token may
    repeat)."""
    flat = compute("list_flatten", tokens)
    threads = threads or default_threads()
    size = max(1, -(-len(flat) // threads))
    parts = [flat.slice(start, size) for start in range(0, len(flat), size)]
    return _counted_parts(parts, _value_counts)


def _value_counts(values: pa.Array) -> pa.StructArray:
    return compute("value_counts", values)


def _counted_parts(parts: list[Any], count: Callable[[Any], pa.StructArray]) -> pa.Table:
    """``count`` (values and counts) of each part on a thread of its own, as one table."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa

    with ThreadPoolExecutor(max(1, len(parts))) as pool:
        counted = list(pool.map(count, parts))
    if not counted:
        return pa.table({"token": pa.nulls(0, pa.string()), "count": pa.nulls(0, pa.int64())})
    return pa.table(
        {
            "token": pa.concat_arrays([part.field("values") for part in counted]),
            "count": pa.concat_arrays([part.field("counts") for part in counted]),
        }
    )


def _text_counts(
    texts: pa.Array, params: NormalizeParams, *, threads: int | None = None
) -> pa.Table:
    """Distinct pieces and counts of some texts: each thread splits and counts a share of the
    rows, so the texts' tokens are never gathered into one array. The empty piece (see
    ``split_pieces``) is counted too; ``_rank`` drops it."""
    threads = threads or default_threads()
    size = max(1, -(-len(texts) // threads))
    parts = [texts.slice(start, size) for start in range(0, len(texts), size)]
    return _counted_parts(parts, lambda part: _piece_counts(part, params))


def _piece_counts(texts: pa.Array, params: NormalizeParams) -> pa.StructArray:
    """Distinct pieces of some texts and their counts, on the calling thread."""
    import pyarrow as pa

    spaced = spaced_tokens(texts) if params.collapse_whitespace else None
    if spaced is None:
        return _value_counts(compute("list_flatten", split_pieces(texts, params)))
    # Tokens that keep their space are counted apart from the same tokens without it (a
    # row's last), then trimmed: the merge adds the two up.
    counted = _value_counts(spaced.pieces())
    trimmed = compute(
        "utf8_rtrim", counted.field("values"), options=compute_options("TrimOptions", " ")
    )
    return pa.StructArray.from_arrays([trimmed, counted.field("counts")], ["values", "counts"])


def _merge_counts(tables: list[pa.Table]) -> pa.Table:
    """Sum partial counts into one row per distinct token.

    Dictionary-encodes the tokens and sums with numpy: ``Table.group_by`` would import
    ``pyarrow.dataset`` and with it pandas (0.2 s of start-up).
    """
    import numpy as np
    import pyarrow as pa

    from textpipe.arrays import numpy_array

    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    encoded = compute("dictionary_encode", table.column("token").combine_chunks())
    counts = to_numpy(table.column("count").combine_chunks()).astype(np.float64)
    sums = np.bincount(to_numpy(encoded.indices), weights=counts, minlength=len(encoded.dictionary))
    return pa.table({"token": encoded.dictionary, "count": numpy_array(sums.astype(np.int64))})


def _rank(table: pa.Table) -> pa.Table:
    """Drop the special tokens and the empty piece; most frequent first, ties by code points."""
    from textpipe.arrays import string_array

    dropped = string_array(["", *SPECIAL_TOKENS])
    special = compute(
        "is_in", table.column("token"), options=compute_options("SetLookupOptions", dropped)
    )
    table = compute("filter", table, compute("invert", special))
    order = compute_options("SortOptions", [("count", "descending"), ("token", "ascending")])
    return compute("take", table, compute("sort_indices", table, options=order))


def count_tokens(tokens: pa.ListArray, *, threads: int | None = None) -> pa.Table:
    """A table of distinct tokens and their counts, most frequent first, ties by code points."""
    return _rank(_merge_counts([_partial_counts(tokens, threads=threads)]))


def count_split(
    normalized: Artifact,
    split: str,
    params: NormalizeParams,
    *,
    threads: int | None = None,
    max_bytes: int | None = None,
) -> pa.Table:
    """count_tokens over one split, read in chunks; partial counts are merged whenever they
    outgrow the chunk, so memory follows the vocabulary, not the corpus."""
    partial: list[pa.Table] = []
    pending = 0
    limit = max_bytes or chunk_bytes()
    for chunk in iter_split_chunks(normalized, split, max_bytes=max_bytes):
        counts = _text_counts(chunk.column("text"), params, threads=threads)
        partial.append(counts)
        pending += counts.nbytes
        if pending > limit and len(partial) > 1:
            partial = [_merge_counts(partial)]
            pending = partial[0].nbytes
    import pyarrow as pa

    if not partial:
        return pa.table({"token": pa.nulls(0, pa.string()), "count": pa.nulls(0, pa.int64())})
    return _rank(_merge_counts(partial))


def build_vocab(
    *,
    normalized: Artifact,
    params: VocabParams,
    store: Store,
    output: str | Path | None = None,
    force: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Count training tokens and write ``tokenizer.json`` (and ``counts.tsv``).

    Returns:
        The cache outcome; stats hold the vocabulary size, distinct tokens seen and the share
        of training tokens the vocabulary covers.
    """
    progress = or_silent(progress)
    normalize_params = NormalizeParams(**normalized.params)

    def build(directory: Path) -> dict[str, Any]:
        with progress.task("vocab: counting training tokens", total=None):
            counts = count_split(normalized, "train", normalize_params, threads=threads)
        total = int(compute("sum", counts.column("count")).as_py() or 0)
        if total == 0:
            raise InputError(
                f"{normalized.path}: the train split has no tokens after normalization."
            )
        frequent = to_numpy(counts.column("count")) >= params.min_frequency
        kept = counts.slice(0, min(params.size, int(frequent.sum())))
        words = kept.column("token").to_pylist()
        vocabulary = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
        vocabulary.update({token: index + len(SPECIAL_TOKENS) for index, token in enumerate(words)})
        build_tokenizer(vocabulary, normalize_params).save(str(directory / TOKENIZER_FILE))
        with (directory / COUNTS_FILE).open("w", encoding="utf-8") as stream:
            stream.write("id\ttoken\tcount\n")
            for index, (token, count) in enumerate(
                zip(words, kept.column("count").to_pylist(), strict=True)
            ):
                stream.write(f"{index + len(SPECIAL_TOKENS)}\t{token}\t{count}\n")
        covered = int(compute("sum", kept.column("count")).as_py() or 0)
        return {
            "vocab_size": len(vocabulary),
            "tokens_kept": len(words),
            "distinct_tokens": counts.num_rows,
            "training_tokens": total,
            "coverage": round(covered / total, 6),
            "min_count_kept": int(kept.column("count")[-1].as_py()) if words else None,
            "normalize_params": normalized.params,
        }

    return store.produce(
        STAGE.identity_of(params, {"normalized": normalized}),
        build=build,
        output=output,
        force=force,
        notice=progress.note,
    )


def vocabulary_tokens(vocab: Artifact) -> list[str]:
    """The tokens of a vocab artifact in id order."""
    import json

    data = json.loads(vocab.file(TOKENIZER_FILE).read_text(encoding="utf-8"))
    mapping = data["model"]["vocab"]
    ordered = sorted(mapping.items(), key=lambda item: item[1])
    if [index for _, index in ordered] != list(range(len(ordered))):
        raise InputError(f"{vocab.path}: {TOKENIZER_FILE} has gaps in its ids.")
    return [token for token, _ in ordered]
