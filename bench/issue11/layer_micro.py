"""Issue 11 probe: one recurrent layer's forward + backward, masked against unmasked, on torch.

textpipe's FusedLSTM/FusedGRU (alone and in Bidirectional) on 64 rows x 128 steps x 64
features -> 32 units, right-padded as bench/zoo_backends.py pads; the two calls alternate, best
and median of 15. Usage: KERAS_BACKEND=torch python bench/issue11/layer_micro.py
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
import keras
import torch
from zoo_backends import synthetic

from textpipe.models.layers import FusedGRU, FusedLSTM

ids, _ = synthetic(64, 128, 20002)
mask = torch.as_tensor(ids != 0)
torch.manual_seed(0)
inputs = torch.randn(64, 128, 64, requires_grad=True)


def step(layer, with_mask: bool) -> None:
    outputs = layer(inputs, mask=mask if with_mask else None)
    outputs.sum().backward()


for name, make in [
    ("lstm", lambda: FusedLSTM(32, return_sequences=True)),
    ("gru", lambda: FusedGRU(32, return_sequences=True)),
    ("bilstm", lambda: keras.layers.Bidirectional(FusedLSTM(32, return_sequences=True))),
    ("bigru", lambda: keras.layers.Bidirectional(FusedGRU(32, return_sequences=True))),
]:
    layer = make()
    step(layer, True)
    step(layer, False)
    times = {True: [], False: []}
    for _ in range(15):
        for with_mask in (True, False):
            start = time.perf_counter()
            step(layer, with_mask)
            times[with_mask].append(time.perf_counter() - start)
    masked, unmasked = (min(times[flag]) * 1000 for flag in (True, False))
    print(
        f"{name}: masked best {masked:.1f} ms (median {statistics.median(times[True]) * 1000:.1f}),"
        f" unmasked best {unmasked:.1f} ms (median {statistics.median(times[False]) * 1000:.1f}),"
        f" ratio of bests {masked / unmasked:.2f}",
        flush=True,
    )
