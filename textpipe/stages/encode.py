"""The encode stage: token ids padded and truncated to a fixed length, per split.

Output per split: ``{split}.ids.npy`` (int32, [N, L]), ``{split}.labels.npy`` (int64, [N]) and
``{split}.lengths.npy`` (int32, [N]: tokens kept, before padding). A text that is empty after
normalization becomes one out-of-vocabulary token, never an all-padding row, which would break
the cuDNN kernel of masked recurrent layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textpipe.artifacts import Artifact, Outcome, Store
from textpipe.config import EncodeParams, NormalizeParams, key_params
from textpipe.errors import InputError
from textpipe.progress import Progress, or_silent
from textpipe.stages.tables import read_split, split_names
from textpipe.stages.vocab import vocabulary_tokens
from textpipe.textops import OOV_ID, PAD_ID, default_threads, split_tokens

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

STAGE = "encode"
VERSION = 1
INPUT_STAGES = ("normalize",)
VOCAB_STAGES = ("vocab",)


@dataclass(frozen=True)
class Padded:
    """Fixed-length id rows and what padding did to them."""

    ids: np.ndarray
    lengths: np.ndarray
    truncated: int
    empty: int


def pad_ids(flat_ids: np.ndarray, offsets: np.ndarray, *, length: int, padding: str, truncation: str) -> Padded:
    """Lay variable-length id rows into an [N, length] int32 matrix, vectorized.

    Args:
        flat_ids: every row's ids, concatenated.
        offsets: N + 1 row boundaries into ``flat_ids``.
        length: the fixed length.
        padding: ``post`` pads on the right, ``pre`` on the left.
        truncation: ``post`` keeps the beginning of long rows, ``pre`` the end.
    """
    import numpy as np

    offsets = np.asarray(offsets, dtype=np.int64)
    offsets = offsets - offsets[0]
    flat_ids = np.asarray(flat_ids, dtype=np.int32)
    row_lengths = np.diff(offsets)
    empty = row_lengths == 0
    kept = np.minimum(row_lengths, length)
    if (row_lengths > length).any():
        # Position of each id inside its row decides whether truncation keeps it.
        index_type = np.int32 if len(flat_ids) < 2**31 else np.int64
        position = np.arange(len(flat_ids), dtype=index_type) - np.repeat(
            offsets[:-1].astype(index_type), row_lengths
        )
        if truncation == "post":
            keep = position < length
        else:
            keep = position >= np.repeat((row_lengths - length).astype(index_type), row_lengths)
        flat_ids = flat_ids[keep]
    # Filling a boolean mask assigns in row-major order, so the kept ids land row by row.
    columns = np.arange(length)
    filled = columns < kept[:, None] if padding == "post" else columns >= (length - kept)[:, None]
    matrix = np.zeros((len(row_lengths), length), dtype=np.int32)
    matrix[filled] = flat_ids
    if empty.any():
        matrix[empty, length - 1 if padding == "pre" else 0] = OOV_ID
    return Padded(
        ids=matrix,
        lengths=np.maximum(kept, 1).astype(np.int32),
        truncated=int((row_lengths > length).sum()),
        empty=int(empty.sum()),
    )


def lookup_ids(tokens: pa.ListArray, vocabulary: list[str], *, threads: int | None = None) -> np.ndarray:
    """Flat token ids of a list array of tokens (out-of-vocabulary tokens get id 1)."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    flat = tokens.flatten()
    value_set = pa.array(vocabulary, pa.string())
    threads = threads or default_threads()
    size = max(1, -(-len(flat) // threads))
    parts = [flat.slice(start, size) for start in range(0, len(flat), size)] or [flat]

    def lookup(part: pa.Array) -> np.ndarray:
        return pc.fill_null(pc.index_in(part, value_set=value_set), OOV_ID).to_numpy()

    with ThreadPoolExecutor(len(parts)) as pool:
        pieces = list(pool.map(lookup, parts))
    return np.concatenate(pieces).astype(np.int32) if pieces else np.zeros(0, np.int32)


def _percentiles(values: np.ndarray) -> dict[str, int]:
    import numpy as np

    points = (50, 90, 95, 99)
    found = np.percentile(values, points) if len(values) else [0] * len(points)
    result = {f"p{point}": int(value) for point, value in zip(points, found, strict=True)}
    result["max"] = int(values.max()) if len(values) else 0
    return result


def encode(
    *,
    normalized: Artifact,
    vocab: Artifact,
    params: EncodeParams,
    store: Store,
    output: str | Path | None = None,
    force: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Encode every split of a normalize artifact with a vocab artifact's tokenizer.

    Returns:
        The cache outcome; stats hold per split the length percentiles (before truncation),
        the share truncated, the out-of-vocabulary rate and the texts left empty.

    Raises:
        InputError: the vocabulary was built on text normalized another way.
    """
    import numpy as np

    progress = or_silent(progress)
    normalize_params = NormalizeParams(**normalized.params)
    vocab_normalization = vocab.stats.get("normalize_params")
    if vocab_normalization is not None and vocab_normalization != normalized.params:
        raise InputError(
            f"The vocabulary {vocab.path} was built on text normalized with "
            f"{vocab_normalization}, but {normalized.path} uses {normalized.params}. "
            "Build the vocabulary from the same normalization."
        )

    def build(directory: Path) -> dict[str, Any]:
        vocabulary = vocabulary_tokens(vocab)
        splits: dict[str, Any] = {}
        names = split_names(normalized)
        with progress.task("encode", total=len(names)) as advance:
            for name in names:
                table = read_split(normalized, name)
                tokens = split_tokens(table.column("text"), normalize_params, threads=threads)
                flat_ids = lookup_ids(tokens, vocabulary, threads=threads)
                offsets = tokens.offsets.to_numpy()
                padded = pad_ids(
                    flat_ids,
                    offsets,
                    length=params.length,
                    padding=params.padding,
                    truncation=params.truncation,
                )
                np.save(directory / f"{name}.ids.npy", padded.ids)
                np.save(directory / f"{name}.labels.npy", table.column("label").to_numpy().astype(np.int64))
                np.save(directory / f"{name}.lengths.npy", padded.lengths)
                true_lengths = np.diff(offsets)
                splits[name] = {
                    "rows": table.num_rows,
                    "length_percentiles": _percentiles(true_lengths),
                    "share_truncated": round(padded.truncated / max(1, table.num_rows), 6),
                    "oov_rate": round(float((flat_ids == OOV_ID).mean()) if len(flat_ids) else 0.0, 6),
                    "empty_texts": padded.empty,
                }
                advance(1)
        empty = sum(split["empty_texts"] for split in splits.values())
        if empty:
            progress.note(f"encode: {empty} texts empty after normalization, encoded as one OOV token")
        return {
            "splits": splits,
            "length": params.length,
            "padding": params.padding,
            "vocab_size": len(vocabulary),
            "label_names": normalized.stats["label_names"],
            "num_classes": normalized.stats["num_classes"],
        }

    return store.produce(
        stage=STAGE,
        version=VERSION,
        params=key_params(params),
        inputs={"normalized": normalized.key, "vocab": vocab.key},
        build=build,
        output=output,
        force=force,
        notice=progress.note,
    )
