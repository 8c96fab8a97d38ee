"""Normalization: the definition (tokenizers) and the fast path agree, step by step."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest

from textpipe.artifacts import Store
from textpipe.config import DownloadParams, NormalizeParams
from textpipe.errors import ArtifactError
from textpipe.stages.download import download
from textpipe.stages.normalize import normalize
from textpipe.stages.tables import read_split
from textpipe.textops import build_normalizer, normalize_array

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


def test_stage_writes_every_split_and_counts_empty_texts(
    tmp_path, reviews_csv, reviews_test_csv
) -> None:
    store = Store()
    dataset = download(
        params=DownloadParams(source=str(reviews_csv), test_file=str(reviews_test_csv)), store=store
    ).artifact
    outcome = normalize(dataset=dataset, params=NormalizeParams(strip_html=True), store=store)
    train = read_split(outcome.artifact, "train")
    assert train.column("text")[0].as_py() == "a wonderful moving film loved it"
    assert (
        train.column("label").to_pylist()
        == read_split(dataset, "train").column("label").to_pylist()
    )
    assert set(outcome.artifact.stats["splits"]) == {"train", "test"}
    assert outcome.artifact.stats["label_names"] == ["neg", "pos"]
    again = normalize(dataset=dataset, params=NormalizeParams(strip_html=True), store=store)
    assert again.status == "cached"
    changed = normalize(dataset=dataset, params=NormalizeParams(), store=store)
    assert changed.status == "built" and changed.artifact.key != outcome.artifact.key


def test_wrong_input_stage_is_rejected(reviews_csv) -> None:
    from textpipe.artifacts import open_artifact

    store = Store()
    dataset = download(params=DownloadParams(source=str(reviews_csv)), store=store).artifact
    normalized = normalize(dataset=dataset, params=NormalizeParams(), store=store).artifact
    with pytest.raises(ArtifactError, match="expected an artifact of stage download"):
        open_artifact(normalized.path, stage=("download",))


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
