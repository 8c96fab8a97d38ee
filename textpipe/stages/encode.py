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
from textpipe.config import EncodeParams, NormalizeParams
from textpipe.errors import ArtifactError, InputError
from textpipe.progress import Progress, or_silent
from textpipe.stages.base import Stage
from textpipe.stages.tables import iter_split_chunks, split_names, split_path, table_rows
from textpipe.stages.vocab import vocabulary_tokens
from textpipe.textops import OOV_ID, PAD_ID, default_threads, spaced_tokens, split_tokens

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

STAGE = Stage(
    name="encode",
    version=1,
    params=EncodeParams,
    inputs={"normalized": "normalize", "vocab": "vocab"},
    function="encode",
)


IDS_SUFFIX = ".ids.npy"
LABELS_SUFFIX = ".labels.npy"
LENGTHS_SUFFIX = ".lengths.npy"


@dataclass(frozen=True)
class Encoded:
    """An encode artifact, typed: what train, evaluate and predict read from it."""

    artifact: Artifact

    @property
    def path(self) -> Path:
        return self.artifact.path

    @property
    def key(self) -> str:
        return self.artifact.key

    @property
    def length(self) -> int:
        return int(self.artifact.param("length"))

    @property
    def padding(self) -> str:
        return str(self.artifact.param("padding"))

    @property
    def truncation(self) -> str:
        return str(self.artifact.param("truncation"))

    @property
    def vocab_size(self) -> int:
        """Ids in the vocabulary, padding and out-of-vocabulary included."""
        return int(self.artifact.stat("vocab_size"))

    @property
    def label_names(self) -> list[str]:
        return list(self.artifact.stat("label_names"))

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def vocab_key(self) -> str | None:
        return self.artifact.input_key("vocab")

    @property
    def split_names(self) -> list[str]:
        return list(self.artifact.stats.get("splits", {}))

    def has_split(self, name: str) -> bool:
        return name in self.artifact.stats.get("splits", {})

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The (memory-mapped) id matrix and the (checked) labels of a split."""
        return self.ids(name), self.labels(name)

    def ids(self, name: str) -> np.ndarray:
        """The id matrix of a split, memory-mapped read-only: rows are read as they are used."""
        import numpy as np

        return np.load(self.artifact.file(f"{name}{IDS_SUFFIX}"), mmap_mode="r")

    def lengths(self, name: str) -> np.ndarray:
        """The tokens each row of a split keeps (at least 1), before padding."""
        import numpy as np

        return np.load(self.artifact.file(f"{name}{LENGTHS_SUFFIX}"), allow_pickle=False)

    def labels(self, name: str) -> np.ndarray:
        """The labels of a split, checked to lie in ``[0, num_classes)``."""
        import numpy as np

        labels = np.load(self.artifact.file(f"{name}{LABELS_SUFFIX}"), allow_pickle=False)
        check_labels(labels, self.num_classes, where=f"{self.path} {name}")
        return labels


def check_labels(labels: np.ndarray, num_classes: int, *, where: str) -> None:
    """Refuse label ids outside ``[0, num_classes)``: a damaged or foreign artifact."""
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ArtifactError(
            f"{where}: label ids run from {int(labels.min())} to {int(labels.max())}, but there "
            f"are {num_classes} classes; rebuild the artifact."
        )


@dataclass(frozen=True)
class Padded:
    """Fixed-length id rows and what padding did to them."""

    ids: np.ndarray
    lengths: np.ndarray
    truncated: int
    empty: int


def pad_ids(
    flat_ids: np.ndarray, offsets: np.ndarray, *, length: int, padding: str, truncation: str
) -> Padded:
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
    excess = int(row_lengths.max(initial=0)) - length
    if excess == 1:
        # Rows split at most `length` times (split_tokens' max_tokens) have one piece too many
        # at most: drop that piece, the last of its row (or the first, truncating the start).
        long_rows = np.flatnonzero(row_lengths > length)
        dropped = offsets[long_rows + 1] - 1 if truncation == "post" else offsets[long_rows]
        flat_ids = np.delete(flat_ids, dropped)
    elif excess > 1:
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
    matrix = np.full((len(row_lengths), length), PAD_ID, dtype=np.int32)
    matrix[filled] = flat_ids
    if empty.any():
        matrix[empty, length - 1 if padding == "pre" else 0] = OOV_ID
    return Padded(
        ids=matrix,
        lengths=np.maximum(kept, 1).astype(np.int32),
        truncated=int((row_lengths > length).sum()),
        empty=int(empty.sum()),
    )


@dataclass(frozen=True)
class VocabularyLookup:
    """A vocabulary as the lookups need it: its tokens in id order and, for tokens that may
    keep the space after them (``spaced_tokens``), the tokens followed by each token plus a
    space (None where a token holds a space itself: only a foreign vocabulary would)."""

    tokens: pa.Array
    spaced: pa.Array | None

    @classmethod
    def of(cls, tokens: list[str]) -> VocabularyLookup:
        from textpipe.arrays import string_array

        spaced = None
        if not any(" " in token for token in tokens):
            spaced = string_array([*tokens, *(f"{token} " for token in tokens)])
        return cls(tokens=string_array(tokens), spaced=spaced)


def encode_texts(
    texts: pa.Array,
    vocabulary: VocabularyLookup,
    *,
    normalize_params: NormalizeParams,
    params: EncodeParams,
) -> tuple[Padded, np.ndarray]:
    """Padded ids and true token counts of normalized texts (one thread's share of a split).

    Args:
        texts: normalized texts.
        vocabulary: the tokens in id order; absent tokens get id 1.
        normalize_params: how the texts were normalized (decides how they split).
        params: length, padding and truncation.
    """
    import numpy as np

    from textpipe.arrays import compute, compute_options, scalar, to_numpy

    spaced = None
    if normalize_params.collapse_whitespace and vocabulary.spaced is not None:
        spaced = spaced_tokens(texts)
    if spaced is not None:
        pieces = spaced.pieces(params.length, from_end=params.truncation == "pre")
        found = compute(
            "index_in", pieces, options=compute_options("SetLookupOptions", vocabulary.spaced)
        )
        # index i and i + V are the same token, without and with its space
        index = to_numpy(compute("coalesce", found, scalar(-1, np.int32)))
        ids = np.remainder(index, len(vocabulary.tokens))
        ids[index < 0] = OOV_ID
        offsets = np.zeros(len(spaced.counts) + 1, np.int64)
        np.cumsum(np.minimum(spaced.counts, params.length + 1), out=offsets[1:])
        padded = pad_ids(
            ids, offsets, length=params.length, padding=params.padding, truncation=params.truncation
        )
        return padded, spaced.counts
    return _encode_split_texts(
        texts, vocabulary.tokens, normalize_params=normalize_params, params=params
    )


def _encode_split_texts(
    texts: pa.Array,
    vocabulary: pa.Array,
    *,
    normalize_params: NormalizeParams,
    params: EncodeParams,
) -> tuple[Padded, np.ndarray]:
    """``encode_texts`` through ``split_tokens``, for what ``spaced_tokens`` does not take:
    texts whose whitespace is not collapsed, nulls, chunked arrays, a foreign vocabulary."""
    import numpy as np

    from textpipe.arrays import compute, compute_options, numpy_array, scalar, to_numpy

    tokens = split_tokens(
        texts,
        normalize_params,
        threads=1,
        max_tokens=params.length if normalize_params.collapse_whitespace else None,
        from_end=params.truncation == "pre",
    )
    offsets = to_numpy(tokens.offsets).astype(np.int64)
    offsets -= offsets[0]
    flat = (
        tokens.values.slice(0, int(offsets[-1]))
        if tokens.offset == 0
        else compute("list_flatten", tokens)
    )
    found = compute("index_in", flat, options=compute_options("SetLookupOptions", vocabulary))
    # pyarrow.compute.fill_null is coalesce with a scalar of the array's type (int32)
    ids = to_numpy(compute("coalesce", found, scalar(OOV_ID, np.int32)))
    padded = pad_ids(
        ids, offsets, length=params.length, padding=params.padding, truncation=params.truncation
    )
    counts = np.diff(offsets)
    long_rows = np.flatnonzero(counts > params.length)
    if len(long_rows):
        # a long row's last piece (first, from the end) is its unsplit rest: count its tokens
        rest = offsets[long_rows + 1] - 1 if params.truncation == "post" else offsets[long_rows]
        remainders = compute("take", flat, numpy_array(rest))
        spaces = compute(
            "count_substring", remainders, options=compute_options("MatchSubstringOptions", " ")
        )
        counts[long_rows] = params.length + to_numpy(spaces) + 1
    return padded, counts


def _percentiles(values: np.ndarray) -> dict[str, int]:
    """Percentiles 50, 90, 95 and 99 and the maximum of integer lengths, truncated to int.

    The same figures as ``np.percentile`` (its default ``linear`` method, computed with the
    same floating-point steps), which costs each encode process about 7 ms of importing
    ``numpy.ma``.
    """
    import math

    import numpy as np

    points = (50, 90, 95, 99)
    if not len(values):
        return {**{f"p{point}": 0 for point in points}, "max": 0}
    ordered = np.sort(values)
    last = len(ordered) - 1
    result = {}
    for point in points:
        virtual = last * (point / 100)
        if virtual >= last:
            value = float(ordered[last])
        else:
            below = math.floor(virtual)
            low, high = int(ordered[below]), int(ordered[below + 1])
            gamma = virtual - below
            difference = high - low
            # np.percentile's lerp: from the nearer end, so that gamma 1 gives `high` exactly
            value = high - difference * (1 - gamma) if gamma >= 0.5 else low + difference * gamma
        result[f"p{point}"] = int(value)
    result["max"] = int(ordered[last])
    return result


class NpyWriter:
    """Writes a 2-d ``.npy`` array row block by row block, with the bytes ``np.save`` gives."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: Any) -> None:
        import numpy as np

        self.path = path
        self.dtype = np.dtype(dtype)
        self.shape = shape
        # open_memmap writes np.save's header and sizes the file; the rows follow it
        header = np.lib.format.open_memmap(path, mode="w+", dtype=self.dtype, shape=shape)
        self.offset = header.offset
        del header
        self.stream = path.open("r+b")
        self.stream.seek(self.offset)
        self.rows = 0

    def write(self, block: np.ndarray) -> None:
        import numpy as np

        self.stream.write(np.ascontiguousarray(block, dtype=self.dtype).data)
        self.rows += len(block)

    def close(self) -> None:
        self.stream.close()

    def check_complete(self) -> None:
        """After the last block: every row was written (a bug otherwise, not a user error)."""
        if self.rows != self.shape[0]:
            raise RuntimeError(f"{self.path}: wrote {self.rows} of {self.shape[0]} rows")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux), or None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _check_space(normalized: Artifact, params: EncodeParams, root: Path) -> None:
    """Refuse a length whose id matrices cannot fit on disk, or whose chunk of rows cannot fit
    in memory, before writing anything."""
    import shutil

    from textpipe.stages.tables import memory_budget

    rows = {name: table_rows(split_path(normalized, name)) for name in split_names(normalized)}
    row_bytes = params.length * 4
    needed_disk = sum(rows.values()) * (row_bytes + 12)  # ids, labels (8) and lengths (4)
    existing = next((path for path in (root, *root.parents) if path.exists()), Path("/"))
    free = shutil.disk_usage(existing).free
    if needed_disk > free:
        raise InputError(
            f"encode.length={params.length:,} needs about {needed_disk / 1e9:,.1f} GB of disk "
            f"for {sum(rows.values()):,} rows; {free / 1e9:,.1f} GB is free under {existing}. "
            "Choose a smaller encode.length."
        )
    # A chunk holds about a tenth of the memory budget of text; its padded ids, twice (the
    # threads' parts and their join), must fit in memory too.
    largest = max(rows, key=lambda name: rows[name], default=None)
    if largest is None:
        return
    text_bytes = max(1, split_path(normalized, largest).stat().st_size)
    chunk_rows = max(1, min(rows[largest], rows[largest] * (memory_budget() // 10) // text_bytes))
    needed_memory = 2 * chunk_rows * row_bytes
    available = available_memory()
    if available is not None and needed_memory > available:
        raise InputError(
            f"encode.length={params.length:,} needs about {needed_memory / 1e9:,.1f} GB of "
            f"memory per chunk of {chunk_rows:,} rows; {available / 1e9:,.1f} GB is available. "
            "Choose a smaller encode.length."
        )


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
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from textpipe.arrays import to_numpy

    progress = or_silent(progress)
    normalize_params = NormalizeParams(**normalized.params)
    vocab_normalization = vocab.stats.get("normalize_params")
    if vocab_normalization is not None and vocab_normalization != normalized.params:
        raise InputError(
            f"The vocabulary {vocab.path} was built on text normalized with "
            f"{vocab_normalization}, but {normalized.path} uses {normalized.params}. "
            "Build the vocabulary from the same normalization."
        )

    _check_space(normalized, params, store.root)

    def build(directory: Path) -> dict[str, Any]:
        vocabulary = vocabulary_tokens(vocab)
        lookup = VocabularyLookup.of(vocabulary)
        workers = threads or default_threads()
        splits: dict[str, Any] = {}
        names = split_names(normalized)

        def encode_chunk(chunk: pa.Array) -> tuple[Padded, np.ndarray, int]:
            padded, counts = encode_texts(
                chunk, lookup, normalize_params=normalize_params, params=params
            )
            # counted on the worker thread too: the main thread writes the rows meanwhile
            return padded, counts, int(np.count_nonzero(padded.ids == OOV_ID)) - padded.empty

        with (
            progress.task("encode", total=len(names)) as advance,
            ThreadPoolExecutor(workers) as pool,
        ):
            for name in names:
                rows = table_rows(split_path(normalized, name))
                ids_file = NpyWriter(
                    directory / f"{name}{IDS_SUFFIX}", (rows, params.length), np.int32
                )
                labels, lengths, true_lengths = [], [], []
                truncated = empty = out_of_vocabulary = 0
                try:
                    for batch in iter_split_chunks(normalized, name):
                        texts = batch.column("text")
                        size = max(1, -(-len(texts) // workers))
                        pieces = [texts.slice(start, size) for start in range(0, len(texts), size)]
                        for padded, counts, unknown in pool.map(encode_chunk, pieces):
                            ids_file.write(padded.ids)
                            lengths.append(padded.lengths)
                            true_lengths.append(counts)
                            truncated += padded.truncated
                            empty += padded.empty
                            out_of_vocabulary += unknown
                        labels.append(to_numpy(batch.column("label")).astype(np.int64))
                finally:
                    ids_file.close()  # an error or Ctrl-C in the loop propagates as it is
                ids_file.check_complete()
                all_lengths = np.concatenate(true_lengths) if true_lengths else np.zeros(0, int)
                np.save(directory / f"{name}{LABELS_SUFFIX}", np.concatenate(labels))
                np.save(directory / f"{name}{LENGTHS_SUFFIX}", np.concatenate(lengths))
                kept = int(np.minimum(all_lengths, params.length).sum())
                splits[name] = {
                    "rows": rows,
                    "length_percentiles": _percentiles(all_lengths),
                    "share_truncated": round(truncated / max(1, rows), 6),
                    "oov_rate": round(out_of_vocabulary / kept, 6) if kept else 0.0,
                    "empty_texts": empty,
                }
                advance(1)
        empty = sum(split["empty_texts"] for split in splits.values())
        if empty:
            progress.note(
                f"encode: {empty} texts empty after normalization, encoded as one OOV token"
            )
        return {
            "splits": splits,
            "length": params.length,
            "padding": params.padding,
            "vocab_size": len(vocabulary),
            "label_names": normalized.stats["label_names"],
            "num_classes": normalized.stats["num_classes"],
        }

    return store.produce(
        STAGE.identity_of(params, {"normalized": normalized, "vocab": vocab}),
        build=build,
        output=output,
        force=force,
        notice=progress.note,
    )
