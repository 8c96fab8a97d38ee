"""Issue 11 probe: on a JAX CPU, masked recurrent layers on textpipe's "scan" kernel (the
unmasked loop over each row's real steps, the state at its length picked out afterwards, as on
a JAX GPU for a GRU) instead of Keras's own masked loop, which `recurrence_kernel` picks there.

Runs `bench/zoo_backends.py` with the given arguments, `recurrence_kernel` patched to answer
"scan" for every masked layer on JAX when PROBE_SCAN=1; compare two processes, with and
without it:

    for s in 0 1; do PROBE_SCAN=$s KERAS_BACKEND=jax python bench/issue11/jax_scan_kernel.py \
        --masking --models lstm bilstm gru bigru --rows 1536 --length 128 --units 32 --repeats 2; done
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

import keras

from textpipe.models import layers

HERE = Path(__file__).resolve().parent
keras_choice = layers.recurrence_kernel


def scan_when_masked(cell_type: str, *, masked: bool) -> str | None:
    if os.environ.get("PROBE_SCAN") == "1" and keras.backend.backend() == "jax" and masked:
        return "scan"
    return keras_choice(cell_type, masked=masked)


if __name__ == "__main__":
    layers.recurrence_kernel = scan_when_masked
    sys.path.insert(0, str(HERE.parent))
    sys.argv = ["zoo_backends.py", *sys.argv[1:]]
    runpy.run_path(str(HERE.parent / "zoo_backends.py"), run_name="__main__")
