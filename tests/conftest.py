"""Shared fixtures: every test gets its own artifact root and small datasets written here."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("TEXTPIPE_MIRROR") or REPO_ROOT.parent / "shared" / "datasets")

POSITIVE = [
    "A wonderful, moving film. Loved it!",
    "Great acting and a superb story.",
    "Brilliant! I would watch it again.",
    "An excellent, touching drama<br /><br />Highly recommended.",
    "Superb direction; wonderful cast.",
    "Loved every minute: great fun.",
]
NEGATIVE = [
    "Terrible plot and awful acting.",
    "Boring, dull and far too long...",
    "The worst film I have seen this year.",
    "Awful! A waste of time<br />Avoid.",
    "Dull characters, terrible script.",
    "I hated it; boring from start to end.",
]


@pytest.fixture(autouse=True)
def artifact_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the cache at a fresh folder so no test touches a real cache."""
    root = tmp_path / "artifacts"
    monkeypatch.setenv("TEXTPIPE_HOME", str(root))
    monkeypatch.delenv("TEXTPIPE_MIRROR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    return root


def write_csv(
    path: Path, rows: list[tuple[str, object]], header: tuple[str, str] = ("text", "label")
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def review_rows(repeat: int = 1) -> list[tuple[str, str]]:
    rows = [(text, "pos") for text in POSITIVE] + [(text, "neg") for text in NEGATIVE]
    return rows * repeat


@pytest.fixture
def reviews_csv(tmp_path: Path) -> Path:
    """A 12-row sentiment CSV with string labels."""
    return write_csv(tmp_path / "reviews.csv", review_rows())


@pytest.fixture
def reviews_test_csv(tmp_path: Path) -> Path:
    rows = [("Wonderful and superb!", "pos"), ("Awful, boring film.", "neg")] * 2
    return write_csv(tmp_path / "reviews-test.csv", rows)


@pytest.fixture
def reviews_jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        for text, label in review_rows():
            stream.write(json.dumps({"review": text, "sentiment": label}) + "\n")
    return path


def mirror_imdb() -> Path:
    return MIRROR / "stanfordnlp" / "imdb"


requires_mirror = pytest.mark.skipif(
    not mirror_imdb().is_dir(),
    reason=f"IMDB mirror not found at {mirror_imdb()} (set TEXTPIPE_MIRROR to ../shared/datasets)",
)


POSITIVE_WORDS = ["good", "great", "superb", "wonderful", "excellent", "loved"]
NEGATIVE_WORDS = ["bad", "awful", "terrible", "boring", "dull", "hated"]
FILLER = ["the", "film", "was", "a", "movie", "plot", "and", "it", "this", "acting"]


def sentiment_rows(count: int, seed: int = 0, classes: int = 2) -> list[tuple[str, str]]:
    """Easy synthetic reviews: the label is carried by a few sentiment words among filler."""
    import random

    rng = random.Random(seed)
    vocabularies = [NEGATIVE_WORDS, POSITIVE_WORDS, ["okay", "fine", "average", "mixed"]][:classes]
    names = ["neg", "pos", "mid"][:classes]
    rows = []
    for index in range(count):
        label = index % classes
        words = rng.sample(FILLER, 5) + rng.sample(vocabularies[label], 2)
        rng.shuffle(words)
        rows.append((" ".join(words).capitalize() + "!", names[label]))
    return rows


@pytest.fixture
def sentiment_csv(tmp_path: Path) -> Path:
    """64 training rows of easy synthetic sentiment."""
    return write_csv(tmp_path / "sentiment.csv", sentiment_rows(64))


@pytest.fixture
def sentiment_test_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "sentiment-test.csv", sentiment_rows(24, seed=1))


def encode_chain(
    source: Path,
    store=None,
    *,
    test: Path | None = None,
    validation_size: float = 0.0,
    strip_html: bool = True,
    size: int = 40,
    length: int = 12,
    **encode_options,
):
    """download → normalize → vocab → encode on a small file: (normalized, vocab, outcome)."""
    from textpipe.artifacts import Store
    from textpipe.config import DownloadParams, EncodeParams, NormalizeParams, VocabParams
    from textpipe.stages.download import download
    from textpipe.stages.encode import encode
    from textpipe.stages.normalize import normalize
    from textpipe.stages.vocab import build_vocab

    store = store or Store()
    dataset = download(
        params=DownloadParams(
            source=str(source),
            test_file=str(test) if test else None,
            validation_size=validation_size,
        ),
        store=store,
    ).artifact
    normalized = normalize(
        dataset=dataset, params=NormalizeParams(strip_html=strip_html), store=store
    ).artifact
    vocab = build_vocab(normalized=normalized, params=VocabParams(size=size), store=store).artifact
    encoded = encode(
        normalized=normalized,
        vocab=vocab,
        params=EncodeParams(length=length, **encode_options),
        store=store,
    )
    return normalized, vocab, encoded


@pytest.fixture
def encoded_artifact(sentiment_csv: Path, sentiment_test_csv: Path):
    """A tiny encode artifact (vocabulary 40, length 12) with train, validation and test."""
    return encode_chain(
        sentiment_csv, test=sentiment_test_csv, validation_size=0.25, strip_html=False
    )[2].artifact


TINY_MODEL = {"embedding_dim": 8, "units": 8}


def tiny_pipeline_toml(path: Path, source: Path, test_file: Path, model: str = "bag") -> Path:
    path.write_text(
        f'description = "tiny test pipeline"\n'
        f'[download]\nsource = "{source}"\ntest_file = "{test_file}"\nvalidation_size = 0.25\n'
        f"[normalize]\nstrip_html = true\n"
        f"[vocab]\nsize = 40\n"
        f"[encode]\nlength = 12\n"
        f'[train]\nmodel = "{model}"\nepochs = 2\nbatch_size = 16\nlearning_rate = 0.01\n'
        f"embedding_dim = 8\nunits = 8\n"
        f'[evaluate]\nsplit = "test"\n'
    )
    return path
