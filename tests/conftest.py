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


def write_csv(path: Path, rows: list[tuple[str, object]], header: tuple[str, str] = ("text", "label")) -> Path:
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
