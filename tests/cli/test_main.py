"""The click group (``textpipe/cli/main.py``): one-line errors, ``--debug``, a light ``--help``,
and the console script, through click's runner and a real subprocess where it matters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
    code = (
        "import sys\n"
        "from textpipe.cli.main import cli\n"
        "for args in (['--help'], ['train', '--help'], ['run', '--help'], ['report', '--help']):\n"
        "    try:\n        cli.main(args, standalone_mode=False)\n"
        "    except SystemExit:\n        pass\n"
        "heavy = ('tensorflow', 'keras', 'jax', 'torch', 'datasets')\n"
        "print('HEAVY:', sorted(name for name in heavy if name in sys.modules))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "HEAVY: []" in output


def test_console_script_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "textpipe", "--version"], capture_output=True, text=True, check=True
    )
    assert "textpipe, version" in result.stdout
