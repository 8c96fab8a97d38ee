"""Text normalization and tokenization: one definition, two implementations.

The definition is the ``tokenizers`` normalizer and pre-tokenizer built here, which ``vocab`` saves
in ``tokenizer.json`` so that prediction treats raw text exactly as training did:

1. ``strip_html``: every tag ``<[A-Za-z/!][^<>]*>`` becomes a space;
2. ``lowercase``: Unicode lowercasing;
3. ``strip_punctuation``: every Unicode punctuation or symbol character (P*, S*) is removed;
4. ``collapse_whitespace``: runs of whitespace (Python's ``str.isspace`` set) become one space,
   and the ends are trimmed;

then tokens are the pieces between whitespace.

The bulk implementation gets the same result much faster. Rows whose characters all lie in
Latin-1 (U+0000-U+00FF; 99% of IMDB) go through Arrow compute kernels, with character classes
spelled out for that range and checked against the definition character by character in the
tests; any other row goes through the ``tokenizers`` normalizer itself, so it is exact by
construction. The work is split across threads (Arrow kernels release the GIL).
"""

from __future__ import annotations

import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from tokenizers import Tokenizer
    from tokenizers.normalizers import Normalizer
    from tokenizers.pre_tokenizers import PreTokenizer

    from textpipe.config import NormalizeParams

PAD_TOKEN = "[PAD]"
OOV_TOKEN = "[UNK]"
PAD_ID = 0
OOV_ID = 1
SPECIAL_TOKENS = (PAD_TOKEN, OOV_TOKEN)

HTML_TAG_PATTERN = r"<[A-Za-z/!][^<>]*>"
PUNCTUATION_PATTERN = r"[\p{P}\p{S}]"
# Python's str.isspace() set, so that " ".join(text.split()) is the reference.
WHITESPACE_CHARACTERS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(code) for code in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
LATIN1_LIMIT = 0xFF


def _escaped_class(codes: list[int], *, style: str) -> str:
    """A regex character class body of code points, as ranges (``re2`` or ``onig`` escapes)."""
    parts = []
    index = 0
    while index < len(codes):
        end = index
        while end + 1 < len(codes) and codes[end + 1] == codes[end] + 1:
            end += 1
        first, last = codes[index], codes[end]
        if style == "re2":
            piece = f"\\x{{{first:x}}}" + (f"-\\x{{{last:x}}}" if last > first else "")
        else:
            piece = f"\\x{{{first:X}}}" + (f"-\\x{{{last:X}}}" if last > first else "")
        parts.append(piece)
        index = end + 1
    return "".join(parts)


def _is_punctuation_or_symbol(character: str) -> bool:
    return unicodedata.category(character)[0] in "PS"


LATIN1_PUNCTUATION_CODES = [
    code for code in range(LATIN1_LIMIT + 1) if _is_punctuation_or_symbol(chr(code))
]
WHITESPACE_CODES = sorted(ord(character) for character in WHITESPACE_CHARACTERS)
LATIN1_WHITESPACE_CODES = [code for code in WHITESPACE_CODES if code <= LATIN1_LIMIT]

# re2 (Arrow) patterns for the Latin-1 fast path.
_RE2_PUNCTUATION = "[" + _escaped_class(LATIN1_PUNCTUATION_CODES, style="re2") + "]+"
_RE2_OTHER_WHITESPACE = (
    "[" + _escaped_class([c for c in LATIN1_WHITESPACE_CODES if c != 0x20], style="re2") + "]"
)
_RE2_WHITESPACE = "[" + _escaped_class(LATIN1_WHITESPACE_CODES, style="re2") + "]"
# Runs of two or more, or one that is not a plain space: a lone space needs no replacement.
_RE2_WHITESPACE_TO_COLLAPSE = f"{_RE2_WHITESPACE}{{2,}}|{_RE2_OTHER_WHITESPACE}"
_RE2_BEYOND_LATIN1 = r"[^\x{0}-\x{ff}]"
# Oniguruma (tokenizers) pattern for the definition.
WHITESPACE_RUN_PATTERN = "[" + _escaped_class(WHITESPACE_CODES, style="onig") + "]+"


def default_threads() -> int:
    """Threads for bulk text work: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def build_normalizer(params: NormalizeParams) -> Normalizer | None:
    """The ``tokenizers`` normalizer that defines textpipe's normalization (None: no step on)."""
    from tokenizers import Regex, normalizers

    steps: list[Any] = []
    if params.strip_html:
        steps.append(normalizers.Replace(Regex(HTML_TAG_PATTERN), " "))
    if params.lowercase:
        steps.append(normalizers.Lowercase())
    if params.strip_punctuation:
        steps.append(normalizers.Replace(Regex(PUNCTUATION_PATTERN), ""))
    if params.collapse_whitespace:
        steps.append(normalizers.Replace(Regex(WHITESPACE_RUN_PATTERN), " "))
        steps.append(normalizers.Strip())
    if not steps:
        return None
    return normalizers.Sequence(steps)


def build_pre_tokenizer() -> PreTokenizer:
    """Tokens are the pieces between runs of whitespace."""
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Split(Regex(WHITESPACE_RUN_PATTERN), behavior="removed")


def build_tokenizer(vocabulary: dict[str, int], params: NormalizeParams) -> Tokenizer:
    """A WordLevel tokenizer over ``vocabulary`` that carries the normalizer and pre-tokenizer."""
    from tokenizers import Tokenizer, models

    tokenizer = Tokenizer(models.WordLevel(vocab=vocabulary, unk_token=OOV_TOKEN))
    normalizer = build_normalizer(params)
    if normalizer is not None:
        tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = build_pre_tokenizer()
    tokenizer.add_special_tokens([PAD_TOKEN, OOV_TOKEN])
    return tokenizer


@lru_cache(maxsize=8)
def _cached_normalizer(params: NormalizeParams) -> Normalizer | None:
    return build_normalizer(params)


def _chunks(array: pa.Array, count: int) -> list[pa.Array]:
    size = -(-len(array) // count)
    return [array.slice(start, size) for start in range(0, len(array), size)] or [array]


def _map_chunks(function: Any, array: pa.Array, threads: int) -> pa.Array:
    import pyarrow as pa

    if threads <= 1 or len(array) < 2048:
        return function(array)
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(function, _chunks(array, threads)))
    return pa.concat_arrays(parts)


def _normalize_latin1(array: pa.Array, params: NormalizeParams) -> pa.Array:
    """Arrow kernels, exact for rows whose characters are all Latin-1 (checked in the tests)."""
    from textpipe.arrays import compute, compute_options

    def replace(array: pa.Array, pattern: str, replacement: str) -> pa.Array:
        options = compute_options("ReplaceSubstringOptions", pattern, replacement)
        return compute("replace_substring_regex", array, options=options)

    if params.strip_html:
        array = replace(array, HTML_TAG_PATTERN, " ")
    if params.lowercase:
        array = compute("utf8_lower", array)
    if params.strip_punctuation:
        array = replace(array, _RE2_PUNCTUATION, "")
    if params.collapse_whitespace:
        array = replace(array, _RE2_WHITESPACE_TO_COLLAPSE, " ")
        array = compute("utf8_trim", array, options=compute_options("TrimOptions", " "))
    return array


def normalize_array(
    texts: pa.Array, params: NormalizeParams, *, threads: int | None = None
) -> pa.Array:
    """Normalize an Arrow string array as ``build_normalizer(params)`` would, row by row.

    Rows whose characters are all Latin-1 take the Arrow-kernel path; rows with any character
    beyond Latin-1 go through the ``tokenizers`` normalizer itself.
    """
    import pyarrow as pa

    parts = normalize_parts(texts, params, threads=threads)
    if len(parts) == 1 and isinstance(parts[0], pa.Array):
        return parts[0]
    return pa.chunked_array(parts, pa.string()).combine_chunks()


def normalize_parts(
    texts: pa.Array, params: NormalizeParams, *, threads: int | None = None
) -> list[pa.Array | pa.ChunkedArray]:
    """``normalize_array`` in consecutive parts, one per thread, never joined (a copy of the
    text that a caller writing the parts one after the other does not need)."""
    import pyarrow as pa

    from textpipe.arrays import cast

    texts = cast(texts, pa.string()) if texts.type != pa.string() else texts
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    normalizer = _cached_normalizer(params)
    if len(texts) == 0 or normalizer is None:
        return [texts]
    threads = threads or default_threads()
    pieces = _chunks(texts, threads) if threads > 1 and len(texts) >= 2048 else [texts]
    if len(pieces) == 1:
        return [_normalize_piece(texts, params, normalizer)]
    with ThreadPoolExecutor(len(pieces)) as pool:
        return list(pool.map(lambda piece: _normalize_piece(piece, params, normalizer), pieces))


def _normalize_piece(
    texts: pa.Array, params: NormalizeParams, normalizer: Normalizer
) -> pa.Array | pa.ChunkedArray:
    """One thread's share: the Arrow kernels, then the rows with characters beyond Latin-1
    from the definition, spliced in between slices of the kernels' result (no copy)."""
    import numpy as np
    import pyarrow as pa

    from textpipe.arrays import compute, compute_options, numpy_array, string_array, to_numpy

    result = _normalize_latin1(texts, params)
    non_ascii = compute("invert", compute("string_is_ascii", texts))
    if not compute("any", non_ascii).as_py():
        return result
    # Only the non-ASCII rows (a few percent) need the check for characters beyond Latin-1.
    candidates = np.flatnonzero(to_numpy(non_ascii))
    beyond = to_numpy(
        compute(
            "match_substring_regex",
            compute("take", texts, numpy_array(candidates)),
            options=compute_options("MatchSubstringOptions", _RE2_BEYOND_LATIN1),
        )
    )
    rows = candidates[beyond]
    if not len(rows):
        return result
    beyond_latin1 = compute("take", texts, numpy_array(rows)).to_pylist()
    exact = string_array([normalizer.normalize_str(text) for text in beyond_latin1])
    if len(rows) > max(MAX_SPLICED_ROWS, len(texts) // 256):
        # Many rows (a corpus in another script): one copy, rather than two chunks a row that
        # every writer downstream would pay for row by row.
        return pa.concat_arrays(_spliced(result, exact, rows))
    return pa.chunked_array(_spliced(result, exact, rows), pa.string())


# Up to this many rows normalized one by one are spliced in as chunks between slices of the
# fast path's result; beyond it (and beyond 1 row in 256) the parts are joined in one copy.
MAX_SPLICED_ROWS = 64


def _spliced(result: pa.Array, exact: pa.Array, rows: np.ndarray) -> list[pa.Array]:
    """Slices of ``result`` with row ``rows[i]`` replaced by ``exact[i]``."""
    parts = []
    start = 0
    for index, row in enumerate(rows.tolist()):
        parts += [result.slice(start, row - start), exact.slice(index, 1)]
        start = row + 1
    parts.append(result.slice(start))
    return parts


def split_tokens(
    normalized: pa.Array,
    params: NormalizeParams,
    *,
    threads: int | None = None,
    max_tokens: int | None = None,
    from_end: bool = False,
) -> pa.ListArray:
    """Tokens of normalized texts, as the pre-tokenizer splits them (no empty tokens).

    With ``max_tokens`` (and collapsed whitespace), a row with more tokens is split only
    ``max_tokens`` times, from its start or ``from_end``: the unsplit rest is one extra piece
    at the end (or start) that truncation then drops, so long texts cost no more than short ones.
    """
    import pyarrow as pa

    from textpipe.arrays import compute, to_numpy

    if isinstance(normalized, pa.ChunkedArray):
        normalized = normalized.combine_chunks()
    threads = threads or default_threads()

    def split(chunk: pa.Array) -> pa.Array:
        return split_pieces(chunk, params, max_tokens=max_tokens, from_end=from_end)

    tokens = _map_chunks(split, normalized, threads)
    flat = compute("list_flatten", tokens)
    empty = to_numpy(compute("binary_length", flat)) == 0
    if empty.any():
        tokens = _drop_flat(tokens, empty)
    return tokens


@dataclass(frozen=True)
class SpacedTokens:
    """The tokens of texts whose whitespace is collapsed, found in the texts' own bytes.

    ``starts`` holds where each token starts in ``characters``, row after row; a token runs to
    the next one's start (or to ``end``), so each token but the last of its row keeps the space
    that follows it. ``counts`` holds the tokens of each row (0 for an empty text).
    """

    text_type: pa.DataType
    characters: pa.Buffer
    starts: np.ndarray
    end: int
    counts: np.ndarray

    def pieces(self, max_tokens: int | None = None, *, from_end: bool = False) -> pa.Array:
        """The tokens as a string array over ``characters`` (no copy); a row's last token has
        no space after it, the others have one, so a lookup must know each token both ways.
        With ``max_tokens``, a longer row keeps its first ``max_tokens`` tokens (its last,
        ``from_end``) and its rest as one piece more, as ``split_tokens`` does."""
        import numpy as np
        import pyarrow as pa

        starts = self.starts
        if max_tokens is not None and np.any(self.counts > max_tokens + 1):
            long_rows = np.flatnonzero(self.counts > max_tokens + 1)
            first = (np.cumsum(self.counts) - self.counts)[long_rows]
            dropped = self.counts[long_rows] - max_tokens - 1
            # the dropped starts of a long row: after its first max_tokens + 1 (from the start)
            # or after its first one, the rest's (from the end)
            begin = first + (1 if from_end else max_tokens + 1)
            steps = np.arange(int(dropped.sum())) - np.repeat(np.cumsum(dropped) - dropped, dropped)
            starts = np.delete(starts, np.repeat(begin, dropped) + steps)
        offsets = np.empty(len(starts) + 1, starts.dtype)
        offsets[:-1] = starts
        offsets[-1] = self.end
        return pa.Array.from_buffers(
            self.text_type, len(starts), [None, pa.py_buffer(offsets), self.characters]
        )


def spaced_tokens(texts: pa.Array) -> SpacedTokens | None:
    """The tokens of texts that are single-spaced and trimmed (``collapse_whitespace``), as
    ``split_tokens`` splits them but without copying their characters; None where a text is
    null or not so spaced, for which ``split_tokens`` is the way."""
    import numpy as np
    import pyarrow as pa

    if (
        not isinstance(texts, pa.Array)
        or texts.null_count
        or texts.type not in (pa.string(), pa.large_string())
    ):
        return None
    offset_type = np.int32 if texts.type == pa.string() else np.int64
    offsets_buffer, characters = texts.buffers()[1:3]
    row_offsets = np.frombuffer(offsets_buffer, offset_type)[
        texts.offset : texts.offset + len(texts) + 1
    ]
    if characters is None or len(row_offsets) < 2 or row_offsets[-1] == row_offsets[0]:
        return None
    data = np.frombuffer(characters, np.uint8)
    first, last = int(row_offsets[0]), int(row_offsets[-1])
    spaces = np.flatnonzero(data[first:last] == ord(" "))
    # after each space a token starts
    after_spaces = np.add(spaces, first + 1, dtype=offset_type, casting="unsafe")
    non_empty = row_offsets[1:] > row_offsets[:-1]
    row_starts = row_offsets[:-1][non_empty]
    if (
        (len(after_spaces) > 1 and np.any(np.diff(after_spaces) == 1))
        or np.any(data[row_starts] == ord(" "))
        or np.any(data[row_offsets[1:][non_empty] - 1] == ord(" "))
    ):
        return None  # a run of spaces or one at an end: not collapsed
    starts = np.insert(after_spaces, np.searchsorted(after_spaces, row_starts), row_starts)
    # a row's spaces lie in (its start, its end]: one token more than spaces, if not empty
    counts = np.diff(np.searchsorted(after_spaces, row_offsets, side="right")) + non_empty
    return SpacedTokens(
        text_type=texts.type,
        characters=characters,
        starts=starts,
        end=last,
        counts=counts,
    )


def split_pieces(
    normalized: pa.Array,
    params: NormalizeParams,
    *,
    max_tokens: int | None = None,
    from_end: bool = False,
) -> pa.ListArray:
    """``split_tokens`` on the calling thread, empty pieces kept: the tokens and, where a text
    is empty (or, without collapsed whitespace, starts or ends with whitespace), an empty
    piece that is no token."""
    from textpipe.arrays import compute, compute_options

    if params.collapse_whitespace:
        # Single spaces only, no leading or trailing ones: only an empty text makes an empty
        # piece.
        options = compute_options(
            "SplitPatternOptions", " ", max_splits=max_tokens, reverse=from_end
        )
        return compute("split_pattern", normalized, options=options)
    options = compute_options("SplitPatternOptions", _re2_whitespace_all())
    return compute("split_pattern_regex", normalized, options=options)


@lru_cache(maxsize=1)
def _re2_whitespace_all() -> str:
    return "[" + _escaped_class(WHITESPACE_CODES, style="re2") + "]+"


def _drop_flat(lists: pa.ListArray, drop: np.ndarray) -> pa.ListArray:
    """Remove the flat values selected by the mask ``drop`` from a list array, keeping the rows."""
    import numpy as np
    import pyarrow as pa

    from textpipe.arrays import bool_array, compute, numpy_array, to_numpy

    offsets = to_numpy(lists.offsets)
    offsets = offsets - offsets[0]
    cumulative = np.concatenate([[0], np.cumsum(drop, dtype=np.int64)])
    new_offsets = (offsets - cumulative[offsets]).astype(np.int32)
    values = compute("filter", compute("list_flatten", lists), bool_array(~drop))
    return pa.ListArray.from_arrays(numpy_array(new_offsets), values)
