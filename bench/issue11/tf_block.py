"""Issue 11 probe: TensorFlow's fused CPU LSTM kernel (`BlockLSTM`) against the hoisted loop.

Each preset's model on its own encoded rows (as `bench/zoo_backends.py --preset`), full-length
batches, one seeded epoch order for every epoch; variants, each traced with its kernel forced:
"hoisted, XLA" (textpipe's masked LSTM on a TensorFlow CPU before this probe), "hoisted, no
XLA", "block, no XLA" (`fused_rnn.tf_block_lstm`, its batch split as textpipe splits it;
`BlockLSTM` has no XLA kernel), and the block kernel with its batch in 1 or 2 parts. Epochs
alternate between the variants after a warm-up each; best of --repeats. Usage:

    TEXTPIPE_MIRROR=/work/shared/datasets TEXTPIPE_HOME=STORE KERAS_BACKEND=tensorflow \
        python bench/issue11/tf_block.py \
        --preset imdb-lstm imdb-bilstm --rows 2048 --repeats 3
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

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
from textpipe.models import layers as zoo_layers
from textpipe.stages.batches import fit_input

# name: (kernel, XLA, parts each BlockLSTM op's batch is split into: None as textpipe does)
VARIANTS = {
    "hoisted, XLA": ("hoisted", True, None),
    "hoisted, no XLA": ("hoisted", False, None),
    "block, no XLA": ("tf-block", False, None),
    "block, 1 part": ("tf-block", False, 1),
    "block, 2 parts": ("tf-block", False, 2),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", nargs="+", default=["imdb-lstm", "imdb-bilstm"])
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--model", help="this zoo model instead of the preset's (gru, bigru)")
    parser.add_argument("--steps", type=int, help="keep only the first STEPS columns of each row")
    args = parser.parse_args()
    keras = load_keras()
    store = Store()
    default_kernel = zoo_layers.recurrence_kernel
    for name in args.preset:
        config, data, ids, labels, _ = preset_rows(name, store, args.rows)
        if args.steps:  # right-padded: the first columns hold each row's first tokens
            ids = np.ascontiguousarray(ids[:, : args.steps])
        params = config.train
        built, batches = preset_model_and_batches(config, data, ids, labels, args.model)
        model_name = args.model or params.model
        epochs = {}
        for variant in args.variants:
            _, jit, shards = VARIANTS[variant]
            model = keras.models.clone_model(built)
            model.set_weights(built.get_weights())
            for layer in model._flatten_layers():
                if shards is not None and hasattr(layer, "kernel_shards"):
                    layer.kernel_shards = shards
            compile_like_train(model, config, data, len(batches), jit_compile=jit)
            run = _epoch(model, fit_input(batches), shuffle=False)
            epochs[variant] = run
        warmup, times = alternate_epochs(
            {
                variant: _forcing(run, VARIANTS[variant][0], default_kernel)
                for variant, run in epochs.items()
            },
            args.repeats,
        )
        best = {variant: min(seconds) for variant, seconds in times.items()}
        print(
            json.dumps(
                {
                    "preset": name,
                    "model": model_name,
                    "rows": len(ids),
                    "steps": int(ids.shape[1]),
                    "warmup_s": warmup,
                    "epochs_s": times,
                    "s_per_1000_rows": {v: round(s * 1000 / len(ids), 3) for v, s in best.items()},
                    "over_first": {
                        v: round(s / best[args.variants[0]], 2) for v, s in best.items()
                    },
                }
            ),
            flush=True,
        )


def _forcing(run, kernel, default_kernel):
    """`run` with `recurrence_kernel` forced to `kernel` while it runs (the first run traces)."""

    def forced() -> None:
        zoo_layers.recurrence_kernel = lambda *_, **__: kernel
        try:
            run()
        finally:
            zoo_layers.recurrence_kernel = default_kernel

    return forced


if __name__ == "__main__":
    main()
