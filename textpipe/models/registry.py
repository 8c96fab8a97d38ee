"""The model registry: the zoo's builders, the model options each uses, and building a model.

Importable without Keras: each family module (and with it Keras and its backend) is imported
only when one of its builders is asked for, so `textpipe --help` stays fast.

A model spec is either a registered name (`lstm`) or a custom builder, `path/to/file.py:function`
or `package.module:function` (see `textpipe.models.custom`). A builder is a function taking
keyword-only `vocab_size`, `length`, `num_classes` and the model options it uses (a subset of
`textpipe.config.MODEL_OPTION_NAMES`, whose defaults, ranges and choices live in
`TrainParams`), and returning an uncompiled `keras.Model` that maps int32 token ids (padding
id 0) to logits: one logit for 2 classes, one per class for more.

A zoo model's options are its builder's keyword names, read from the builder's source (so the
registry cannot disagree with the signature); an option a model does not use is refused
(`select_model_options`) instead of silently changing a cache key.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textpipe.config import MODEL_OPTION_NAMES, TrainParams
from textpipe.errors import ConfigError
from textpipe.models.custom import (
    CUSTOM_SPEC_FORMAT,
    builder_options,
    is_custom_spec,
    load_builder,
    signature_names,
    split_custom_spec,
)

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class ModelInfo:
    """What the pipeline needs to know about a model before building it.

    Attributes:
        name: The registered name, or the spec of a custom builder.
        description: One line for `textpipe models` and reports.
        masked: Whether the output ignores padding (id 0), so that a review gives the same
            prediction however much padding follows it.
        recurrent: Whether the model runs recurrent layers, which are slow on a CPU and fast
            with cuDNN on a GPU when the input is right-padded.
        options: The model options it uses, in `MODEL_OPTION_NAMES` order.
        only_with: Options it uses only when another option has a value: option ->
            (the other option, that value).
        positional: Whether the output depends on where the tokens sit (learned position
            embeddings), so that padding before a review, unlike padding after it, changes it.
    """

    name: str
    description: str
    masked: bool
    recurrent: bool
    options: tuple[str, ...]
    only_with: Mapping[str, tuple[str, object]] = field(default_factory=dict)
    positional: bool = False


@dataclass(frozen=True)
class _Registration:
    """A zoo model: its builder, the options the builder uses, and arguments fixed for it."""

    module: str
    function: str
    description: str
    masked: bool
    recurrent: bool
    positional: bool = False
    fixed: Mapping[str, object] = field(default_factory=dict)
    # option -> (another option, the value under which the builder uses the first at all)
    only_with: Mapping[str, tuple[str, object]] = field(default_factory=dict)


def _recurrent(cell: str, description: str, *, bidirectional: bool) -> _Registration:
    # One builder for lstm, gru, bilstm and bigru: merge_mode None builds one direction (a
    # `bidirectional` flag beside merge_mode would let merge_mode be passed and ignored).
    return _Registration(
        "textpipe.models.recurrent",
        "build_recurrent",
        description,
        masked=True,
        recurrent=True,
        fixed={"cell": cell} if bidirectional else {"cell": cell, "merge_mode": None},
    )


_REGISTRY: dict[str, _Registration] = {
    "bag": _Registration(
        "textpipe.models.bag",
        "build_bag",
        "Mean of word embeddings, optionally with hashed bigrams (fastText)",
        masked=True,
        recurrent=False,
    ),
    "bigru": _recurrent("gru", "Bidirectional GRU layers", bidirectional=True),
    "bilstm": _recurrent("lstm", "Bidirectional LSTM layers", bidirectional=True),
    "cnn": _Registration(
        "textpipe.models.conv",
        "build_cnn",
        "1D convolution over the embeddings, max-pooled over the real tokens",
        masked=True,
        recurrent=False,
    ),
    "gru": _recurrent("gru", "GRU layers", bidirectional=False),
    "lstm": _recurrent("lstm", "LSTM layers", bidirectional=False),
    "mlp": _Registration(
        "textpipe.models.dense",
        "build_mlp",
        "Flattened embeddings of every position into a dense layer; not masked (the baseline)",
        masked=False,
        recurrent=False,
    ),
    "ngram": _Registration(
        "textpipe.models.ngram",
        "build_ngram",
        "Naive-Bayes-scaled logistic regression over hashed word n-grams (NB-LR)",
        masked=True,
        recurrent=False,
        only_with={
            "embedding_dim": ("ngram_hidden", True),
            "units": ("ngram_hidden", True),
            "mixed_precision": ("ngram_hidden", True),
        },
    ),
    "transformer": _Registration(
        "textpipe.models.transformer",
        "build_transformer",
        "Transformer encoder blocks with learned positions, mean-pooled",
        masked=True,
        recurrent=False,
        positional=True,
    ),
}

MODEL_NAMES: tuple[str, ...] = tuple(sorted(_REGISTRY))
"""The registered model names, sorted."""


def list_models() -> list[ModelInfo]:
    """Lists the registered models.

    Returns:
        One ModelInfo per registered model, sorted by name.
    """
    return [_info(name) for name in MODEL_NAMES]


def model_info(spec: str) -> ModelInfo:
    """Describes a registered model or a custom builder, without importing either.

    A custom builder's properties are unknown, so it is assumed to be masked and not recurrent;
    its options are read from its source (see `model_options`).

    Args:
        spec: A registered name, `path/to/file.py:function` or `package.module:function`.

    Returns:
        The model's ModelInfo.

    Raises:
        ConfigError: If `spec` is neither a registered name nor a custom spec whose file or
            module exists.
    """
    if is_custom_spec(spec):
        target, _ = split_custom_spec(spec)
        return ModelInfo(
            name=spec,
            description=f"custom builder from {target}",
            masked=True,
            recurrent=False,
            options=builder_options(spec),
            positional=True,  # unknown: assume padding before the tokens matters
        )
    _check_registered(spec)
    return _info(spec)


def model_options(spec: str) -> tuple[str, ...]:
    """The model options a model uses.

    For a custom builder, its keyword names that are model options, read from its source
    without running it; every option when it takes `**kwargs` or cannot be read statically.

    Args:
        spec: A registered name, `path/to/file.py:function` or `package.module:function`.

    Returns:
        Option names, in `textpipe.config.MODEL_OPTION_NAMES` order.

    Raises:
        ConfigError: If the name is unknown, or a custom builder's file or module is missing.
    """
    return model_info(spec).options


def select_model_options(spec: str, options: Mapping[str, object]) -> dict[str, object]:
    """The model options a model uses, out of every option's value.

    An option the model does not use is dropped when it has its default value (it changes
    nothing) and refused otherwise, so that it can neither be silently ignored nor change a
    cache key. Options the model uses but `options` lacks take their defaults.

    Args:
        spec: A registered name, `path/to/file.py:function` or `package.module:function`.
        options: Model option name to value, as `TrainParams.model_options()` gives them.

    Returns:
        The options the model uses, in `MODEL_OPTION_NAMES` order.

    Raises:
        ConfigError: If an option is unknown, or one the model does not use differs from its
            default; one line per option, all at once.
    """
    _check_option_names(spec, options)
    used = _options_in_effect(spec, options)
    problems = _unused_problems(spec, used, options)
    if problems:
        raise ConfigError("\n".join(problems))
    return _with_defaults(used, options)


def _options_in_effect(spec: str, options: Mapping[str, object]) -> tuple[str, ...]:
    """The options a model uses with these values (ngram uses `units` only with
    `ngram_hidden`, for instance)."""
    used = model_options(spec)
    if is_custom_spec(spec):
        return used
    defaults = TrainParams.defaults()
    conditions = _REGISTRY[spec].only_with
    return tuple(
        name
        for name in used
        if name not in conditions
        or _same_value(
            options.get(conditions[name][0], defaults[conditions[name][0]]), conditions[name][1]
        )
    )


def build_model(
    spec: str, *, vocab_size: int, length: int, num_classes: int, **options: Any
) -> keras.Model:
    """Builds an uncompiled model from its spec, sizes and model options.

    Everything is checked before the builder's module (and Keras) is imported, and every
    problem is reported at once: the sizes, each option's value against `TrainParams`, and
    options the model does not use (refused unless at their default, as in
    `select_model_options`). Options not given take their `TrainParams` defaults. The builder
    receives the options it uses only; a custom builder, those its signature names (all of
    them when it takes `**kwargs`).

    Args:
        spec: A registered name, `path/to/file.py:function` or `package.module:function`.
        vocab_size: Number of token ids, padding id 0 included.
        length: Number of token ids per review in the encoded data.
        num_classes: Number of classes, at least 2.
        **options: Model options (`textpipe models` lists which each model uses).

    Returns:
        An uncompiled `keras.Model` mapping `(batch, steps)` int32 token ids to logits.

    Raises:
        ConfigError: If the spec, a size or an option is invalid.
    """
    _check_option_names(spec, options)
    problems = [
        f"Invalid {name} for model '{spec}': {message}."
        for name, value in (("vocab_size", vocab_size), ("length", length))
        if (message := _check_size(value, minimum=1)) is not None
    ]
    if (message := _check_size(num_classes, minimum=2)) is not None:
        problems.append(f"Invalid num_classes for model '{spec}': {message}.")
    for name, value in options.items():
        if (message := TrainParams.check_field(name, value)) is not None:
            problems.append(f"Invalid {name} for model '{spec}': {message}.")
    # Options a model uses only with another's value (ngram's units) are not refused here: a
    # library call may pass one set of sizes to every model; the pipeline refuses them.
    problems += _unused_problems(spec, model_options(spec), options)
    if problems:
        raise ConfigError("\n".join(problems))
    selected = _with_defaults(model_options(spec), options)
    if is_custom_spec(spec):
        builder, fixed = load_builder(spec), {}
    else:
        registration = _REGISTRY[spec]
        module = importlib.import_module(registration.module)
        builder, fixed = getattr(module, registration.function), registration.fixed
    return builder(
        vocab_size=vocab_size, length=length, num_classes=num_classes, **fixed, **selected
    )


def load_model(path: str | Path, *, spec: str | None = None) -> keras.Model:
    """Loads a saved `.keras` model, registering the custom layers it may use first.

    `keras.saving.load_model` finds custom layers only once the code that registers them has
    run: textpipe's own layers (`textpipe.models.layers`) and, for a custom builder, the file or
    module named in its spec.

    Args:
        path: The `.keras` file.
        spec: The model spec it was built from; needed when that is a custom builder.

    Returns:
        The model, compiled if it was saved compiled.

    Raises:
        ConfigError: If `spec` is an invalid custom spec, as in `custom.load_builder`.
    """
    import keras

    import textpipe.models.layers  # noqa: F401  (registers textpipe's custom layers)

    if spec is not None and is_custom_spec(spec):
        load_builder(spec)
    return keras.saving.load_model(path)


@functools.cache
def _declared_options(name: str) -> tuple[str, ...]:
    """A zoo model's options: its builder's keyword names that are model options, read from the
    builder's source (the module is not imported), less the arguments fixed for this model."""
    registration = _REGISTRY[name]
    source = Path(__file__).with_name(registration.module.rsplit(".", 1)[1] + ".py")
    names = signature_names(source, registration.function)
    if names is None:  # a zoo builder always spells out its options; the contract test checks
        raise ConfigError(f"Model '{name}': cannot read the options of {registration.function}.")
    return tuple(
        option
        for option in MODEL_OPTION_NAMES
        if option in names and option not in registration.fixed
    )


def _info(name: str) -> ModelInfo:
    registration = _REGISTRY[name]
    return ModelInfo(
        name=name,
        description=registration.description,
        masked=registration.masked,
        recurrent=registration.recurrent,
        options=_declared_options(name),
        only_with=registration.only_with,
        positional=registration.positional,
    )


def _check_registered(name: str) -> None:
    if name in _REGISTRY:
        return
    suggestion = difflib.get_close_matches(name, MODEL_NAMES, n=1)
    did_you_mean = f" Did you mean '{suggestion[0]}'?" if suggestion else ""
    raise ConfigError(
        f"Unknown model '{name}'.{did_you_mean} Available models: {', '.join(MODEL_NAMES)}. "
        f"Or pass {CUSTOM_SPEC_FORMAT}."
    )


def _check_option_names(spec: str, options: Mapping[str, object]) -> None:
    unknown = [name for name in options if name not in MODEL_OPTION_NAMES]
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise ConfigError(
            f"Unknown model option{plural} {listed} for model '{spec}'. "
            f"Model options: {', '.join(MODEL_OPTION_NAMES)}."
        )


def _with_defaults(used: tuple[str, ...], options: Mapping[str, object]) -> dict[str, object]:
    defaults = TrainParams.defaults()
    return {name: options.get(name, defaults[name]) for name in used}


def _unused_problems(spec: str, used: tuple[str, ...], options: Mapping[str, object]) -> list[str]:
    """One line per option the model does not use whose value is not its default."""
    defaults = TrainParams.defaults()
    listed = ", ".join(used) or "none"
    conditions = {} if is_custom_spec(spec) else _REGISTRY[spec].only_with
    problems = []
    for name, value in options.items():
        if name in used or _same_value(value, defaults[name]):
            continue
        if name in conditions:
            other, needed = conditions[name]
            problems.append(
                f"train.{name}={_as_written(value)}: model '{spec}' uses it only with "
                f"train.{other}={_as_written(needed)}."
            )
        else:
            problems.append(
                f"train.{name}={_as_written(value)}: model '{spec}' does not use it "
                f"(its options: {listed})."
            )
    return problems


def _same_value(value: object, default: object) -> bool:
    # 1 == True in Python, but `bigrams = 1` is not the default `false`.
    return value == default and isinstance(value, bool) == isinstance(default, bool)


def _as_written(value: object) -> str:
    """A value as it is written in a preset or a `--set`: true, 3, 0.5, "max"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _check_size(value: object, *, minimum: int) -> str | None:
    # bool is an int subclass, but `num_classes=True` is a mistake, not 1.
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum:
        return None
    expected = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    return f"expected {expected}, got {value!r}"
