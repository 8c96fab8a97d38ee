"""The data stage commands: ``download``, ``normalize``, ``vocab`` and ``encode``, chained through
explicit ``-o`` folders and the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tests.cli.conftest import invoke
from tests.conftest import REPO_ROOT
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


def run_python(
    script: str, *arguments: object, environment: dict[str, str] | None = None, **options: Any
) -> subprocess.CompletedProcess[str]:
    """``python -c script arguments...`` on this checkout, as a stage process runs (output
    captured unless ``options`` say otherwise)."""
    options = {"capture_output": True, **options}
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, arguments)],
        env={**(environment or os.environ), "PYTHONPATH": str(REPO_ROOT)},
        text=True,
        **options,
    )


def test_stage_processes_import_only_what_they_use(
    runner, tmp_path: Path, reviews_csv: Path
) -> None:
    """normalize, vocab and encode run as processes of their own (make runs them so): each
    import is start-up time, so none imports another command, rich (stderr is no terminal
    here), the report, the model zoo, pandas, a deep-learning library, or ``pyarrow.compute``
    (its ~300 function wrappers, about 25 ms; ``textpipe.arrays.compute`` calls them by name)."""
    out = tmp_path / "build"
    assert invoke(runner, "download", reviews_csv, "-o", out / "dataset").exit_code == 0
    script = (
        "import atexit, sys\n"
        "from textpipe.cli.main import main\n"
        "unwanted = ('rich', 'pandas', 'datasets', 'tensorflow', 'keras', 'jax', 'torch',\n"
        "            'pyarrow.compute', 'textpipe.report', 'textpipe.models',\n"
        "            'textpipe.cli.train')\n"
        "atexit.register(lambda: print('UNWANTED:', [n for n in unwanted if n in sys.modules]))\n"
        "main()\n"
    )
    stages = [
        ("normalize", out / "dataset", "--strip-html", "-o", out / "normalized"),
        ("vocab", out / "normalized", "--size", "20", "-o", out / "vocab"),
        ("encode", out / "normalized", "--vocab", out / "vocab", "--length", "8", "-o", out / "e"),
    ]
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("FORCE_COLOR", "TTY_COMPATIBLE")  # these make rich draw on a pipe
    }
    for stage in stages:
        result = run_python(script, *stage, environment=environment)
        assert result.returncode == 0, result.stderr[-2000:]
        assert " built " in result.stdout
        assert "UNWANTED: []" in result.stdout, (stage[0], result.stdout)


def test_stage_processes_end_without_tearing_the_interpreter_down(
    runner, tmp_path: Path, reviews_csv: Path
) -> None:
    """A data stage's process ends once its exit handlers have run and its output is flushed,
    without the interpreter's teardown of every module (~25 ms after numpy and pyarrow); other
    commands, and a stage under a profiler, end as usual."""
    out = tmp_path / "build"
    assert invoke(runner, "download", reviews_csv, "-o", out / "dataset").exit_code == 0
    script = (
        "import atexit, sys\n"
        "from textpipe.cli.main import main\n"
        "atexit.register(lambda: print('EXIT HANDLERS RAN'))\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"  # what ends the process as usual
        "    print('ENDED AS USUAL')\n"
        "    raise\n"
    )
    built = run_python(script, "normalize", out / "dataset", "-o", out / "normalized")
    assert built.returncode == 0, built.stderr[-2000:]
    assert " built " in built.stdout and "EXIT HANDLERS RAN" in built.stdout
    assert "ENDED AS USUAL" not in built.stdout
    assert (out / "normalized" / "manifest.json").is_file()
    failed = run_python(script, "vocab", out / "missing", "-o", out / "vocab")
    assert failed.returncode == 1 and "Error:" in failed.stderr
    assert "ENDED AS USUAL" not in failed.stdout
    listed = run_python(script, "presets")
    assert listed.returncode == 0 and "imdb-lstm" in listed.stdout
    assert "ENDED AS USUAL" in listed.stdout and "EXIT HANDLERS RAN" in listed.stdout
    # with standard output closed (`>&-`): sys.stdout is None, the build still succeeds
    closed = run_python(
        script,
        *("vocab", out / "normalized", "-o", out / "vocab"),
        capture_output=False,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
    )
    assert closed.returncode == 0, closed.stderr[-2000:]
    assert (out / "vocab" / "manifest.json").is_file()
    # under a profiler (`python -m cProfile` writes its figures once main returns): as usual
    profiled_script = script.replace("try:\n", "sys.setprofile(lambda *event: None)\ntry:\n")
    profiled = run_python(
        profiled_script, "normalize", out / "dataset", "-o", out / "normalized", "--force"
    )
    assert profiled.returncode == 0 and "ENDED AS USUAL" in profiled.stdout
