"""The click group (``textpipe/cli/main.py``): one-line errors, ``--debug``, a light ``--help``,
and the console script, through click's runner and a real subprocess where it matters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from textpipe.cli.main import cli


def test_errors_are_one_line_with_exit_code_and_traceback_only_under_debug(
    runner, tmp_path: Path
) -> None:
    result = runner.invoke(cli, ["normalize", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {tmp_path / 'missing'}: no such artifact directory."
    ]
    result = runner.invoke(cli, ["vocab", str(tmp_path), "--size", "0"])  # checked first
    assert result.exit_code == 2 and "Error: --size: expected a positive integer" in result.output
    result = runner.invoke(cli, ["vocab", str(tmp_path), "--size", "10"])
    assert result.exit_code == 1 and "not a textpipe artifact" in result.output
    debug = runner.invoke(cli, ["--debug", "normalize", str(tmp_path / "missing")])
    assert "Traceback" in debug.output and debug.exit_code == 1
    assert "TEXTPIPE_DEBUG" not in os.environ  # --debug lasts one command


def test_help_does_not_import_tensorflow() -> None:
    modules = _modules_after_running(
        ["--help"], ["train", "--help"], ["run", "--help"], ["report", "--help"]
    )

    assert not {"tensorflow", "keras", "jax", "torch", "datasets"} & modules


def test_a_stage_command_imports_its_own_command_module_only() -> None:
    modules = _modules_after_running(["vocab", "--help"])

    shared = {"textpipe.cli.main", "textpipe.cli.common", "textpipe.cli.console"}
    commands = {name for name in modules if name.startswith("textpipe.cli.")} - shared
    assert commands == {"textpipe.cli.vocab"}


def test_help_lists_every_command_in_pipeline_order(runner) -> None:
    from textpipe.cli.main import COMMAND_NAMES

    output = runner.invoke(cli, ["--help"]).output
    lines = output.split("Commands:", 1)[1].splitlines()
    listed = [line.split()[0] for line in lines if line.startswith("  ") and line.strip()]
    assert listed == list(COMMAND_NAMES)


def test_console_script_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "textpipe", "--version"], capture_output=True, text=True, check=True
    )
    assert "textpipe, version" in result.stdout


def _modules_after_running(*commands: list[str]) -> set[str]:
    """The modules a fresh interpreter has imported after running these textpipe commands."""
    code = (
        "import json, sys\n"
        "from textpipe.cli.main import cli\n"
        f"for args in {list(commands)!r}:\n"
        "    try:\n        cli.main(args, standalone_mode=False)\n"
        "    except SystemExit:\n        pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(output.splitlines()[-1]))


def test_an_unknown_keras_backend_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from textpipe.backend import checked_backend_name, load_keras
    from textpipe.errors import InputError

    monkeypatch.setenv("KERAS_BACKEND", "bogus")
    with pytest.raises(InputError, match="KERAS_BACKEND='bogus' is not a Keras backend"):
        checked_backend_name()
    load_keras.cache_clear()  # a process's first load checks it (cached afterwards)
    with pytest.raises(InputError, match="bogus"):
        load_keras()
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert checked_backend_name() == "jax"
    monkeypatch.setenv("KERAS_BACKEND", "")  # set but empty: unset, as Keras reads it
    assert checked_backend_name() == "tensorflow"
