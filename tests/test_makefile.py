"""The Makefile's worked example, run with make on a tiny pipeline.

Slow (make starts about 23 textpipe processes, each importing Keras): ``pytest -m slow`` runs it.
Its fast sibling is ``tests/cli/test_data_stages.py``, the same stages chained through ``-o``
folders and the cache in one process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
]


def make(tmp_path: Path, dataset: Path, *, jobs: int = 2, **overrides: str) -> str:
    variables = {
        "B": str(tmp_path / "build"),
        "DATASET": str(dataset),
        "TEXTPIPE": f"{sys.executable} -m textpipe",
        "MODELS": "bag mlp",
        "download_ARGS": "--validation-size 0.25",
        "vocab_ARGS": "--size 40",
        "encode_ARGS": "--length 12",
        "train_ARGS": "--epochs 1 --batch-size 16 --embedding-dim 8 --units 8",
        "evaluate_ARGS": "--split validation",
        **overrides,
    }
    command = ["make", "-C", str(REPO_ROOT), f"-j{jobs}", "imdb"]
    command += [f"{name}={value}" for name, value in variables.items()]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def stage_commands(output: str) -> list[str]:
    """The textpipe commands make ran (make echoes each recipe line)."""
    return [line.split()[3] for line in output.splitlines() if " -m textpipe " in line]


def test_make_chain_rebuilds_only_what_changed(tmp_path: Path, sentiment_csv: Path) -> None:
    first = make(tmp_path, sentiment_csv)
    expected = ["download", "normalize", "vocab", "encode", "train", "train", "evaluate"]
    assert sorted(stage_commands(first)) == sorted([*expected, "evaluate", "report"])
    assert "| run |" in first
    assert stage_commands(make(tmp_path, sentiment_csv)) == []

    changed = stage_commands(make(tmp_path, sentiment_csv, vocab_ARGS="--size 30"))
    assert "download" not in changed and "normalize" not in changed
    assert changed.count("vocab") == 1 and changed.count("train") == 2

    # Back to the first vocabulary: make re-runs those stages, textpipe serves them from its cache.
    back = make(tmp_path, sentiment_csv, jobs=1)
    assert stage_commands(back).count("train") == 2
    assert "vocab     cached" in back and "train     cached" in back
    assert " built " not in back
