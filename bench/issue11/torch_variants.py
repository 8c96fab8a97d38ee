"""Issue 11 probe: torch epochs, eager against `jit_compile=True` (torch.compile of the step).

Usage: KERAS_BACKEND=torch python bench/issue11/torch_variants.py lstm eager,jit 1
(a mode containing "t1" runs with torch.set_num_threads(1); not measured yet)
"""

import json
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1]))
import torch
from zoo_backends import _variant, synthetic

from textpipe.backend import load_keras
from textpipe.models import build_model
from textpipe.stages.train import compile_model

keras = load_keras()
name = sys.argv[1]
modes = sys.argv[2].split(",")
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 2
ids, labels = synthetic(1536, 128, 20002)
keras.utils.set_random_seed(0)
built = build_model(name, vocab_size=20002, length=128, num_classes=2, units=32, embedding_dim=64)
models, first = {}, {}


def threads(mode):
    torch.set_num_threads(1 if "t1" in mode else 2)


for mode in modes:
    threads(mode)
    m = _variant(built, "unmasked" if "unmasked" in mode else "textpipe")
    compile_model(m, num_classes=2, learning_rate=1e-3, jit_compile="jit" in mode)
    start = time.perf_counter()
    m.fit(ids, labels, batch_size=64, epochs=1, verbose=0)
    first[mode] = round(time.perf_counter() - start, 2)
    models[mode] = m
    print(mode, "first epoch", first[mode], flush=True)
times = {mode: [] for mode in modes}
for _ in range(repeats):
    for mode in modes:
        threads(mode)
        start = time.perf_counter()
        models[mode].fit(ids, labels, batch_size=64, epochs=1, verbose=0)
        times[mode].append(round(time.perf_counter() - start, 2))
best = {mode: min(t) for mode, t in times.items()}
print(
    json.dumps(
        {
            "model": name,
            "first_epoch_s": first,
            "epochs_s": times,
            "best_s": best,
            "over_" + modes[0]: {m: round(b / best[modes[0]], 2) for m, b in best.items()},
        }
    )
)
