"""The Keras 3 model zoo: a registry of builder functions sharing one set of hyperparameters.

Importing this package does not import Keras; building a model does. Every builder is
backend-agnostic (`keras.ops` only), so the zoo runs with KERAS_BACKEND=tensorflow, jax or torch.

Example:
    >>> from textpipe.models import build_model
    >>> model = build_model("lstm", vocab_size=20_000, length=256, num_classes=2)
"""

from __future__ import annotations

from textpipe.models.hyperparameters import (
    DEFAULT_HYPERPARAMETERS,
    HYPERPARAMETER_NAMES,
    MERGE_MODES,
    POOLING_MODES,
    REQUIRED_HYPERPARAMETERS,
    validate_hyperparameters,
)
from textpipe.models.registry import (
    MODEL_NAMES,
    ModelInfo,
    build_model,
    get_builder,
    is_custom_spec,
    list_models,
    load_model,
    model_info,
)

__all__ = [
    "DEFAULT_HYPERPARAMETERS",
    "HYPERPARAMETER_NAMES",
    "MERGE_MODES",
    "MODEL_NAMES",
    "POOLING_MODES",
    "REQUIRED_HYPERPARAMETERS",
    "ModelInfo",
    "build_model",
    "get_builder",
    "is_custom_spec",
    "list_models",
    "load_model",
    "model_info",
    "validate_hyperparameters",
]
