"""Custom model builders: `path/to/file.py:function` or `package.module:function`.

The one place that knows what a custom spec looks like, where its source is, which model options
its builder takes, how it is keyed and how it is loaded. Importable without Keras.

A builder's options are read from its source with `ast`, never by running it: the planner, the
cache key and `--dry-run` learn what a builder takes without executing the user's code. The code
runs only when the model is built or loaded (`load_builder`), once per process.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from textpipe.config import MODEL_OPTION_NAMES
from textpipe.errors import ConfigError

CUSTOM_SPEC_FORMAT = "path/to/file.py:function"

# The data sizes every builder is called with, besides the model options it names.
BUILDER_SIZE_ARGUMENTS = ("vocab_size", "length", "num_classes")

# Custom builder files are loaded as modules named with this prefix, one per resolved file path.
_CUSTOM_MODULE_PREFIX = "textpipe_custom_model"


def is_custom_spec(spec: str) -> bool:
    """Tells a custom builder spec (`file.py:function`, `module:function`) from a model name.

    Args:
        spec: A model spec.

    Returns:
        Whether `spec` names a custom builder rather than a registered model.
    """
    return ":" in spec


def split_custom_spec(spec: str) -> tuple[str, str]:
    """Splits a custom spec into its file or module and its function name.

    Args:
        spec: `path/to/file.py:function` or `package.module:function`.

    Returns:
        `(file or module, function name)`.

    Raises:
        ConfigError: If the spec is malformed.
    """
    # rpartition, so that a Windows drive letter (C:\models\mine.py:build) stays in the path.
    target, _, function_name = spec.rpartition(":")
    if not target or not function_name.isidentifier():
        from textpipe.models.registry import MODEL_NAMES  # here: the registry imports this module

        raise ConfigError(
            f"Invalid model spec '{spec}'. Expected a model name ({', '.join(MODEL_NAMES)}), "
            f"{CUSTOM_SPEC_FORMAT} or package.module:function."
        )
    return target, function_name


def is_file_target(target: str) -> bool:
    """Whether a custom spec's target is a file (`mine.py`, `models/mine`) rather than a module."""
    return target.endswith(".py") or "/" in target or "\\" in target or os.sep in target


def source_path(spec: str) -> Path:
    """The file that holds a custom builder's source.

    A file target is taken relative to the current directory. A module is looked up on
    `sys.path` package by package, as `import` would find it, but without importing anything
    (not even its parent packages' `__init__`).

    Args:
        spec: `path/to/file.py:function` or `package.module:function`.

    Returns:
        The source file.

    Raises:
        ConfigError: If the spec is malformed or its file or module does not exist.
    """
    target, _ = split_custom_spec(spec)
    if is_file_target(target):
        path = Path(target)
        if not path.is_file():
            raise _not_found(target, spec)
        return path
    from importlib.machinery import PathFinder

    search: list[str] | None = None  # sys.path
    found = None
    for part in target.split("."):
        if not part.isidentifier():
            raise _not_found(target, spec)
        found = PathFinder.find_spec(part, search)
        if found is None:
            raise _not_found(target, spec)
        search = list(found.submodule_search_locations or [])
    if found is None or found.origin is None or not Path(found.origin).is_file():
        raise _not_found(target, spec)
    return Path(found.origin)


def builder_options(spec: str) -> tuple[str, ...]:
    """The model options a custom builder takes, read from its signature without running it.

    The source is parsed with `ast`: the options are the builder's keyword names that are model
    options, in `MODEL_OPTION_NAMES` order; every option when it takes `**kwargs`, or when the
    function is not a plain top-level `def` in its file (made by a factory, imported from
    elsewhere), so that nothing it might take is left out of the key.

    Args:
        spec: `path/to/file.py:function` or `package.module:function`.

    Returns:
        The option names.

    Raises:
        ConfigError: If the file or module is missing or is not valid Python, or the builder
            does not take `vocab_size`, `length` and `num_classes`.
    """
    _, function_name = split_custom_spec(spec)
    path = source_path(spec)
    try:
        names = signature_names(path, function_name)
    except SyntaxError as error:
        raise ConfigError(
            f"Model file '{path}' is not valid Python (model spec '{spec}'): {error.msg}, "
            f"line {error.lineno}."
        ) from None
    if names is None:
        return MODEL_OPTION_NAMES
    missing = [name for name in BUILDER_SIZE_ARGUMENTS if name not in names]
    if missing:
        raise ConfigError(
            f"Model builder '{spec}' must take the keyword arguments "
            f"{', '.join(BUILDER_SIZE_ARGUMENTS)} (or **kwargs); it lacks {', '.join(missing)}."
        )
    return tuple(name for name in MODEL_OPTION_NAMES if name in names)


def signature_names(path: Path, function_name: str) -> frozenset[str] | None:
    """The argument names of a top-level function in a Python file, read with `ast` (the file
    is not run); None when it takes `**kwargs` or is not a plain `def` there.

    Raises:
        SyntaxError: the file is not valid Python.
    """
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except ValueError:  # not Python source (an extension module): the signature is unknown
        return None
    definitions = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function_name
    ]
    if not definitions:
        return None
    arguments = definitions[-1].args  # the last definition is the one Python keeps
    if arguments.kwarg is not None:
        return None
    return frozenset(argument.arg for argument in [*arguments.args, *arguments.kwonlyargs])


def model_fingerprint(spec: str) -> tuple[str, str | None]:
    """The spec as it goes into the key, and the content hash of a custom builder's code.

    A custom builder is keyed by its file name and function and by the sha256 of its source,
    never by an absolute path: editing the file retrains, moving it does not.

    Args:
        spec: A registered model name or a custom spec.

    Returns:
        `(spec, None)` for a registered name; `("custom:<file name>:<function>",
        "sha256:<digest>")` for a custom builder.

    Raises:
        ConfigError: If a custom spec is malformed or its file or module does not exist.
    """
    if not is_custom_spec(spec):
        return spec, None
    _, function_name = split_custom_spec(spec)
    path = source_path(spec)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"custom:{path.name}:{function_name}", f"sha256:{digest}"


def resolve_custom_spec(spec: str) -> str:
    """A custom file spec with an absolute path, so the model loads from any directory.

    Args:
        spec: A model spec.

    Returns:
        The spec, its file made absolute when it names one.
    """
    if not is_custom_spec(spec):
        return spec
    target, _, function_name = spec.rpartition(":")
    if target and is_file_target(target):
        return f"{Path(target).resolve()}:{function_name}"
    return spec


def load_builder(spec: str) -> Callable[..., Any]:
    """Runs a custom builder's file or module and returns the builder function.

    A file is loaded once per process, as a module named after its resolved path, so that Keras
    custom objects it registers (`register_keras_serializable`) stay registered and a saved model
    that uses them loads.

    Args:
        spec: `path/to/file.py:function` (relative to the current directory) or
            `package.module:function` (importable from `sys.path`).

    Returns:
        The builder function.

    Raises:
        ConfigError: If the file, module or function is missing, or loading it fails.
    """
    target, function_name = split_custom_spec(spec)
    path = source_path(spec)  # the one check that the file or module exists
    module = _load_file(path) if is_file_target(target) else _import_module(target)
    builder = getattr(module, function_name, None)
    if builder is None or not callable(builder):
        functions = sorted(
            name
            for name, value in vars(module).items()
            if inspect.isfunction(value)
            and value.__module__ == module.__name__
            and not name.startswith("_")
        )
        found = f"Functions there: {', '.join(functions)}." if functions else "It defines none."
        raise ConfigError(
            f"Model builder '{function_name}' not found in {target} (model spec '{spec}'). {found}"
        )
    return builder


def _not_found(target: str, spec: str) -> ConfigError:
    kind = "file" if is_file_target(target) else "module"
    return ConfigError(
        f"Model {kind} '{target}' not found (model spec '{spec}'). Pass {CUSTOM_SPEC_FORMAT} "
        "relative to the current directory, or package.module:function importable from "
        "sys.path."
    )


def _load_file(path: Path) -> ModuleType:
    resolved = path.resolve()
    module_name = _module_name_for(resolved)
    if module_name in sys.modules:
        # Executing the file again would register its Keras objects a second time.
        return sys.modules[module_name]
    module_spec = importlib.util.spec_from_file_location(module_name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError(f"Cannot load '{path}' as Python.")
    module = importlib.util.module_from_spec(module_spec)
    # Registered before executing, as `import` does, so that code in the file that looks its
    # own module up (dataclasses, pickle, Keras deserialization) finds it.
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise ConfigError(
            f"Loading model file '{path}' failed: {type(error).__name__}: {error}"
        ) from error
    return module


def _module_name_for(path: Path) -> str:
    stem = re.sub(r"\W", "_", path.stem)
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return f"{_CUSTOM_MODULE_PREFIX}_{stem}_{digest}"


def _import_module(name: str) -> ModuleType:
    # `source_path` has already found the module, so an error here is raised by its code.
    try:
        return importlib.import_module(name)
    except Exception as error:
        raise ConfigError(
            f"Importing model module '{name}' failed: {type(error).__name__}: {error}"
        ) from error
