"""Issue 11 probe: masked lstm/gru epochs against the same model without its recurrent layer.

Usage: KERAS_BACKEND=jax|torch|tensorflow python bench/issue11/floor.py
"""

import json
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1]))
from zoo_backends import synthetic

from textpipe.backend import load_keras
from textpipe.models import build_model
from textpipe.models.layers import MaskedMeanPooling
from textpipe.stages.train import _resolve_jit_compile, compile_model

keras = load_keras()
ids, labels = synthetic(1536, 128, 20002)
jit = _resolve_jit_compile("auto", True, 128)
models = {}
for name in ("lstm", "gru"):
    keras.utils.set_random_seed(0)
    models[name] = build_model(
        name, vocab_size=20002, length=128, num_classes=2, units=32, embedding_dim=64
    )
inputs = keras.Input((None,), dtype="int32")
hidden = keras.layers.Embedding(20002, 64, mask_zero=True)(inputs)
hidden = MaskedMeanPooling()(hidden)
hidden = keras.layers.Dense(32, activation="relu")(hidden)
models["no_recurrence"] = keras.Model(inputs, keras.layers.Dense(1)(hidden))
for m in models.values():
    compile_model(m, num_classes=2, learning_rate=1e-3, jit_compile=jit)
    m.fit(ids, labels, batch_size=64, epochs=1, verbose=0)
times = {k: [] for k in models}
for _ in range(3):
    for k, m in models.items():
        start = time.perf_counter()
        m.fit(ids, labels, batch_size=64, epochs=1, verbose=0)
        times[k].append(round(time.perf_counter() - start, 3))
best = {k: min(v) for k, v in times.items()}
print(
    json.dumps(
        {"backend": keras.backend.backend(), "jit_compile": jit, "epochs_s": times, "best_s": best}
    )
)
