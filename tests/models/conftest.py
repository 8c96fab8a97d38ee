"""Fixtures shared by the model zoo tests: seeds, synthetic reviews and padding."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def right_pad_rows(rows: Sequence[Sequence[int]], length: int) -> np.ndarray:
    """Returns the rows as int32 token ids, right-padded with 0 to `length` steps."""
    padded = np.zeros((len(rows), length), dtype="int32")
    for index, row in enumerate(rows):
        padded[index, : len(row)] = row
    return padded


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Seeds Python, NumPy and the Keras backend, so every test sees the same weights and data."""
    import keras

    keras.utils.set_random_seed(1234)


@pytest.fixture
def custom_cell_spec() -> str:
    """The spec of the custom-cell example, an absolute path so that it works from any directory."""
    return f"{REPO_ROOT / 'examples' / 'custom_cell.py'}:build"


@pytest.fixture
def right_pad() -> Callable[[Sequence[Sequence[int]], int], np.ndarray]:
    """The `right_pad_rows` function."""
    return right_pad_rows


@pytest.fixture
def reviews() -> tuple[list[list[int]], np.ndarray]:
    """Sixteen easy reviews of 3 to 12 tokens: label 1 uses ids 2-24, label 0 ids 25-49."""
    generator = np.random.default_rng(7)
    labels = np.array([0, 1] * 8, dtype="int32")
    rows = []
    for label in labels:
        low, high = (2, 25) if label == 1 else (25, 50)
        rows.append(generator.integers(low, high, size=generator.integers(3, 13)).tolist())
    return rows, labels
