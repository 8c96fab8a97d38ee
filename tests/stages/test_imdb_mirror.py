"""The real IMDB, read from the local mirror; skipped (with the reason) when it is absent."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import MIRROR, requires_mirror
from textpipe.cli.main import cli

pytestmark = [pytest.mark.mirror, requires_mirror]


def test_imdb_sample_from_download_to_evaluation(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TEXTPIPE_MIRROR", str(MIRROR))
    runner = CliRunner()
    out = tmp_path / "b"
    steps = [
        [
            "download",
            "stanfordnlp/imdb",
            "--limit",
            "300",
            "--validation-size",
            "0.2",
            "-o",
            out / "imdb",
        ],
        ["normalize", out / "imdb", "--strip-html", "-o", out / "normalized"],
        ["vocab", out / "normalized", "--size", "1024", "-o", out / "vocab"],
        [
            "encode",
            out / "normalized",
            "--vocab",
            out / "vocab",
            "--length",
            "64",
            "-o",
            out / "encoded",
        ],
        ["train", out / "encoded", "--model", "bag", "--epochs", "2", "-o", out / "model"],
        ["evaluate", out / "model", out / "encoded", "-o", out / "evaluation"],
    ]
    for step in steps:
        result = runner.invoke(cli, [str(part) for part in step], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    manifest = json.loads((out / "imdb" / "manifest.json").read_text())
    assert manifest["stats"]["label_names"] == ["neg", "pos"]
    assert manifest["stats"]["splits"]["test"]["class_counts"] == [150, 150]
    tokenizer = json.loads((out / "vocab" / "tokenizer.json").read_text())
    assert len(tokenizer["model"]["vocab"]) == 1026
    assert np.load(out / "encoded" / "test.ids.npy").shape == (300, 64)
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    assert metrics["examples"] == 300 and 0 <= metrics["accuracy"] <= 1
    second = runner.invoke(cli, [str(part) for part in steps[0]])
    assert " cached " in second.output


@pytest.mark.slow
def test_full_imdb_fast_path_ids_equal_tokenizer_json(tmp_path, monkeypatch) -> None:
    """Slow sibling of test_encode's parity test: all 50,000 reviews (about a minute)."""
    from tokenizers import Tokenizer

    from textpipe.artifacts import Store
    from textpipe.config import DownloadParams, EncodeParams, NormalizeParams, VocabParams
    from textpipe.stages.download import download
    from textpipe.stages.encode import encode, pad_ids
    from textpipe.stages.normalize import normalize
    from textpipe.stages.tables import read_split
    from textpipe.stages.vocab import build_vocab

    monkeypatch.setenv("TEXTPIPE_MIRROR", str(MIRROR))
    store = Store()
    dataset = download(params=DownloadParams(source="stanfordnlp/imdb"), store=store).artifact
    normalized = normalize(
        dataset=dataset, params=NormalizeParams(strip_html=True), store=store
    ).artifact
    vocab = build_vocab(normalized=normalized, params=VocabParams(size=20000), store=store).artifact
    encoded = encode(
        normalized=normalized, vocab=vocab, params=EncodeParams(length=256), store=store
    ).artifact
    tokenizer = Tokenizer.from_file(str(vocab.path / "tokenizer.json"))
    for split in ("train", "test"):
        texts = read_split(dataset, split).column("text").to_pylist()
        encodings = tokenizer.encode_batch(texts)
        lengths = [len(encoding.ids) for encoding in encodings]
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        flat = np.fromiter((i for encoding in encodings for i in encoding.ids), dtype=np.int32)
        expected = pad_ids(flat, offsets, length=256, padding="post", truncation="post").ids
        assert np.array_equal(np.load(encoded.path / f"{split}.ids.npy"), expected)
