"""``textpipe/textops.py``: the normalization definition (the ``tokenizers`` normalizer) and
its fast bulk implementation agree, step by step; tokens are split as the pre-tokenizer splits
them; the saved tokenizer carries both."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest

from tests.conftest import collapsed_texts
from textpipe.config import NormalizeParams
from textpipe.textops import (
    OOV_ID,
    PAD_ID,
    build_normalizer,
    build_tokenizer,
    normalize_array,
    spaced_tokens,
    split_tokens,
)

TRICKY = [
    "Hello, World! It's GREAT.",
    "Multiple   spaces\tand\ttabs\nand newlines  ",
    "<br /><br />Tags<i>inside</i> text, and a < b > c comparison",
    "Ünïcödé ÀÉÎÕÜ café naïve façade — “quotes” ‘single’ «guillemets»",
    "Symbols: $100 + 5% = €? © ® ™ ° ± × ÷ ¿¡",
    "İstanbul ΟΔΟΣ ΣΟΦΙΑ Straße ẞ ǅ",
    "emoji 😀👍🏽 and 日本語テキスト、句読点。",
    "nbsp\xa0here, nel\x85there, thin\u2009space, ideographic\u3000space",
    "file separator\x1cx\x1dy\x1ez\x1fw",
    "",
    "   ",
    "!!!",
    "under_score and hy-phen and slash/ed",
]
LATIN1_SAMPLES = [f"Ab{chr(code)}cD {chr(code)} x{chr(code)}" for code in range(256)]


@pytest.mark.parametrize(
    "flags",
    list(itertools.product([False, True], repeat=4)),
    ids=lambda flags: "".join("LPHW"[i] if f else "-" for i, f in enumerate(flags)),
)
def test_fast_path_equals_the_tokenizers_definition(flags: tuple[bool, ...]) -> None:
    params = NormalizeParams(
        lowercase=flags[0],
        strip_punctuation=flags[1],
        strip_html=flags[2],
        collapse_whitespace=flags[3],
    )
    texts = TRICKY + LATIN1_SAMPLES
    fast = normalize_array(pa.array(texts * 200), params, threads=2).to_pylist()
    normalizer = build_normalizer(params)
    expected = [normalizer.normalize_str(text) if normalizer else text for text in texts] * 200
    assert fast == expected


def test_semantics_on_examples() -> None:
    params = NormalizeParams(strip_html=True)
    out = normalize_array(pa.array(TRICKY[:3] + TRICKY[5:6]), params).to_pylist()
    assert out[0] == "hello world its great"
    assert out[1] == "multiple spaces and tabs and newlines"
    assert out[2] == "tags inside text and a b c comparison"
    # tokenizers lowercases character by character: no final-sigma rule (Python would give ς)
    assert out[3] == "i̇stanbul οδοσ σοφια straße ß ǆ"


def test_each_step_can_be_switched_off() -> None:
    text = pa.array(["Hi,  <b>THERE</b>!"])
    assert normalize_array(text, NormalizeParams(lowercase=False)).to_pylist() == ["Hi bTHEREb"]
    assert normalize_array(text, NormalizeParams(strip_punctuation=False)).to_pylist() == [
        "hi, <b>there</b>!"
    ]
    assert normalize_array(text, NormalizeParams(strip_html=True)).to_pylist() == ["hi there"]
    assert normalize_array(text, NormalizeParams(collapse_whitespace=False)).to_pylist() == [
        "hi  bthereb"
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_path_equals_the_definition_on_random_text(seed: int) -> None:
    import random

    rng = random.Random(seed)
    alphabet = "aB  \t\n-.,!<>/'x\x0b\x1cé\xa0\x85É©…ΣЖ"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(3000)]
    for params in (
        NormalizeParams(),
        NormalizeParams(strip_html=True),
        NormalizeParams(lowercase=False),
    ):
        normalizer = build_normalizer(params)
        expected = [normalizer.normalize_str(text) for text in texts]
        assert normalize_array(pa.array(texts), params, threads=2).to_pylist() == expected
        assert (
            normalize_array(pa.array(texts).slice(7), params, threads=1).to_pylist() == expected[7:]
        )


def test_split_tokens_are_the_pieces_between_whitespace() -> None:
    texts = pa.array(["a b c d", "", "one"])
    collapsed = NormalizeParams()
    assert split_tokens(texts, collapsed).to_pylist() == [["a", "b", "c", "d"], [], ["one"]]
    # at most max_tokens splits: the unsplit rest is one last (or first) piece
    assert split_tokens(texts, collapsed, max_tokens=2).to_pylist() == [
        ["a", "b", "c d"],
        [],
        ["one"],
    ]
    assert split_tokens(texts, collapsed, max_tokens=2, from_end=True).to_pylist() == [
        ["a b", "c", "d"],
        [],
        ["one"],
    ]
    # without collapsed whitespace: split at any run of whitespace, no empty tokens
    raw = pa.array(["  a\t\tb  ", "", "x\u3000y\xa0z"])
    assert split_tokens(raw, NormalizeParams(collapse_whitespace=False)).to_pylist() == [
        ["a", "b"],
        [],
        ["x", "y", "z"],
    ]


def test_tokenizer_normalizes_splits_and_maps_unknown_words_to_oov() -> None:
    vocabulary = {"[PAD]": PAD_ID, "[UNK]": OOV_ID, "good": 2, "film": 3}
    tokenizer = build_tokenizer(vocabulary, NormalizeParams())
    assert tokenizer.encode("Good,  FILM! unseen").ids == [2, 3, OOV_ID]
    assert tokenizer.encode("").ids == []


def test_a_corpus_beyond_latin1_comes_back_in_few_parts_with_the_exact_text() -> None:
    from textpipe.textops import MAX_SPLICED_ROWS, normalize_parts

    params = NormalizeParams(strip_html=True)
    normalizer = build_normalizer(params)
    many = [f"Привет, мир № {index}!" if index % 2 else f"Hello {index}" for index in range(2000)]
    few = [f"Hello {index}" for index in range(2000)]
    few[7] = few[1500] = "ΟΔΟΣ Straße"

    for texts in (many, few):
        (part,) = normalize_parts(pa.array(texts), params, threads=1)

        assert part.to_pylist() == [normalizer.normalize_str(text) for text in texts]
        # a few rows are spliced in as chunks; many are joined, not one chunk pair a row
        chunks = part.num_chunks if isinstance(part, pa.ChunkedArray) else 1
        assert chunks <= 2 * MAX_SPLICED_ROWS + 1
    assert isinstance(normalize_parts(pa.array(many), params, threads=1)[0], pa.Array)


@pytest.mark.parametrize("text_type", [pa.string(), pa.large_string()])
@pytest.mark.parametrize("max_tokens", [None, 1, 2, 39, 40])
@pytest.mark.parametrize("from_end", [False, True])
def test_spaced_tokens_are_split_tokens_without_a_copy(
    text_type: pa.DataType, max_tokens: int | None, from_end: bool
) -> None:
    texts = pa.array(collapsed_texts(seed=max_tokens or 0), text_type).slice(3)  # an offset
    expected = split_tokens(texts, NormalizeParams(), max_tokens=max_tokens, from_end=from_end)
    spaced = spaced_tokens(texts)
    assert spaced is not None
    assert spaced.counts.tolist() == [
        len(tokens) for tokens in split_tokens(texts, NormalizeParams()).to_pylist()
    ]
    pieces = spaced.pieces(max_tokens, from_end=from_end).to_pylist()
    # the same pieces, row after row, each but a row's last with its space
    flat = [token for tokens in expected.to_pylist() for token in tokens]
    assert [piece.rstrip(" ") for piece in pieces] == flat
    last_of_row = set((expected.offsets.to_numpy()[1:] - 1).tolist())
    assert [piece.endswith(" ") for piece in pieces] == [
        index not in last_of_row for index in range(len(pieces))
    ]
    assert (
        spaced.pieces(max_tokens, from_end=from_end).buffers()[2].address
        == texts.buffers()[2].address
    )


@pytest.mark.parametrize(
    "texts",
    [["a b", None], ["a  b"], [" a"], ["a "], ["", "", ""], []],
    ids=["null", "double space", "leading space", "trailing space", "all empty", "no rows"],
)
def test_spaced_tokens_refuse_texts_that_are_not_single_spaced(texts: list[str | None]) -> None:
    assert spaced_tokens(pa.array(texts, pa.string())) is None


def test_spaced_tokens_leave_chunked_arrays_to_split_tokens() -> None:
    assert spaced_tokens(pa.chunked_array([pa.array(["a b"]), pa.array(["c"])])) is None
