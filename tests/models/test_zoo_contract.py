"""The contract every zoo model and the custom example keep: build, train, save, load, mask."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from textpipe.models import MODEL_NAMES, build_model, model_info
from textpipe.models.adapt import adapt_model

CUSTOM_CELL_SPEC = f"{Path(__file__).resolve().parents[2] / 'examples' / 'custom_cell.py'}:build"
SPECS = [*MODEL_NAMES, CUSTOM_CELL_SPEC]
SPEC_IDS = [*MODEL_NAMES, "examples/custom_cell.py:build"]
# Tiny sizes, so that every model builds and trains in about a second on a CPU.
TINY = {"vocab_size": 50, "embedding_dim": 8, "units": 8}


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_model_trains_saves_loads_and_ignores_padding(spec, tmp_path, reviews, right_pad):
    masked = model_info(spec).masked
    rows, labels = reviews
    # The masked models take any length; 32 positions let the transformer read 32-step input.
    model = build_model(spec, length=32 if masked else 16, num_classes=2, **TINY)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.02),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    inputs = right_pad(rows, 16)
    # As the train stage does: layers that learn from the labels (ngram's ratios) first.
    adapt_model(model, inputs, labels, num_classes=2)

    history = model.fit(inputs, labels, batch_size=16, epochs=8, verbose=0)

    losses = history.history["loss"]
    assert losses[-1] < losses[0], losses
    predictions = keras.ops.convert_to_numpy(model(inputs, training=False))
    assert predictions.shape == (16, 1)

    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    reloaded = keras.ops.convert_to_numpy(loaded(inputs, training=False))
    np.testing.assert_allclose(reloaded, predictions, atol=1e-6)

    if masked:
        # A row without padding at 16 steps catches leaks that equal amounts of padding hide
        # (a max over padded steps is the same at 16 and 32 once there is any padding).
        checked = [*rows, list(range(2, 18))]
        at_16 = keras.ops.convert_to_numpy(model(right_pad(checked, 16), training=False))
        at_32 = keras.ops.convert_to_numpy(model(right_pad(checked, 32), training=False))
        np.testing.assert_allclose(at_32, at_16, atol=1e-5)
