"""The Makefile's worked example, run with make on a tiny pipeline."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(tmp_path: Path, dataset: Path, *extra: str) -> str:
    command = [
        "make",
        "-C",
        str(REPO_ROOT),
        "-j2",
        "imdb",
        f"B={tmp_path / 'build'}",
        f"DATASET={dataset}",
        f"TEXTPIPE={sys.executable} -m textpipe",
        "MODELS=bag mlp",
        "download_ARGS=--validation-size 0.25",
        "vocab_ARGS=--size 40",
        "encode_ARGS=--length 12",
        "train_ARGS=--epochs 1 --batch-size 16 --embedding-dim 8 --units 8",
        *extra,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def stage_commands(output: str) -> list[str]:
    return [line.split()[3] for line in output.splitlines() if " -m textpipe " in line]


def test_make_chain_rebuilds_only_what_changed(tmp_path: Path, sentiment_csv: Path) -> None:
    first = make(tmp_path, sentiment_csv)
    assert sorted(stage_commands(first)) == sorted(
        [
            "download",
            "normalize",
            "vocab",
            "encode",
            "train",
            "train",
            "evaluate",
            "evaluate",
            "report",
        ]
    )
    assert "| run |" in first
    assert stage_commands(make(tmp_path, sentiment_csv)) == []
    changed = make(tmp_path, sentiment_csv, "vocab_ARGS=--size 30")
    assert "download" not in stage_commands(changed) and "normalize" not in stage_commands(changed)
    assert (
        stage_commands(changed).count("vocab") == 1 and stage_commands(changed).count("train") == 2
    )
    # back to the first vocabulary: make re-runs the stages, textpipe serves them from its cache
    back = subprocess.run(
        [
            "make",
            "-C",
            str(REPO_ROOT),
            "imdb",
            f"B={tmp_path / 'build'}",
            f"DATASET={sentiment_csv}",
            f"TEXTPIPE={sys.executable} -m textpipe",
            "MODELS=bag mlp",
            "download_ARGS=--validation-size 0.25",
            "vocab_ARGS=--size 40",
            "encode_ARGS=--length 12",
            "train_ARGS=--epochs 1 --batch-size 16 --embedding-dim 8 --units 8",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "vocab     cached" in back.stdout and "train     cached" in back.stdout
    assert " built " not in back.stdout
