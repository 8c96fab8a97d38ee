"""Issue 11 probe: a preset's epoch against the same model without its recurrent layers.

"model" is the preset's model as textpipe builds it; "no recurrence" replaces each recurrent
layer (or bidirectional pair) with a per-step `Dense` of the same output width, mask kept, so
the embedding, dropout, pooling, head and optimizer are what is left. Same rows and batches as
`bench/zoo_backends.py --preset` (full length), both compiled as `textpipe train` compiles the
recurrent model on this backend (the same XLA setting for both, so on a TensorFlow CPU at 500
steps neither uses XLA); epochs alternate after a warm-up each, best of --repeats, seconds per
1,000 rows.

    TEXTPIPE_MIRROR=/work/shared/datasets TEXTPIPE_HOME=/tmp/preset-epochs KERAS_BACKEND=torch \
        python bench/issue11/preset_floor.py --preset imdb-lstm --rows 1024
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from zoo_backends import (
    _epoch,
    alternate_epochs,
    compile_like_train,
    preset_model_and_batches,
    preset_rows,
)

from textpipe.artifacts import Store
from textpipe.backend import load_keras
from textpipe.models.layers import FusedBidirectional, FusedGRU, FusedLSTM
from textpipe.stages.batches import fit_input
from textpipe.stages.train import _resolve_jit_compile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", nargs="+", default=["imdb-lstm"])
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    keras = load_keras()
    backend = keras.backend.backend()
    for name in args.preset:
        config, data, ids, labels, _ = preset_rows(name, Store(), args.rows)
        built, batches = preset_model_and_batches(config, data, ids, labels)

        def without_recurrence(layer):
            if isinstance(layer, FusedBidirectional | FusedLSTM | FusedGRU):
                width = layer.compute_output_shape((None, None, 64))[-1]
                return keras.layers.Dense(width, name=layer.name)
            return layer.__class__.from_config(layer.get_config())

        def call(layer, *args, **kwargs):
            if isinstance(layer, keras.layers.Dense):  # takes no mask; passes it on
                kwargs.pop("mask", None)
            return layer(*args, **kwargs)

        floor = keras.models.clone_model(
            built, clone_function=without_recurrence, call_function=call
        )
        jit = _resolve_jit_compile(config.train.jit_compile, True, data.length)
        epochs = {}
        for variant, model in (("model", built), ("no recurrence", floor)):
            compile_like_train(model, config, data, len(batches), jit_compile=jit)
            epochs[variant] = _epoch(model, fit_input(batches), shuffle=False)
        warmup, times = alternate_epochs(epochs, args.repeats)
        best = {variant: min(seconds) for variant, seconds in times.items()}
        print(
            json.dumps(
                {
                    "preset": name,
                    "backend": backend,
                    "jit_compile": bool(jit),
                    "warmup_s": warmup,
                    "epochs_s": times,
                    "s_per_1000_rows": {v: round(s * 1000 / len(ids), 3) for v, s in best.items()},
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
