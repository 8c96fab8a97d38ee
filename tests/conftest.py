"""Shared fixtures: every test gets its own artifact root and small datasets written here."""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass
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


def isolate(monkeypatch: pytest.MonkeyPatch, folder: Path) -> Path:
    """Point the cache (and the Hugging Face cache) under ``folder``, offline; the cache root."""
    root = folder / "artifacts"
    monkeypatch.setenv("TEXTPIPE_HOME", str(root))
    monkeypatch.delenv("TEXTPIPE_MIRROR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(folder / "hf-cache"))
    return root


@pytest.fixture(autouse=True)
def artifact_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the cache at a fresh folder so no test touches a real cache."""
    return isolate(monkeypatch, tmp_path)


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


# -- trained stores, built once and copied into each test that uses one ------------------------


@dataclass(frozen=True)
class TrainedStore:
    """A store in which presets were run, and the folder holding those presets."""

    root: Path
    folder: Path

    def preset(self, name: str) -> Path:
        return self.folder / f"{name}.toml"


def run_presets(folder: Path, *presets: Path) -> Path:
    """``textpipe run`` each preset into the store ``folder/artifacts``, as a test would."""
    from click.testing import CliRunner

    from textpipe.cli.main import cli

    with pytest.MonkeyPatch.context() as monkeypatch:
        root = isolate(monkeypatch, folder)
        for preset in presets:
            result = CliRunner().invoke(cli, ["run", str(preset)], catch_exceptions=False)
            assert result.exit_code == 0, result.output
    return root


def copy_store(source: Path, target: Path) -> Path:
    """A copy of a store (its stored files stay read-only): what a test changes stays there.

    The store's memo of verified files is keyed by path and inode, so it is rebuilt for the
    copy, leaving it as it would be had its artifacts been built there.
    """
    from textpipe.artifacts import VERIFIED_DIR, Store

    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(VERIFIED_DIR))
    store = Store(target)
    for manifest in sorted(target.glob("*/*/manifest.json")):
        store.inspect(manifest.parent)
    return target


@pytest.fixture(scope="session")
def tiny_run_store(tmp_path_factory: pytest.TempPathFactory) -> TrainedStore:
    """The tiny preset (``tiny``: bag model, 2 epochs) run once for the whole session.

    Never change it: take a copy (``trained_run``) in a test that writes to its store.
    """
    folder = tmp_path_factory.mktemp("tiny-run")
    train_csv = write_csv(folder / "sentiment.csv", sentiment_rows(64))
    test_csv = write_csv(folder / "sentiment-test.csv", sentiment_rows(24, seed=1))
    preset = tiny_pipeline_toml(folder / "tiny.toml", train_csv, test_csv)
    return TrainedStore(root=run_presets(folder, preset), folder=folder)


@pytest.fixture
def trained_run(tiny_run_store: TrainedStore, artifact_root: Path) -> Path:
    """The tiny preset, already run: this test's store is a copy of ``tiny_run_store``'s.

    Returns the preset's path (its run is named ``tiny``).
    """
    copy_store(tiny_run_store.root, artifact_root)
    return tiny_run_store.preset("tiny")


def collapsed_texts(seed: int, rows: int = 300) -> list[str]:
    """Single-spaced, trimmed texts of up to 40 tokens, some empty, some one token long, with
    characters of one to four bytes in UTF-8."""
    import random

    rng = random.Random(seed)
    words = ["a", "bb", "é", "naïve", "日本", "😀x", "the", "z" * 30, "[unk]"]
    sizes = [0, 1, 2, 39, 40, 41] + [rng.randrange(0, 41) for _ in range(rows - 6)]
    return [" ".join(rng.choice(words) for _ in range(size)) for size in sizes]
