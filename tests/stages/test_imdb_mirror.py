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
