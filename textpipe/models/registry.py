"""The model registry: names of the zoo's builders, and loading of custom builders.

Importable without Keras: each family module (and with it Keras and its backend) is imported
only when one of its builders is asked for, so `textpipe --help` stays fast.

A model spec is either a registered name (`lstm`) or a custom builder, `path/to/file.py:function`
or `package.module:function`. A builder is a function taking the shared keyword-only
hyperparameters (see `textpipe.models.hyperparameters`) and returning an uncompiled
`keras.Model` that maps int32 token ids (padding id 0) to logits: one logit for 2 classes,
one per class for more.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from textpipe.errors import ConfigError
from textpipe.models.hyperparameters import DEFAULT_HYPERPARAMETERS, resolve_hyperparameters

if TYPE_CHECKING:
    import keras

CUSTOM_SPEC_FORMAT = "path/to/file.py:function"

# Custom builder files are loaded as modules named with this prefix, one per resolved file path.
_CUSTOM_MODULE_PREFIX = "textpipe_custom_model"


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
    """

    name: str
    description: str
    masked: bool
    recurrent: bool


@dataclass(frozen=True)
class _Registration:
    module: str
    function: str
    description: str
    masked: bool
    recurrent: bool


_REGISTRY: dict[str, _Registration] = {
    "bag": _Registration(
        "textpipe.models.bag",
        "build_bag",
        "Mean of word embeddings, optionally with hashed bigrams (fastText)",
        masked=True,
        recurrent=False,
    ),
    "bigru": _Registration(
        "textpipe.models.recurrent",
        "build_bigru",
        "Bidirectional GRU layers",
        masked=True,
        recurrent=True,
    ),
    "bilstm": _Registration(
        "textpipe.models.recurrent",
        "build_bilstm",
        "Bidirectional LSTM layers",
        masked=True,
        recurrent=True,
    ),
    "cnn": _Registration(
        "textpipe.models.conv",
        "build_cnn",
        "1D convolution over the embeddings, max-pooled over the real tokens",
        masked=True,
        recurrent=False,
    ),
    "gru": _Registration(
        "textpipe.models.recurrent",
        "build_gru",
        "GRU layers",
        masked=True,
        recurrent=True,
    ),
    "lstm": _Registration(
        "textpipe.models.recurrent",
        "build_lstm",
        "LSTM layers",
        masked=True,
        recurrent=True,
    ),
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
    ),
    "transformer": _Registration(
        "textpipe.models.transformer",
        "build_transformer",
        "Transformer encoder blocks with learned positions, mean-pooled",
        masked=True,
        recurrent=False,
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


def is_custom_spec(spec: str) -> bool:
    """Tells a custom builder spec (`file.py:function`, `module:function`) from a model name.

    Args:
        spec: A model spec.

    Returns:
        Whether `spec` names a custom builder rather than a registered model.
    """
    return ":" in spec


def model_info(spec: str) -> ModelInfo:
    """Describes a registered model or a custom builder, without importing either.

    A custom builder's properties are unknown, so it is assumed to be masked and not recurrent.

    Args:
        spec: A registered name, `path/to/file.py:function` or `package.module:function`.

    Returns:
        The model's ModelInfo.

    Raises:
        ConfigError: If `spec` is neither a registered name nor a well-formed custom spec.
    """
    if is_custom_spec(spec):
        target, _ = _split_custom_spec(spec)
        return ModelInfo(
            name=spec,
            description=f"custom builder from {target}",
            masked=True,
            recurrent=False,
        )
    _check_registered(spec)
    return _info(spec)


def get_builder(spec: str) -> Callable[..., keras.Model]:
    """Returns the builder function of a registered model or of a custom builder.

    A custom builder file is loaded once per process, as a module named after its resolved
    path, so that Keras custom objects it registers (`register_keras_serializable`) stay
    registered and a saved model that uses them loads.

    Args:
        spec: A registered name (`lstm`), `path/to/file.py:function` (relative to the current
            directory) or `package.module:function` (importable from `sys.path`).

    Returns:
        The builder: a function taking the shared keyword-only hyperparameters and returning an
        uncompiled `keras.Model`.

    Raises:
        ConfigError: If the name is unknown, or the file, module or function is missing.
    """
    if not is_custom_spec(spec):
        _check_registered(spec)
        registration = _REGISTRY[spec]
        module = importlib.import_module(registration.module)
        return getattr(module, registration.function)

    target, function_name = _split_custom_spec(spec)
    if _looks_like_path(target):
        module = _load_file(Path(target), spec=spec)
    else:
        module = _import_module(target, spec=spec)
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


def build_model(spec: str, **hyperparameters: Any) -> keras.Model:
    """Builds an uncompiled model from its spec and hyperparameters.

    Unknown names, missing required hyperparameters and invalid values are reported together.
    Hyperparameters not given take the shared defaults. A custom builder without `**kwargs`
    receives only the hyperparameters its signature names; giving it one it does not accept
    (other than at its default value) is an error.

    Args:
        spec: A registered name, `path/to/file.py:function` or `package.module:function`.
        **hyperparameters: The shared keyword-only hyperparameters: `vocab_size`, `length`,
            `num_classes` (required), `embedding_dim`, `units`, `num_layers`, `dropout`,
            `pooling`, `merge_mode`, `bigrams`, `bigram_buckets`, `ngram_order`,
            `ngram_buckets`, `ngram_hidden`, `num_heads`, `kernel_size`,
            `use_cudnn`, `mixed_precision`.

    Returns:
        An uncompiled `keras.Model` mapping `(batch, steps)` int32 token ids to logits.

    Raises:
        ConfigError: If the spec or a hyperparameter is invalid.
    """
    # Name and hyperparameters are checked before the builder's import, which loads Keras.
    model_info(spec)
    resolved = resolve_hyperparameters(hyperparameters, model=spec)
    builder = get_builder(spec)
    if is_custom_spec(spec):
        resolved = _arguments_accepted_by(builder, resolved, given=hyperparameters, spec=spec)
    return builder(**resolved)


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
        ConfigError: If `spec` is invalid, as in `get_builder`.
    """
    import keras

    import textpipe.models.layers  # noqa: F401  (registers textpipe's custom layers)

    if spec is not None and is_custom_spec(spec):
        get_builder(spec)
    return keras.saving.load_model(path)


def _info(name: str) -> ModelInfo:
    registration = _REGISTRY[name]
    return ModelInfo(
        name=name,
        description=registration.description,
        masked=registration.masked,
        recurrent=registration.recurrent,
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


def _split_custom_spec(spec: str) -> tuple[str, str]:
    # rpartition, so that a Windows drive letter (C:\models\mine.py:build) stays in the path.
    target, _, function_name = spec.rpartition(":")
    if not target or not function_name.isidentifier():
        raise ConfigError(
            f"Invalid model spec '{spec}'. Expected a model name ({', '.join(MODEL_NAMES)}), "
            f"{CUSTOM_SPEC_FORMAT} or package.module:function."
        )
    return target, function_name


def _looks_like_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _load_file(path: Path, *, spec: str) -> ModuleType:
    if not path.is_file():
        raise ConfigError(
            f"Model file '{path}' not found (model spec '{spec}'). "
            f"Pass {CUSTOM_SPEC_FORMAT} with a path relative to the current directory."
        )
    resolved = path.resolve()
    module_name = _module_name_for(resolved)
    if module_name in sys.modules:
        # Executing the file again would register its Keras objects a second time.
        return sys.modules[module_name]
    module_spec = importlib.util.spec_from_file_location(module_name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError(f"Cannot load '{path}' as Python (model spec '{spec}').")
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


def _import_module(name: str, *, spec: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and (name == error.name or name.startswith(f"{error.name}.")):
            raise ConfigError(
                f"Model module '{name}' not found (model spec '{spec}'). Pass "
                f"{CUSTOM_SPEC_FORMAT}, or package.module:function with the package importable."
            ) from error
        raise ConfigError(
            f"Importing model module '{name}' failed: {type(error).__name__}: {error}"
        ) from error
    except Exception as error:
        raise ConfigError(
            f"Importing model module '{name}' failed: {type(error).__name__}: {error}"
        ) from error


def _arguments_accepted_by(
    builder: Callable[..., Any],
    resolved: dict[str, Any],
    *,
    given: dict[str, Any],
    spec: str,
) -> dict[str, Any]:
    try:
        parameters = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        return resolved
    if any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values()):
        return resolved
    accepted = {name: value for name, value in resolved.items() if name in parameters}
    refused = [
        name
        for name, value in given.items()
        if name not in parameters and DEFAULT_HYPERPARAMETERS.get(name, object()) != value
    ]
    if refused:
        raise ConfigError(
            f"Model builder '{spec}' does not accept {', '.join(refused)}. It accepts: "
            f"{', '.join(name for name in parameters)}. Add **kwargs to its signature to "
            "accept and ignore the others."
        )
    return accepted
