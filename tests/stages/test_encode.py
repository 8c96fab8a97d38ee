"""The encode stage: padding/truncation, empty texts, and parity with tokenizer.json."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from tests.conftest import encode_chain, write_csv
from tests.test_textops import LATIN1_SAMPLES, TRICKY
from textpipe.artifacts import Store
from textpipe.config import DownloadParams, EncodeParams, NormalizeParams
from textpipe.errors import InputError
from textpipe.stages.download import download
from textpipe.stages.encode import _percentiles, encode, pad_ids
from textpipe.stages.normalize import normalize
from textpipe.stages.vocab import TOKENIZER_FILE


def python_pad(rows: list[list[int]], length: int, padding: str, truncation: str) -> np.ndarray:
    out = []
    for row in rows:
        if len(row) > length:
            row = row[:length] if truncation == "post" else row[-length:]
        row = row or [1]
        pad = [0] * (length - len(row))
        out.append(row + pad if padding == "post" else pad + row)
    return np.array(out, dtype=np.int32)


@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("truncation", ["post", "pre"])
@pytest.mark.parametrize("length", [1, 4, 9, 10, 11])  # 10: one id too many at most
def test_pad_ids_matches_a_python_reference(padding: str, truncation: str, length: int) -> None:
    rng = np.random.default_rng(length)
    rows = [rng.integers(2, 50, rng.integers(0, 12)).tolist() for _ in range(200)]
    assert max(len(row) for row in rows) == 11
    offsets = np.concatenate([[0], np.cumsum([len(row) for row in rows])])
    flat = np.array([token for row in rows for token in row], dtype=np.int32)
    padded = pad_ids(flat, offsets, length=length, padding=padding, truncation=truncation)
    assert padded.ids.dtype == np.int32
    assert np.array_equal(padded.ids, python_pad(rows, length, padding, truncation))
    assert padded.lengths.tolist() == [max(1, min(len(row), length)) for row in rows]
    assert padded.truncated == sum(len(row) > length for row in rows)
    assert padded.empty == sum(not row for row in rows)


def test_length_percentiles_equal_numpy_percentile() -> None:
    rng = np.random.default_rng(7)
    samples = [np.zeros(0, np.int64), np.array([5]), np.array([3, 3]), np.arange(101)]
    for _ in range(2000):
        high = int(rng.choice([2, 40, 3000, 10**6]))
        samples.append(rng.integers(0, high, int(rng.integers(1, 400))))
    for values in samples:
        expected = {"p50": 0, "p90": 0, "p95": 0, "p99": 0, "max": 0}
        if len(values):
            found = np.percentile(values, (50, 90, 95, 99))
            expected = {f"p{p}": int(v) for p, v in zip((50, 90, 95, 99), found, strict=True)}
            expected["max"] = int(values.max())
        assert _percentiles(values) == expected


def chain(path: Path, store: Store, *, size: int = 50, length: int = 6, **options):
    return encode_chain(path, store, size=size, length=length, **options)


def test_outputs_and_statistics(reviews_csv: Path, reviews_test_csv: Path) -> None:
    _, _, outcome = chain(reviews_csv, Store(), test=reviews_test_csv)
    path = outcome.artifact.path
    ids = np.load(path / "train.ids.npy")
    assert ids.shape == (12, 6) and ids.dtype == np.int32
    assert np.load(path / "train.labels.npy").dtype == np.int64
    assert np.load(path / "test.ids.npy").shape == (4, 6)
    lengths = np.load(path / "train.lengths.npy")
    assert ((ids != 0).sum(axis=1) == lengths).all()
    stats = outcome.artifact.stats["splits"]["train"]
    assert 0 < stats["share_truncated"] < 1
    assert set(stats["length_percentiles"]) == {"p50", "p90", "p95", "p99", "max"}


def test_empty_text_becomes_one_oov_token(tmp_path: Path) -> None:
    rows = [("good film", "pos"), ("!!! ...", "neg"), ("bad film", "neg"), ("good", "pos")]
    _, _, outcome = chain(write_csv(tmp_path / "e.csv", rows), Store(), length=4)
    ids = np.load(outcome.artifact.path / "train.ids.npy")
    assert ids[1].tolist() == [1, 0, 0, 0]
    assert outcome.artifact.stats["splits"]["train"]["empty_texts"] == 1
    _, _, pre = chain(write_csv(tmp_path / "e.csv", rows), Store(), length=4, padding="pre")
    assert np.load(pre.artifact.path / "train.ids.npy")[1].tolist() == [0, 0, 0, 1]


def test_fast_path_ids_equal_tokenizer_json_ids(tmp_path: Path) -> None:
    texts = TRICKY + LATIN1_SAMPLES + ["The film was GOOD, the film was bad"] * 5
    rows = [(text, "pos" if index % 2 else "neg") for index, text in enumerate(texts)]
    path = tmp_path / "tricky.jsonl"
    import json

    path.write_text(
        "".join(json.dumps({"text": text, "label": label}) + "\n" for text, label in rows)
    )
    _, vocab, outcome = chain(path, Store(), size=300, length=12)
    tokenizer = Tokenizer.from_file(str(vocab.path / TOKENIZER_FILE))
    expected = python_pad(
        [encoding.ids for encoding in tokenizer.encode_batch(texts)], 12, "post", "post"
    )
    assert np.array_equal(np.load(outcome.artifact.path / "train.ids.npy"), expected)
    assert (expected == 1).any() and (expected > 2).any()


def test_vocabulary_from_another_normalization_is_rejected(reviews_csv: Path) -> None:
    store = Store()
    _, vocab, _ = chain(reviews_csv, store)
    dataset = download(params=DownloadParams(source=str(reviews_csv)), store=store).artifact
    other = normalize(
        dataset=dataset, params=NormalizeParams(lowercase=False), store=store
    ).artifact
    with pytest.raises(InputError, match="normalized with"):
        encode(normalized=other, vocab=vocab, params=EncodeParams(length=4), store=store)


def test_changed_length_reencodes_but_keeps_the_vocabulary(reviews_csv: Path) -> None:
    store = Store()
    _, vocab, first = chain(reviews_csv, store, length=6)
    _, vocab_again, second = chain(reviews_csv, store, length=8)
    assert vocab_again.key == vocab.key
    assert second.status == "built" and second.artifact.key != first.artifact.key


@pytest.mark.parametrize("truncation", ["post", "pre"])
def test_length_statistics_count_every_token_of_long_texts(tmp_path: Path, truncation: str) -> None:
    rows = [
        (" ".join(["word"] * count) + " end", "pos" if count % 2 else "neg")
        for count in (2, 5, 9, 30, 31)
    ]
    _, _, outcome = chain(
        write_csv(tmp_path / "long.csv", rows), Store(), length=6, truncation=truncation
    )
    stats = outcome.artifact.stats["splits"]["train"]
    assert stats["length_percentiles"]["max"] == 32
    assert stats["length_percentiles"]["p50"] == 10
    assert stats["share_truncated"] == pytest.approx(3 / 5)
    ids = np.load(outcome.artifact.path / "train.ids.npy")
    end_id = ids[0][2]
    assert (ids[3][-1] == end_id) == (truncation == "pre")


def test_encoded_gives_typed_access_to_an_encode_artifact(encoded_artifact) -> None:
    from textpipe.stages.encode import Encoded

    data = Encoded(encoded_artifact)
    assert (data.length, data.padding, data.truncation) == (12, "post", "post")
    assert data.vocab_size == encoded_artifact.stats["vocab_size"] and data.num_classes == 2
    assert set(data.split_names) == {"train", "validation", "test"} and data.has_split("test")
    ids, labels = data.split("train")
    assert ids.shape == (len(labels), 12) and set(labels.tolist()) <= {0, 1}
    assert data.vocab_key == encoded_artifact.input_key("vocab")


@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("truncation", ["post", "pre"])
@pytest.mark.parametrize("length", [1, 2, 39, 40, 41])
def test_ids_over_the_texts_bytes_equal_ids_of_split_tokens(
    padding: str, truncation: str, length: int
) -> None:
    import pyarrow as pa

    from tests.conftest import collapsed_texts
    from textpipe.stages.encode import VocabularyLookup, _encode_split_texts, encode_texts

    texts = pa.array(collapsed_texts(seed=length)).slice(2)
    vocabulary = VocabularyLookup.of(["[PAD]", "[UNK]", "the", "é", "日本", "bb", "[unk]"])
    params = EncodeParams(length=length, padding=padding, truncation=truncation)
    normalize_params = NormalizeParams()
    padded, counts = encode_texts(
        texts, vocabulary, normalize_params=normalize_params, params=params
    )
    expected, expected_counts = _encode_split_texts(
        texts, vocabulary.tokens, normalize_params=normalize_params, params=params
    )
    assert np.array_equal(padded.ids, expected.ids)
    assert np.array_equal(padded.lengths, expected.lengths)
    assert np.array_equal(counts, expected_counts)
    assert (padded.truncated, padded.empty) == (expected.truncated, expected.empty)
    assert {2, 3, 4, 5, 6, 1} <= set(np.unique(padded.ids).tolist())  # every id is reached


@pytest.mark.parametrize(
    "tokens",
    [["[PAD]", "[UNK]", "a", "a "], ["[PAD]", "[UNK]", "b", "a"]],
    ids=["a token with its space", "plain"],
)
def test_a_foreign_vocabulary_or_chunked_texts_are_encoded_as_split_tokens_are(
    tokens: list[str],
) -> None:
    import pyarrow as pa

    from textpipe.stages.encode import VocabularyLookup, _encode_split_texts, encode_texts

    lookup = VocabularyLookup.of(tokens)
    params = EncodeParams(length=2)
    for texts in (
        pa.array(["a b", "b a a"]),
        pa.chunked_array([pa.array(["a b"]), pa.array(["a"])]),
    ):
        padded, counts = encode_texts(
            texts, lookup, normalize_params=NormalizeParams(), params=params
        )
        expected, expected_counts = _encode_split_texts(
            texts, lookup.tokens, normalize_params=NormalizeParams(), params=params
        )
        assert np.array_equal(padded.ids, expected.ids)
        assert np.array_equal(counts, expected_counts)
    assert (lookup.spaced is None) == ("a " in tokens)
