"""Issue 11 probe: where a torch lstm epoch's time goes.

Usage: KERAS_BACKEND=torch python bench/issue11/profile_torch2.py lstm textpipe|unmasked
"""

import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1]))
from torch.profiler import ProfilerActivity, profile
from zoo_backends import _variant, synthetic

from textpipe.backend import load_keras
from textpipe.models import build_model
from textpipe.stages.train import compile_model

keras = load_keras()
name = sys.argv[1]
variant = sys.argv[2]

ids, labels = synthetic(1536, 128, 20002)
keras.utils.set_random_seed(0)
model = build_model(name, vocab_size=20002, length=128, num_classes=2, units=32, embedding_dim=64)
model = _variant(model, variant)
compile_model(model, num_classes=2, learning_rate=1e-3, jit_compile=False)
model.fit(ids, labels, batch_size=64, epochs=1, verbose=0)
start = time.perf_counter()
model.fit(ids, labels, batch_size=64, epochs=1, verbose=0)
print("epoch", round(time.perf_counter() - start, 2))
with profile(activities=[ProfilerActivity.CPU], record_shapes=True, with_stack=True) as prof:
    model.fit(ids[:640], labels[:640], batch_size=64, epochs=1, verbose=0)
print(
    prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=12)
)
print(prof.key_averages(group_by_stack_n=12).table(sort_by="self_cpu_time_total", row_limit=4))
