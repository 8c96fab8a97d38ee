"""The hyperparameters every zoo builder shares: names, defaults and validation.

Importable without Keras, so that the CLI and the configuration code can check a model's
hyperparameters before paying for importing a backend.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

from textpipe.errors import ConfigError

REQUIRED_HYPERPARAMETERS: tuple[str, ...] = ("vocab_size", "length", "num_classes")
"""Hyperparameters that every builder needs and that have no default."""

DEFAULT_HYPERPARAMETERS: dict[str, object] = {
    "embedding_dim": 64,
    "units": 64,
    "num_layers": 1,
    "dropout": 0.0,
    "pooling": "last",
    "merge_mode": "concat",
    "bigrams": False,
    "bigram_buckets": 100_000,
    "ngram_order": 3,
    "ngram_buckets": 2**21,
    "ngram_hidden": False,
    "num_heads": 2,
    "kernel_size": 5,
    "use_cudnn": "auto",
    "mixed_precision": False,
}
"""Defaults of the optional hyperparameters; every builder's signature uses the same ones."""

HYPERPARAMETER_NAMES: tuple[str, ...] = REQUIRED_HYPERPARAMETERS + tuple(DEFAULT_HYPERPARAMETERS)
"""Every name a builder accepts, in signature order."""

POOLING_MODES: tuple[str, ...] = ("last", "mean", "max")
MERGE_MODES: tuple[str, ...] = ("concat", "sum", "mul", "ave")
CUDNN_MODES: tuple[str | bool, ...] = ("auto", True, False)

_POSITIVE_INTEGERS = (
    "vocab_size",
    "length",
    "embedding_dim",
    "units",
    "num_layers",
    "bigram_buckets",
    "ngram_order",
    "ngram_buckets",
    "num_heads",
    "kernel_size",
)
_BOOLEANS = ("bigrams", "ngram_hidden", "mixed_precision")


def _is_integer(value: object) -> bool:
    # bool is an int subclass, but `units=True` is a mistake, not 1.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_rate(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and 0 <= value < 1


def _check_value(name: str, value: object) -> str | None:
    """Returns what is wrong with one hyperparameter value, or None when it is valid."""
    if name in _POSITIVE_INTEGERS and not (_is_integer(value) and value >= 1):
        return f"{name}: expected a positive integer, got {value!r}"
    if name == "num_classes" and not (_is_integer(value) and value >= 2):
        return f"num_classes: expected an integer of at least 2, got {value!r}"
    if name == "dropout" and not _is_rate(value):
        return f"dropout: expected a number in [0, 1), got {value!r}"
    if name == "pooling" and value not in POOLING_MODES:
        return f"pooling: expected one of {', '.join(POOLING_MODES)}, got {value!r}"
    if name == "merge_mode" and value not in MERGE_MODES:
        return f"merge_mode: expected one of {', '.join(MERGE_MODES)}, got {value!r}"
    if name in _BOOLEANS and not isinstance(value, bool):
        return f"{name}: expected true or false, got {value!r}"
    # Not `value in CUDNN_MODES`: `1 in ("auto", True, False)` is true in Python.
    if name == "use_cudnn" and not (value == "auto" or isinstance(value, bool)):
        return f"use_cudnn: expected 'auto', true or false, got {value!r}"
    return None


def check_names(names: object, *, model: str) -> None:
    """Checks that every given hyperparameter name is one the shared signature accepts.

    Args:
        names: The names passed by the caller.
        model: The model spec, named in the error message.

    Raises:
        ConfigError: If a name is unknown; the message lists the accepted names.
    """
    unknown = [name for name in names if name not in HYPERPARAMETER_NAMES]
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise ConfigError(
            f"Unknown hyperparameter{plural} {listed} for model '{model}'. "
            f"Accepted hyperparameters: {', '.join(HYPERPARAMETER_NAMES)}."
        )


def validate_hyperparameters(hyperparameters: Mapping[str, object], *, model: str) -> None:
    """Checks the names, presence and values of a builder's hyperparameters.

    Every problem is reported at once, in one ConfigError.

    Args:
        hyperparameters: Name to value; names missing from it take their default, except the
            required ones (`vocab_size`, `length`, `num_classes`).
        model: The model spec, named in the error message.

    Raises:
        ConfigError: If a name is unknown, a required one is missing or a value is invalid.
    """
    check_names(hyperparameters, model=model)
    problems = [
        f"{name}: required, missing"
        for name in REQUIRED_HYPERPARAMETERS
        if name not in hyperparameters
    ]
    for name, value in hyperparameters.items():
        problem = _check_value(name, value)
        if problem is not None:
            problems.append(problem)
    if problems:
        raise ConfigError(f"Invalid hyperparameters for model '{model}': {'; '.join(problems)}.")


def resolve_hyperparameters(
    hyperparameters: Mapping[str, object], *, model: str
) -> dict[str, object]:
    """Validates hyperparameters and fills in the defaults of the ones not given.

    Args:
        hyperparameters: Name to value, as the caller gave them.
        model: The model spec, named in error messages.

    Returns:
        Every hyperparameter in signature order, given values first, defaults for the rest.

    Raises:
        ConfigError: As `validate_hyperparameters`.
    """
    validate_hyperparameters(hyperparameters, model=model)
    resolved = {**DEFAULT_HYPERPARAMETERS, **hyperparameters}
    return {name: resolved[name] for name in HYPERPARAMETER_NAMES}
