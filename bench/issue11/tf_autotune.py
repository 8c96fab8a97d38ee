"""Issue 11 probe: `fit_input` with and without tf.data's autotuner, on TensorFlow.

With the autotuner on (tf.data's default, as `fit_input` had it), epochs ended only when its
optimisation thread next woke: 10 ms, 30 ms, 70 ms, ... 2.55 s, 5.11 s, 10.23 s after the pass
began (its period doubles), so an epoch of 7.4-8.5 s took 10.23-10.27 s. One model (the
preset's, XLA off), the same seeded batches; epochs alternate between the two pipelines after
one each to trace. Usage:

    TEXTPIPE_HOME=STORE python bench/issue11/tf_autotune.py --preset imdb-lstm --rows 2048
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from zoo_backends import preset_model_and_batches, preset_rows

from textpipe.artifacts import Store
from textpipe.backend import load_keras
from textpipe.stages.batches import fit_input
from textpipe.stages.train import compile_model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="imdb-lstm")
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    load_keras()
    import tensorflow as tf

    config, data, ids, labels, _ = preset_rows(args.preset, Store(), args.rows)
    params = config.train
    model, batches = preset_model_and_batches(config, data, ids, labels)
    compile_model(
        model, num_classes=data.num_classes, learning_rate=params.learning_rate, jit_compile=False
    )

    def autotuned(dataset):
        options = tf.data.Options()
        options.autotune.enabled = True  # tf.data's default, as fit_input had it
        return fit_input(dataset).with_options(options)

    pipelines = {"autotuner on": autotuned, "fit_input (autotuner off)": fit_input}
    for make in pipelines.values():  # traces
        model.fit(make(batches), epochs=1, verbose=0, shuffle=False)
    for _ in range(args.repeats):
        for name, make in pipelines.items():
            start = time.perf_counter()
            model.fit(make(batches), epochs=1, verbose=0, shuffle=False)
            print(f"{name}: {time.perf_counter() - start:.2f} s", flush=True)


if __name__ == "__main__":
    main()
