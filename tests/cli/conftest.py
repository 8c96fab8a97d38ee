"""What the command tests share: click's runner, and invoking a command with any path-like args."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from textpipe.cli.main import cli


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: object, input: str | None = None):
    return runner.invoke(cli, [str(arg) for arg in args], input=input, catch_exceptions=False)
