"""The Keras 3 model zoo: a registry of builder functions, each using the options of its family.

Importing this package does not import Keras; building a model does. Every builder is
backend-agnostic (`keras.ops` only), so the zoo runs with KERAS_BACKEND=tensorflow, jax or torch.
The model options' defaults, ranges and choices are `textpipe.config.TrainParams`'s.

Example:
    >>> from textpipe.models import build_model, model_options
    >>> model_options("cnn")
    ('embedding_dim', 'units', 'dropout', 'kernel_size', 'mixed_precision')
    >>> model = build_model("cnn", vocab_size=20_000, length=256, num_classes=2, kernel_size=3)
"""

from __future__ import annotations

from textpipe.models.custom import is_custom_spec
from textpipe.models.registry import (
    MODEL_NAMES,
    ModelInfo,
    build_model,
    list_models,
    load_model,
    model_info,
    model_options,
    select_model_options,
)

__all__ = [
    "MODEL_NAMES",
    "ModelInfo",
    "build_model",
    "is_custom_spec",
    "list_models",
    "load_model",
    "model_info",
    "model_options",
    "select_model_options",
]
