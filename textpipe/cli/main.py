"""The ``textpipe`` command group and the boundary that turns errors into one clear line."""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys
import traceback
from collections.abc import Iterator
from typing import Any

import click

from textpipe import __version__
from textpipe.errors import TextpipeError


def debug_enabled(context: click.Context | None = None) -> bool:
    if os.environ.get("TEXTPIPE_DEBUG", "") not in ("", "0"):
        return True
    root = context.find_root() if context else None
    return bool(root and root.obj and root.obj.get("debug"))


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


# One module per command under textpipe.cli, each named after its command, in pipeline order
# (the order `--help` lists them).
COMMAND_NAMES = (
    "download",
    "normalize",
    "vocab",
    "encode",
    "train",
    "evaluate",
    "ensemble",
    "run",
    "presets",
    "report",
    "predict",
    "show",
    "models",
    "verify",
)


class TextpipeGroup(click.Group):
    """A group that reports TextpipeError as ``Error: ...`` and exits non-zero.

    A command's module is imported when the command is looked up, so a stage process imports
    its own command only (the others bring the report, the model zoo, rich tables...).
    """

    resolved: str | None = None  # the command being run, for `main`

    def list_commands(self, context: click.Context) -> list[str]:
        return [*COMMAND_NAMES, *(name for name in self.commands if name not in COMMAND_NAMES)]

    def get_command(self, context: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMAND_NAMES:
            self.add_command(importlib.import_module(f"textpipe.cli.{name}").command)
        return super().get_command(context, name)

    def resolve_command(
        self, context: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(context, args)
        self.resolved = name
        return name, command, rest

    def invoke(self, context: click.Context) -> Any:
        try:
            return super().invoke(context)
        except TextpipeError as error:
            if debug_enabled(context):
                traceback.print_exc()
            message = _in_command_terms(str(error), context)
            click.echo(f"Error: {message}", err=True)
            context.exit(error.exit_code)
        except Terminated:
            click.echo("Terminated; nothing half-written was kept.", err=True)
            context.exit(143)
        except KeyboardInterrupt:
            click.echo("Interrupted; nothing half-written was kept.", err=True)
            context.exit(130)
        except MemoryError:
            if debug_enabled(context):
                traceback.print_exc()
            click.echo(
                "Error: out of memory; use smaller settings (encode.length, batch_size, "
                "vocab.size) or a sample (download --limit).",
                err=True,
            )
            context.exit(1)
        except OSError as error:
            if error.errno == errno.EPIPE:  # `textpipe report | head`: click handles it
                raise
            # Disk full, permission denied, read-only file system...: one line, with the path.
            if debug_enabled(context):
                traceback.print_exc()
            where = f"{error.filename}: " if error.filename else ""
            reason = error.strerror or str(error)
            click.echo(f"Error: {where}{reason}. Nothing half-written was kept.", err=True)
            context.exit(1)


def _in_command_terms(message: str, context: click.Context) -> str:
    """A stage command's errors name its options rather than the parameters' preset names."""
    from textpipe.config import PARAMS_BY_STAGE

    command = context.invoked_subcommand
    if command not in PARAMS_BY_STAGE:
        return message
    from textpipe.cli.common import with_option_names

    return with_option_names(message, PARAMS_BY_STAGE[command])


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so the same clean-up runs."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


@click.group(cls=TextpipeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="textpipe")
@click.option("--debug", is_flag=True, help="Show tracebacks (also TEXTPIPE_DEBUG=1).")
@click.pass_context
def cli(context: click.Context, debug: bool) -> None:
    """Text classification from download to a trained, evaluated model, one cached stage at a time.

    Each stage reads artifact directories and writes one, cached under TEXTPIPE_HOME
    (default ./data) by a key of its parameters and inputs, so unchanged work is skipped.

    \b
    Quick start:
      textpipe run imdb-lstm          # download → ... → evaluate, all cached
      textpipe report                 # compare the trained models
      echo "a wonderful film" | textpipe predict imdb-lstm
    """
    context.ensure_object(dict)
    context.obj["debug"] = debug
    if debug:
        # library code (backend start-up logs) reads the variable; restored when the command ends
        context.with_resource(_environment("TEXTPIPE_DEBUG", "1"))


# The data stages close every file they write and join every thread they start before they
# return; what else they load (numpy, pyarrow, tokenizers, `datasets` in download) cleans up
# in exit handlers, which still run: their processes may end without tearing the interpreter
# down.
QUICK_EXIT_COMMANDS = frozenset({"download", "normalize", "vocab", "encode"})


def main() -> None:
    """Console-script entry point."""
    import signal

    signal.signal(signal.SIGTERM, _raise_terminated)
    cli.resolved = None
    try:
        cli.main(prog_name="textpipe")
    except SystemExit as ending:
        quick = cli.resolved in QUICK_EXIT_COMMANDS and not _observed()
        if quick and isinstance(ending.code, int | None):
            _quick_exit(ending.code or 0)
        raise


def _observed() -> bool:
    """A profiler, tracer or debugger watches this process: it may report once `main` returns
    (`python -m cProfile` writes its figures then), so the process must end as usual."""
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return True
    monitoring = getattr(sys, "monitoring", None)  # Python 3.12+: cProfile, debuggers
    return monitoring is not None and any(
        monitoring.get_tool(tool) is not None
        for tool in (monitoring.PROFILER_ID, monitoring.DEBUGGER_ID)
    )


def _quick_exit(code: int) -> None:
    """End the process now, skipping the interpreter's teardown of every module and object
    (tens of milliseconds once numpy and pyarrow are imported, against a few hundred for a
    small stage): exit handlers still run and the standard streams are flushed."""
    import atexit

    atexit._run_exitfuncs()  # private, but the one way to run them and then skip the teardown
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # closed (`>&-`) or absent (pythonw)
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
