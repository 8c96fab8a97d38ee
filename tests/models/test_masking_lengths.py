"""Padding never changes a prediction: the same reviews encoded at length 64 and at 128."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.conftest import encode_chain, write_csv
from textpipe.artifacts import Store
from textpipe.models import MODEL_NAMES, build_model, model_info

MASKED = [name for name in MODEL_NAMES if model_info(name).masked]


@pytest.fixture(scope="module")
def encodings(tmp_path_factory: pytest.TempPathFactory) -> dict[int, np.ndarray]:
    """Reviews of 3 to 60 tokens, through the real encode stage at lengths 64 and 128."""
    folder = tmp_path_factory.mktemp("lengths")
    words = [f"word{index}" for index in range(40)]
    rows = [
        (" ".join(words[(count * 7) % 40 :] + words)[: count * 8], "pos" if count % 2 else "neg")
        for count in (3, 9, 20, 35, 60)
    ]
    store = Store(folder / "artifacts")
    source = write_csv(folder / "r.csv", rows)
    result = {}
    for length in (64, 128):
        _, _, encoded = encode_chain(source, store, strip_html=False, size=30, length=length)
        result[length] = np.load(encoded.artifact.path / "train.ids.npy")
    assert (result[128][:, 64:] == 0).all() and (result[64] != 0).sum() == (result[128] != 0).sum()
    return result


@pytest.mark.parametrize("name", MASKED)
def test_length_64_and_128_predict_the_same(name: str, encodings: dict[int, np.ndarray]) -> None:
    keras.utils.set_random_seed(1)
    sizes = {} if name == "ngram" else {"embedding_dim": 8, "units": 8}
    model = build_model(name, vocab_size=32, length=128, num_classes=2, **sizes)
    if name == "ngram":
        # Its linear weights start at zero, as logistic regression does: every review would
        # predict 0 before training, which would hide a padding leak.
        vectors = model.get_layer("naive_bayes_bag").vectors
        vectors.assign(np.random.default_rng(0).normal(size=vectors.shape).astype("float32"))
    at_64 = keras.ops.convert_to_numpy(model(encodings[64], training=False))
    at_128 = keras.ops.convert_to_numpy(model(encodings[128], training=False))
    np.testing.assert_allclose(at_128, at_64, atol=1e-5)
    assert np.ptp(at_64) > 0  # the reviews do not all predict the same
