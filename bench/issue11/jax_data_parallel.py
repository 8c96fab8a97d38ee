"""Issue 11 probe: a preset's epoch on a JAX CPU, on one device against data-parallel over two
host devices (`keras.distribution.DataParallel`), same batches, alternating after a warm-up.

    XLA_FLAGS=--xla_force_host_platform_device_count=2 TEXTPIPE_MIRROR=/work/shared/datasets \
        TEXTPIPE_HOME=/tmp/preset-epochs KERAS_BACKEND=jax \
        python bench/issue11/jax_data_parallel.py --preset imdb-bilstm
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="imdb-bilstm")
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    keras = load_keras()
    config, data, ids, labels, _ = preset_rows(args.preset, Store(), args.rows)
    data_parallel = keras.distribution.DataParallel()
    epochs = {}
    for name, distribution in (("one device", None), ("data-parallel", data_parallel)):
        keras.distribution.set_distribution(distribution)
        model, batches = preset_model_and_batches(config, data, ids, labels)
        compile_like_train(model, config, data, len(batches), jit_compile=True)
        epochs[name] = _under(distribution, _epoch(model, batches, shuffle=False), keras)
        keras.distribution.set_distribution(None)
    warmup, times = alternate_epochs(epochs, args.repeats)
    print(
        json.dumps({"preset": args.preset, "rows": len(ids), "warmup_s": warmup, "epochs_s": times})
    )


def _under(distribution, run, keras):
    def wrapped() -> None:
        keras.distribution.set_distribution(distribution)
        try:
            run()
        finally:
            keras.distribution.set_distribution(None)

    return wrapped


if __name__ == "__main__":
    main()
