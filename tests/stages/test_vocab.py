"""The vocab stage: id layout, frequency order, ties, size, and the saved tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer

from tests.conftest import write_csv
from textpipe.artifacts import Store
from textpipe.config import DownloadParams, NormalizeParams, VocabParams
from textpipe.stages.download import download
from textpipe.stages.normalize import normalize
from textpipe.stages.vocab import COUNTS_FILE, TOKENIZER_FILE, build_vocab


def normalized_from(path: Path, store: Store, **normalize_options):
    dataset = download(params=DownloadParams(source=str(path)), store=store).artifact
    return normalize(
        dataset=dataset, params=NormalizeParams(**normalize_options), store=store
    ).artifact


@pytest.fixture
def counted_csv(tmp_path: Path) -> Path:
    # "the" x4, "film" x3, "good" x2, "bad" x2 (tie: bad < good), "zebra" x1, "apple" x1
    rows = [
        ("The film, the GOOD film.", "pos"),
        ("the bad film", "neg"),
        ("The good; bad zebra apple", "pos"),
        ("nothing", "neg"),
    ]
    return write_csv(tmp_path / "counted.csv", rows)


def test_ids_pad_oov_then_descending_frequency_with_deterministic_ties(counted_csv: Path) -> None:
    store = Store()
    outcome = build_vocab(
        normalized=normalized_from(counted_csv, store), params=VocabParams(size=5), store=store
    )
    tokenizer = Tokenizer.from_file(str(outcome.artifact.path / TOKENIZER_FILE))
    vocab = tokenizer.get_vocab()
    assert vocab["[PAD]"] == 0 and vocab["[UNK]"] == 1
    ordered = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])][2:]
    assert ordered == ["the", "film", "bad", "good", "apple"]
    stats = outcome.artifact.stats
    assert stats["vocab_size"] == 7 and stats["distinct_tokens"] == 7
    assert stats["training_tokens"] == 14
    assert stats["coverage"] == pytest.approx(12 / 14, abs=1e-6)
    lines = (outcome.artifact.path / COUNTS_FILE).read_text().splitlines()
    assert lines[1] == "2\tthe\t4"


def test_tokenizer_carries_normalizer_and_pre_tokenizer(counted_csv: Path) -> None:
    store = Store()
    outcome = build_vocab(
        normalized=normalized_from(counted_csv, store), params=VocabParams(size=5), store=store
    )
    tokenizer = Tokenizer.from_file(str(outcome.artifact.path / TOKENIZER_FILE))
    assert tokenizer.encode("THE Film!!  unknownword").ids == [2, 3, 1]


def test_min_frequency(counted_csv: Path) -> None:
    store = Store()
    outcome = build_vocab(
        normalized=normalized_from(counted_csv, store),
        params=VocabParams(size=100, min_frequency=2),
        store=store,
    )
    assert outcome.artifact.stats["tokens_kept"] == 4
    assert outcome.artifact.stats["min_count_kept"] == 2


def test_size_1024_gives_1026_ids(tmp_path: Path) -> None:
    words = [f"w{index}" for index in range(1500)]
    rows = [
        (" ".join(words[start : start + 50]), "pos" if start % 100 else "neg")
        for start in range(0, 1500, 50)
    ]
    store = Store()
    outcome = build_vocab(
        normalized=normalized_from(write_csv(tmp_path / "wide.csv", rows), store),
        params=VocabParams(size=1024),
        store=store,
    )
    tokenizer = Tokenizer.from_file(str(outcome.artifact.path / TOKENIZER_FILE))
    assert tokenizer.get_vocab_size() == 1026
    assert sorted(tokenizer.get_vocab().values()) == list(range(1026))


def test_counts_over_the_texts_bytes_equal_counts_of_split_tokens() -> None:
    import pyarrow as pa

    from tests.conftest import collapsed_texts
    from textpipe.stages.vocab import _merge_counts, _rank, _text_counts, count_tokens
    from textpipe.textops import split_tokens

    texts = pa.array(collapsed_texts(seed=5, rows=2000))
    counted = _rank(_merge_counts([_text_counts(texts, NormalizeParams(), threads=2)]))
    expected = count_tokens(split_tokens(texts, NormalizeParams()), threads=1)
    assert counted.to_pylist() == expected.to_pylist()
    assert "[unk]" in counted.column("token").to_pylist()
