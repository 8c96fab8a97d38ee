"""Typed, validated parameters: one frozen dataclass per stage, and a pipeline that holds them.

Every parameter is a flat JSON value (int, float, bool, str), so it can go into a cache key, a
TOML preset and a ``--set stage.key=value`` override alike. Construction validates and reports
every problem at once, each with its location.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from textpipe.errors import ConfigError

STAGE_NAMES = ("download", "normalize", "vocab", "encode", "train", "evaluate")


def spec(
    default: Any,
    help: str,
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    below: float | None = None,
    choices: tuple[str, ...] | None = None,
    model: bool = False,
    runtime: bool = False,
    flags: tuple[str, ...] | None = None,
    off_flag: str | None = None,
    metavar: str | None = None,
) -> Any:
    """A parameter: its default, help text, the range or choices it accepts, and its role.

    The range: ``minimum`` and ``maximum`` bound it inclusively, ``above`` and ``below``
    exclusively (``above=0``: a positive number).

    This is the only place a parameter is declared: the stage commands' options, ``--help``,
    ``--set``, TOML presets, validation and cache keys are all derived from it.

    Args:
        model: a model option, used by some zoo models only (keyed only where the model uses it).
        runtime: changes how the stage runs but not what it produces, so stays out of the key.
        flags: the command-line option's names, when not ``--name-with-dashes``.
        off_flag: a boolean's "off" option, when not ``--no-name``.
        metavar: the option's value as ``--help`` shows it.
    """
    metadata = {
        "help": help,
        "minimum": minimum,
        "above": above,
        "maximum": maximum,
        "below": below,
        "choices": choices,
        "model": model,
        "runtime": runtime,
        "flags": flags,
        "off_flag": off_flag,
        "metavar": metavar,
    }
    return field(default=default, metadata=metadata)


def _describe(kind: Any, metadata: dict[str, Any]) -> str:
    base = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
    description = base.get(kind, str(kind))
    if metadata.get("choices"):
        return "one of " + ", ".join(metadata["choices"])
    if kind in (int, float) and metadata.get("minimum") is not None:
        minimum = metadata["minimum"]
        if minimum == 1 and kind is int:
            description = "a positive integer"
        elif minimum == 0:
            description = f"a non-negative {'integer' if kind is int else 'number'}"
        else:
            description += f" >= {minimum}"
    if kind in (int, float) and metadata.get("above") is not None:
        above = metadata["above"]
        if above == 0:
            description = f"a positive {'integer' if kind is int else 'number'}"
        else:
            description += f" above {above}"
    if metadata.get("below") is not None:
        description += f" below {metadata['below']}"
    if metadata.get("maximum") is not None:
        description += f" at most {metadata['maximum']}"
    return description


def describe_value(kind: Any, metadata: dict[str, Any]) -> str:
    """What a parameter accepts, in words ("a positive integer", "one of post, pre")."""
    return _describe(kind, metadata)


def field_types(cls: type) -> dict[str, tuple[Any, bool]]:
    """Field name to (base type, optional) for a params class."""
    hints = typing.get_type_hints(cls)
    types = {}
    for item in dataclasses.fields(cls):
        hint = hints[item.name]
        args = typing.get_args(hint)
        optional = type(None) in args
        base = next((arg for arg in args if arg is not type(None)), hint) if args else hint
        types[item.name] = (base, optional)
    return types


def _check_value(value: Any, kind: Any, optional: bool, meta: dict) -> str | None:
    """An error message for a bad value, or None."""
    if value is None:
        return None if optional else f"expected {_describe(kind, meta)}, got nothing"
    ok_type = (
        (kind is bool and isinstance(value, bool))
        or (kind is int and isinstance(value, int) and not isinstance(value, bool))
        or (kind is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (kind is str and isinstance(value, str))
    )
    if not ok_type:
        return f"expected {_describe(kind, meta)}, got {value!r}"
    if meta.get("choices") and value not in meta["choices"]:
        return f"expected {_describe(kind, meta)}, got {value!r}"
    if kind in (int, float):
        if meta.get("minimum") is not None and value < meta["minimum"]:
            return f"expected {_describe(kind, meta)}, got {value!r}"
        if meta.get("above") is not None and value <= meta["above"]:
            return f"expected {_describe(kind, meta)}, got {value!r}"
        if meta.get("maximum") is not None and value > meta["maximum"]:
            return f"expected {_describe(kind, meta)}, got {value!r}"
        if meta.get("below") is not None and value >= meta["below"]:
            return f"expected {_describe(kind, meta)}, got {value!r}"
    return None


def parse_override_value(raw: str) -> Any:
    """A ``--set`` value: a TOML literal when it parses as one (3, 0.1, true), else the string."""
    import tomllib  # here, not at the top: the data stage processes never parse TOML

    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


@dataclass(frozen=True, kw_only=True)
class Params:
    """Base class of the stage parameters: validated on construction."""

    stage: ClassVar[str] = ""

    def __post_init__(self) -> None:
        errors = self.problems()
        if errors:
            raise ConfigError("\n".join(errors))

    def problems(self, location: str | None = None) -> list[str]:
        """Every invalid value, one message each."""
        prefix = f"{location}: " if location else ""
        errors = []
        types = field_types(type(self))
        for item in dataclasses.fields(self):
            kind, optional = types[item.name]
            message = _check_value(getattr(self, item.name), kind, optional, dict(item.metadata))
            if message:
                errors.append(f"{prefix}[{self.stage}.{item.name}] {message}.")
        return errors

    @classmethod
    def from_mapping(cls, data: dict[str, Any], location: str | None = None) -> Self:
        """Build from a mapping (a TOML table), reporting unknown keys and bad values at once."""
        instance, errors = cls.parse(data, location)
        if errors:
            raise ConfigError("\n".join(errors))
        assert instance is not None
        return instance

    @classmethod
    def parse(cls, data: dict[str, Any], location: str | None = None) -> tuple[Self | None, list]:
        """Like ``from_mapping`` but returns ``(instance or None, errors)``."""
        prefix = f"{location}: " if location else ""
        types = field_types(cls)
        errors = []
        known = {item.name: item for item in dataclasses.fields(cls)}
        values = {}
        for name, value in data.items():
            if name not in known:
                errors.append(
                    f"{prefix}[{cls.stage}.{name}] unknown key. "
                    f"Valid keys: {', '.join(sorted(known))}."
                )
                continue
            kind, _ = types[name]
            is_number = isinstance(value, int) and not isinstance(value, bool)
            values[name] = float(value) if kind is float and is_number else value
        missing = [
            name
            for name, item in known.items()
            if item.default is dataclasses.MISSING and name not in data
        ]
        if missing:  # nothing to construct: check the values given one by one
            errors += [
                f"{prefix}[{cls.stage}.{name}] {message}."
                for name, value in values.items()
                if (message := cls.check_field(name, value))
            ]
            errors += [f"{prefix}[{cls.stage}.{name}] is required." for name in missing]
            return None, errors
        try:
            instance = cls(**values)  # validates every value, once
        except ConfigError as error:
            errors += [f"{prefix}{line}" for line in str(error).splitlines()]
        return (None, errors) if errors else (instance, [])

    @classmethod
    def check_field(cls, name: str, value: Any) -> str | None:
        """What is wrong with ``value`` for parameter ``name`` ("expected ..."), or None."""
        known = {item.name: item for item in dataclasses.fields(cls)}
        if name not in known:
            return f"unknown key. Valid keys: {', '.join(sorted(known))}"
        kind, optional = field_types(cls)[name]
        return _check_value(value, kind, optional, dict(known[name].metadata))

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every parameter's default (required ones left out)."""
        return {
            item.name: item.default
            for item in dataclasses.fields(cls)
            if item.default is not dataclasses.MISSING
        }

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def key_params(self) -> dict[str, Any]:
        """The parameters that go into the cache key: all but the runtime-only ones."""
        return {
            item.name: getattr(self, item.name)
            for item in dataclasses.fields(self)
            if not item.metadata.get("runtime")
        }


@dataclass(frozen=True, kw_only=True)
class DownloadParams(Params):
    stage: ClassVar[str] = "download"
    source: str = spec(
        dataclasses.MISSING, "hub id (owner/name), dataset folder, or .csv/.tsv/.jsonl/.parquet"
    )
    test_file: str | None = spec(
        None, "a separate test file, for a file source", flags=("--test",), metavar="FILE"
    )
    text_column: str | None = spec(None, "text column (found among common names when not given)")
    label_column: str | None = spec(None, "label column (found among common names when not given)")
    limit: int | None = spec(
        None, "keep a seeded, stratified sample of N rows per split", minimum=1
    )
    validation_size: float = spec(
        0.0, "share of train carved out as a stratified validation split", minimum=0, below=1
    )
    validation_block: int = spec(
        1,
        "carve the validation split in runs of N consecutive rows of a class, so that rows "
        "stored together (one movie's reviews, one author's posts) fall on one side",
        minimum=1,
    )
    seed: int = spec(0, "seed of sampling and the validation carve-out", minimum=0)
    revision: str | None = spec(None, "hub revision (branch, tag or commit)")


@dataclass(frozen=True, kw_only=True)
class NormalizeParams(Params):
    stage: ClassVar[str] = "normalize"
    lowercase: bool = spec(True, "lowercase, Unicode-aware")
    strip_punctuation: bool = spec(
        True, "remove Unicode punctuation and symbols (P*, S*)", off_flag="--keep-punctuation"
    )
    strip_html: bool = spec(
        False, "replace HTML tags such as <br /> by a space", off_flag="--keep-html"
    )
    collapse_whitespace: bool = spec(
        True, "collapse runs of whitespace, trim the ends", off_flag="--keep-whitespace"
    )


@dataclass(frozen=True, kw_only=True)
class VocabParams(Params):
    stage: ClassVar[str] = "vocab"
    size: int = spec(
        20000, "number of most frequent training tokens kept", minimum=1, maximum=2**31 - 3
    )
    min_frequency: int = spec(1, "drop tokens seen fewer times than this", minimum=1)


@dataclass(frozen=True, kw_only=True)
class EncodeParams(Params):
    stage: ClassVar[str] = "encode"
    length: int = spec(256, "fixed sequence length", minimum=1, maximum=2**31 - 1)
    padding: str = spec(
        "post",
        "where padding goes: post on the right (masked recurrent models need it), pre on the left",
        choices=("post", "pre"),
    )
    truncation: str = spec(
        "post",
        "which end long texts lose: post keeps the beginning, pre the end",
        choices=("post", "pre"),
    )


@dataclass(frozen=True, kw_only=True)
class TrainParams(Params):
    stage: ClassVar[str] = "train"
    model: str = spec(
        "lstm",
        "zoo model (see `textpipe models`), path/to/file.py:function or package.module:function",
        flags=("-m", "--model"),
    )
    epochs: int = spec(3, "number of epochs", minimum=1)
    batch_size: int = spec(64, "batch size", minimum=1)
    learning_rate: float = spec(1e-3, "Adam learning rate", above=0, maximum=10)
    learning_rate_decay: float = spec(
        1.0,
        "factor by which the learning rate falls over each epoch, smoothly at every step "
        "(1: constant)",
        minimum=0.01,
        maximum=1,
    )
    ema_momentum: float = spec(
        0.0,
        "keep an exponential moving average of the weights with this momentum (0.99: about "
        "the last 100 steps), validated, kept by early stopping and saved instead of the "
        "last step's weights (0: off)",
        minimum=0,
        below=1,
    )
    seed: int = spec(0, "random seed (weights, shuffling, dropout)", minimum=0)
    early_stopping: int | None = spec(
        None,
        "stop after N epochs without a better validation loss; restore the best",
        minimum=1,
        metavar="N",
    )
    class_weight: str = spec("none", "weight classes in the loss", choices=("none", "balanced"))
    # Off by default: on a TensorFlow CPU each batch width compiles again, which costs more
    # than trimming saves over a few epochs (BENCHMARKS.md, "Streamed batches").
    bucketing: str = spec(
        "off",
        "batch rows of similar length, trimmed to their longest row: auto (masked zoo models "
        "whose prediction ignores the padding), on, off",
        choices=("auto", "on", "off"),
    )
    # Model options: each zoo model uses some of them (`textpipe models` lists which).
    embedding_dim: int = spec(64, "embedding width", minimum=1, model=True)
    units: int = spec(
        64, "units of the recurrent/conv/attention layer and of Dense(relu)", minimum=1, model=True
    )
    num_layers: int = spec(1, "stacked recurrent layers or encoder blocks", minimum=1, model=True)
    dropout: float = spec(
        0.0, "dropout rate before the output layer", minimum=0, below=1, model=True
    )
    embedding_dropout: float = spec(
        0.0,
        "dropout rate of embedding channels, each zeroed at every step of a row (SpatialDropout1D)",
        minimum=0,
        below=1,
        model=True,
    )
    pooling: str = spec(
        "last",
        "pooling of recurrent outputs (mean-max: both, concatenated)",
        choices=("last", "mean", "max", "mean-max"),
        model=True,
    )
    merge_mode: str = spec(
        "concat",
        "merge of bidirectional outputs",
        choices=("concat", "sum", "mul", "ave"),
        model=True,
    )
    bigrams: bool = spec(False, "add hashed word bigrams", model=True)
    bigram_buckets: int = spec(100_000, "number of bigram hash buckets", minimum=1, model=True)
    ngram_order: int = spec(3, "longest word n-gram (3: up to trigrams)", minimum=1, model=True)
    ngram_buckets: int = spec(2**21, "number of n-gram hash buckets", minimum=1, model=True)
    ngram_hidden: bool = spec(
        False, "n-gram vectors (embedding_dim wide) and a hidden layer", model=True
    )
    num_heads: int = spec(2, "attention heads", minimum=1, model=True)
    kernel_size: int = spec(5, "convolution width", minimum=1, model=True)
    mixed_precision: bool = spec(
        False,
        "mixed_float16 compute with a float32 output layer",
        model=True,
        off_flag="--full-precision",
    )
    jit_compile: str = spec(
        "auto",
        "XLA compilation: auto (on where it pays), on, off",
        choices=("auto", "on", "off"),
        runtime=True,
    )
    # Runtime: with the same global batch, every step averages the gradient of the same rows,
    # split across devices, so the model differs only by floating-point summation order (as
    # jit_compile does); the manifest records where it ran.
    distribute: str = spec(
        "none",
        "data-parallel: split each batch across all local devices (and the processes that "
        "KERAS_DISTRIBUTION_* name, on JAX); batch_size stays the global batch",
        choices=("none", "data-parallel"),
        runtime=True,
    )

    def model_options(self) -> dict[str, Any]:
        """Every model option's value (the model uses some of them)."""
        return {name: getattr(self, name) for name in MODEL_OPTION_NAMES}


MODEL_OPTION_NAMES: tuple[str, ...] = tuple(
    item.name for item in dataclasses.fields(TrainParams) if item.metadata.get("model")
)
"""The train parameters that are options of the model rather than of the training."""


@dataclass(frozen=True, kw_only=True)
class EvaluateParams(Params):
    stage: ClassVar[str] = "evaluate"
    split: str = spec("test", "split to evaluate", choices=("train", "validation", "test"))
    batch_size: int = spec(256, "prediction batch size", minimum=1, runtime=True)
    bucketing: str = spec(
        "auto",
        "batch rows of similar length, trimmed to their longest row: auto (where the model "
        "was trained so; the predictions stay the same), off",
        choices=("auto", "off"),
        runtime=True,
    )


PARAMS_BY_STAGE: dict[str, type[Params]] = {
    "download": DownloadParams,
    "normalize": NormalizeParams,
    "vocab": VocabParams,
    "encode": EncodeParams,
    "train": TrainParams,
    "evaluate": EvaluateParams,
}


@dataclass(frozen=True, kw_only=True)
class PipelineConfig:
    """A preset: a name, a description and every stage's parameters."""

    name: str
    description: str
    download: DownloadParams
    normalize: NormalizeParams
    vocab: VocabParams
    encode: EncodeParams
    train: TrainParams
    evaluate: EvaluateParams
    path: Path | None = None

    def stage_params(self, stage: str) -> Params:
        return getattr(self, stage)


def override_value(cls: type[Params], name: str, raw: str) -> Any:
    """A ``--set`` value of parameter ``name``; ``none`` unsets an optional parameter."""
    kind, optional = field_types(cls)[name]
    if optional and raw.lower() == "none":
        return None
    value = parse_override_value(raw)
    if kind is str and not isinstance(value, str):
        return raw  # a string parameter takes the text as typed (--set evaluate.split=1)
    return value


def check_override(cls: type[Params], name: str, raw: str) -> tuple[Any, str | None]:
    """One ``--set`` override of parameter ``name``: its value, and what is wrong with it
    ("unknown key. ...", "expected ...") or None."""
    if name not in field_types(cls):
        return None, cls.check_field(name, None)  # the unknown key, with the valid ones
    value = override_value(cls, name, raw)
    return value, cls.check_field(name, value)


def repeated_override(given_by: dict[str, str], key: str, override: str) -> str | None:
    """The error of a ``--set`` that gives ``key`` again, or None (and ``given_by`` notes it).

    ``given_by`` maps each key given so far to the first ``--set`` that gave it.
    """
    if key in given_by:
        return f"--set {override}: {key} is also given by --set {given_by[key]}; give it once."
    given_by[key] = override
    return None


def parse_pipeline(
    data: dict[str, Any],
    *,
    name: str,
    location: str,
    overrides: list[str] | tuple[str, ...] = (),
    path: Path | None = None,
) -> PipelineConfig:
    """Build a pipeline from a parsed TOML document and ``stage.key=value`` overrides.

    Raises:
        ConfigError: listing every unknown key, wrong type and bad value, each with its location.
    """
    errors: list[str] = []
    tables: dict[str, dict[str, Any]] = {stage: {} for stage in STAGE_NAMES}
    description = data.get("description", "")
    if not isinstance(description, str):
        errors.append(f"{location}: [description] expected a string, got {description!r}.")
        description = ""
    for key, value in data.items():
        if key == "description":
            continue
        if key not in tables:
            errors.append(
                f"{location}: [{key}] unknown section. Valid sections: "
                f"description, {', '.join(STAGE_NAMES)}."
            )
        elif not isinstance(value, dict):
            errors.append(f"{location}: [{key}] expected a table, got {value!r}.")
        else:
            tables[key] = dict(value)
    set_by: dict[str, str] = {}  # stage.key: the first --set that gave it
    for override in overrides:
        target, separator, raw = override.partition("=")
        stage, dot, field_name = target.strip().partition(".")
        if not separator or not dot or not field_name:
            errors.append(f"--set {override}: expected STAGE.KEY=VALUE, e.g. train.epochs=3.")
            continue
        if stage not in tables:
            errors.append(
                f"--set {override}: unknown stage {stage!r}. Stages: {', '.join(STAGE_NAMES)}."
            )
            continue
        repeated = repeated_override(set_by, f"{stage}.{field_name.strip()}", override)
        if repeated:
            errors.append(repeated)
            continue
        value, problem = check_override(PARAMS_BY_STAGE[stage], field_name, raw.strip())
        if problem:
            errors.append(f"--set {override}: [{stage}.{field_name}] {problem}.")
            continue
        tables[stage][field_name] = value
    parsed: dict[str, Params] = {}
    for stage in STAGE_NAMES:
        instance, stage_errors = PARAMS_BY_STAGE[stage].parse(tables[stage], location)
        errors += stage_errors
        if instance is not None:
            parsed[stage] = instance
    if errors:
        raise ConfigError("\n".join(errors))
    return PipelineConfig(name=name, description=description, path=path, **parsed)  # type: ignore[arg-type]


def load_pipeline_file(
    path: Path, overrides: list[str] | tuple[str, ...] = (), *, name: str | None = None
) -> PipelineConfig:
    """Read a pipeline TOML file; the pipeline is named ``name`` (default: the file's stem)."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}.") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}.") from None
    return parse_pipeline(
        data, name=name or path.stem, location=str(path), overrides=overrides, path=path
    )
