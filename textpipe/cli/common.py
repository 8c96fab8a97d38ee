"""Options and output helpers shared by the stage commands."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from textpipe.artifacts import Outcome, Store
from textpipe.config import Params, check_override, field_types, repeated_override
from textpipe.errors import ConfigError

ParamsType = TypeVar("ParamsType", bound=Params)
Command = TypeVar("Command", bound=Callable[..., Any])


def output_options(function: Command) -> Command:
    """``-o/--output`` and ``--force``, the options every stage command takes."""
    function = click.option(
        "--force", is_flag=True, help="Rebuild even when the artifact is cached."
    )(function)
    function = click.option(
        "-o",
        "--output",
        type=click.Path(file_okay=False, path_type=Path),
        help="Also write the artifact to this directory (for Makefiles).",
    )(function)
    return function


def model_code_options(function: Command) -> Command:
    """``--model-code`` and ``--trust-code``: where a custom model's code may come from."""
    function = click.option(
        "--trust-code",
        is_flag=True,
        help="Run the custom model code named in the model's manifest (only for models you trust).",
    )(function)
    function = click.option(
        "--model-code",
        metavar="FILE.py:FUNCTION",
        help="The custom builder a model was trained with; textpipe never runs code a manifest "
        "names unless you pass --trust-code.",
    )(function)
    return function


def threads_option(function: Command) -> Command:
    return click.option(
        "--threads",
        type=click.IntRange(min=1),
        default=None,
        help="Threads for bulk text work  [default: usable cores].",
    )(function)


class _Unset:
    """``none`` typed for an optional parameter: unset it (distinct from "not given")."""

    def __repr__(self) -> str:
        return "none"


UNSET = _Unset()


class _OptionalValue(click.ParamType):
    """An optional parameter's value on the command line: its type, or ``none``."""

    def __init__(self, inner: click.ParamType) -> None:
        self.inner = inner
        self.name = inner.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.lower() == "none":
            return UNSET
        return self.inner.convert(value, param, ctx)


def _shown_default(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _model_note(option: str) -> str:
    """Which zoo models use a model option, for its help."""
    from textpipe.models import list_models

    models = list_models()
    users = [info for info in models if option in info.options]
    names = (
        "All models"
        if len(users) == len(models)
        else "Models: " + ", ".join(info.name for info in users)
    )
    conditional = [
        f"{info.name} only with {info.only_with[option][0]}"
        for info in users
        if option in info.only_with
    ]
    return f" {names}" + (f" ({'; '.join(conditional)})." if conditional else ".")


def _option_for(cls: type[Params], item: dataclasses.Field) -> Callable[[Command], Command]:
    """The click option (or argument) of one schema field."""
    kind, optional = field_types(cls)[item.name]
    metadata = item.metadata
    dashed = "--" + item.name.replace("_", "-")
    if item.default is dataclasses.MISSING:
        return click.argument(item.name)
    first_word = metadata["help"].split(" ", 1)[0]
    help_text = metadata["help"] + "."
    if first_word.rstrip(",.;:").isalpha():  # not "mixed_float16 ..."
        help_text = help_text[:1].upper() + help_text[1:]
    shown = _shown_default(item.default)
    if metadata.get("model"):
        help_text += _model_note(item.name)
    if shown is not None:
        help_text += f"  [default: {shown}]"
    if kind is bool:
        off = metadata.get("off_flag") or "--no-" + item.name.replace("_", "-")
        return click.option(f"{dashed}/{off}", item.name, default=None, help=help_text)
    names = metadata.get("flags") or (dashed,)
    base: click.ParamType
    if metadata.get("choices"):
        base = click.Choice(list(metadata["choices"]))
    else:
        base = {int: click.INT, float: click.FLOAT}.get(kind, click.STRING)
    option_type = _OptionalValue(base) if optional else base
    return click.option(
        *names,
        item.name,
        type=option_type,
        default=None,
        help=help_text,
        metavar=metadata.get("metavar"),
    )


def option_name(cls: type[Params], name: str) -> str:
    """The command-line option of a schema parameter (``--text-column``, ``--test``)."""
    item = next(item for item in dataclasses.fields(cls) if item.name == name)
    flags = item.metadata.get("flags")
    if item.default is dataclasses.MISSING:
        return name.upper()
    return (
        next((flag for flag in flags if flag.startswith("--")), flags[0])
        if flags
        else ("--" + name.replace("_", "-"))
    )


def with_option_names(message: str, cls: type[Params]) -> str:
    """A library message that names parameters (``download.text_column``), with the stage
    command's options instead (``--text-column``), for a user who typed that command."""
    import re

    fields = {item.name: item for item in dataclasses.fields(cls)}
    types = field_types(cls)

    def option(name: str, value: str | None) -> str:
        if types[name][0] is bool and value in ("true", "false"):
            item = fields[name]
            if value == "true":
                return "--" + name.replace("_", "-")
            return item.metadata.get("off_flag") or "--no-" + name.replace("_", "-")
        return option_name(cls, name) + (f"={value}" if value is not None else "")

    def replace(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(3)
        return option(name, value) if name in fields else match.group(0)

    def replace_bracketed(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"{option_name(cls, name)}:" if name in fields else match.group(0)

    message = re.sub(rf"\[{cls.stage}\.([a-z_]+)\]", replace_bracketed, message)
    # an override the user typed (``--set download.limit=0``) is quoted as typed
    return re.sub(
        rf"(?<!--set )\b{cls.stage}\.([a-z_]+)(=([^\s:,;()]*[^\s:,;().]))?", replace, message
    )


def params_options(cls: type[Params]) -> Callable[[Command], Command]:
    """Every parameter of a stage's schema as an option, plus ``--set KEY=VALUE``.

    Options, defaults and help come from the schema (``textpipe.config``), so ``--help`` shows
    the real defaults; values are validated once, when the parameters are built.
    """

    def decorate(function: Command) -> Command:
        function = click.option(
            "--set",
            "overrides",
            multiple=True,
            metavar="KEY=VALUE",
            help=f"Set any {cls.stage} parameter by its name in presets (repeatable); "
            "`none` unsets an optional one.",
        )(function)
        for item in reversed(dataclasses.fields(cls)):
            function = _option_for(cls, item)(function)
        return function

    return decorate


def params_from_cli(
    cls: type[ParamsType], values: dict[str, Any], overrides: tuple[str, ...] = ()
) -> ParamsType:
    """Build a stage's parameters from its options (None: not given) and ``--set`` overrides.

    Raises:
        ConfigError: an unknown key, a bad value, or a key given both as option and ``--set``.
    """
    given: dict[str, Any] = {}
    for name, value in values.items():
        if value is not None:
            given[name] = None if value is UNSET else value
    errors = []
    types = field_types(cls)
    set_by: dict[str, str] = {}  # parameter: the first --set that gave it
    for override in overrides:
        target, separator, raw = override.partition("=")
        name = target.strip()
        if name.startswith(f"{cls.stage}."):
            name = name[len(cls.stage) + 1 :]
        if not separator or not name:
            errors.append(
                f"--set {override}: expected KEY=VALUE, e.g. --set {next(iter(types))}=..."
            )
            continue
        if name not in types:
            errors.append(
                f"--set {override}: unknown {cls.stage} parameter {name!r}. "
                f"Valid keys: {', '.join(sorted(types))}."
            )
            continue
        repeated = repeated_override(set_by, name, override)
        if repeated:
            errors.append(repeated)
            continue
        if name in given and name in values and values[name] is not None:
            errors.append(f"--set {override}: {name} is also given as an option; give it once.")
            continue
        value, problem = check_override(cls, name, raw.strip())
        if problem:  # named by the override the user typed, not by the option
            errors.append(f"--set {override}: {problem}.")
            continue
        given[name] = value
    instance, problems = cls.parse(given)  # the options' values, each error at once
    errors += problems
    if errors:
        raise ConfigError("\n".join(errors))
    assert instance is not None
    return instance


def store() -> Store:
    return Store()


def report(outcome: Outcome, details: list[str] | None = None) -> None:
    """Print what the cache did, where the artifact is, and the stage's key figures."""
    click.echo(f"{outcome.line()}  {outcome.artifact.path}")
    for line in details or []:
        click.echo(f"  {line}")
