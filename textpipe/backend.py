"""Importing Keras quietly, and what it runs on.

TensorFlow writes start-up lines (oneDNN, CUDA probing, "All log messages before
absl::InitializeLog()") straight to file descriptor 2 before its log level applies, so
TF_CPP_MIN_LOG_LEVEL alone does not silence them (tensorflow/tensorflow#100442). We mute the
descriptor while the backend starts, unless --debug or TEXTPIPE_DEBUG is set.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from functools import lru_cache
from typing import Any


def debug_enabled() -> bool:
    return os.environ.get("TEXTPIPE_DEBUG", "") not in ("", "0")


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Send what native code writes to stderr to /dev/null for the duration."""
    if debug_enabled():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor (captured output in tests)
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def backend_name() -> str:
    """The Keras backend that will be used, without importing Keras (an empty
    KERAS_BACKEND is unset, as Keras reads it)."""
    return os.environ.get("KERAS_BACKEND") or "tensorflow"


# What KERAS_BACKEND may name (Keras 3); textpipe is tested on the first three.
KERAS_BACKENDS = ("tensorflow", "jax", "torch", "numpy", "openvino")


def checked_backend_name() -> str:
    """``backend_name()``, refused in one line (InputError) unless Keras has that backend."""
    name = backend_name()
    if name not in KERAS_BACKENDS:
        from textpipe.errors import InputError

        raise InputError(
            f"KERAS_BACKEND={name!r} is not a Keras backend; "
            "use tensorflow (the default), jax or torch."
        )
    return name


@lru_cache(maxsize=1)
def load_keras() -> Any:
    """Import Keras (and its backend) with the start-up noise muted.

    Raises:
        InputError: KERAS_BACKEND names no Keras backend.
    """
    checked_backend_name()
    if not debug_enabled():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_stderr():
        import keras

        describe_device()
    return keras


@lru_cache(maxsize=1)
def describe_device() -> str:
    """``GPU: <name>`` or ``CPU``: the device the backend computes on."""
    backend = backend_name()
    try:
        with quiet_native_stderr():
            if backend == "tensorflow":
                import tensorflow as tf

                gpus = tf.config.list_physical_devices("GPU")
                if gpus:
                    details = tf.config.experimental.get_device_details(gpus[0])
                    return f"GPU: {details.get('device_name', gpus[0].name)}"
            elif backend == "jax":
                import jax

                device = jax.devices()[0]
                if device.platform != "cpu":
                    return f"GPU: {device.device_kind}"
            elif backend == "torch":
                import torch

                if torch.cuda.is_available():
                    return f"GPU: {torch.cuda.get_device_name(0)}"
    except Exception:  # device discovery must never break training
        pass
    return "CPU"


def has_gpu() -> bool:
    return describe_device().startswith("GPU")
