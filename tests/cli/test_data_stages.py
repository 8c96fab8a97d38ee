"""The data stage commands: ``download``, ``normalize``, ``vocab`` and ``encode``, chained through
explicit ``-o`` folders and the cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.cli.conftest import invoke
from textpipe.cli.main import cli


def test_data_stages_chain_through_explicit_outputs_and_cache(
    runner, tmp_path: Path, reviews_csv: Path
) -> None:
    out = tmp_path / "build"
    commands = [
        ("download", reviews_csv, "-o", out / "dataset"),
        ("normalize", out / "dataset", "--strip-html", "-o", out / "normalized"),
        ("vocab", out / "normalized", "--size", "20", "-o", out / "vocab"),
        (
            "encode",
            out / "normalized",
            "--vocab",
            out / "vocab",
            "--length",
            "8",
            "-o",
            out / "encoded",
        ),
    ]
    for command in commands:
        result = invoke(runner, *command)
        assert result.exit_code == 0, result.output
        assert " built " in result.output
    assert np.load(out / "encoded" / "train.ids.npy").shape == (12, 8)
    for command in commands:
        assert " cached " in invoke(runner, *command).output
    result = invoke(runner, "vocab", out / "normalized", "--size", "10", "-o", out / "vocab")
    assert " built " in result.output
    assert json.loads((out / "vocab" / "manifest.json").read_text())["params"]["size"] == 10


def test_bad_option_value_is_a_config_error(runner, reviews_csv: Path) -> None:
    result = runner.invoke(cli, ["download", str(reviews_csv), "--validation-size", "2"])
    assert result.exit_code == 2
    assert (
        "Error: --validation-size: expected a non-negative number below 1, got 2.0."
        in result.output
    )
