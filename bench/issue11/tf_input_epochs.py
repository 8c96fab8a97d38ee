"""Issue 11 probe: imdb-lstm's epochs on TensorFlow through three inputs, to tell whether the
epochs that land on multiples of ~2.56 s come from textpipe's input pipeline.

The preset's model and settings on `--rows` seeded rows of its encode artifact (as `bench/
zoo_backends.py --preset` reads them), full-length batches in one seeded order: `fit_input`
(textpipe's tf.data pipeline, `prefetch(AUTOTUNE)`), the same generator with a fixed
`prefetch(2)`, and the same rows in that order as NumPy arrays (Keras's own adapter). A warm-up
epoch each, then `--repeats` epochs each, in turn. Usage:
TEXTPIPE_MIRROR=... KERAS_BACKEND=tensorflow python bench/issue11/tf_input_epochs.py
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from zoo_backends import _epoch, alternate_epochs, preset_rows

from textpipe.artifacts import Store
from textpipe.backend import load_keras
from textpipe.models import build_model, select_model_options
from textpipe.stages.batches import fit_input, sequence_batches
from textpipe.stages.train import _targets, compile_model


def fixed_prefetch(dataset, size: int):
    """`fit_input`'s pipeline with a fixed prefetch buffer instead of AUTOTUNE."""
    import tensorflow as tf

    signature = tuple(
        tf.TensorSpec((None, None, *array.shape[1:]), tf.as_dtype(array.dtype))
        for array in dataset[0]
    )
    pipeline = tf.data.Dataset.from_generator(dataset.runs, output_signature=signature)
    pipeline = pipeline.unbatch().prefetch(size)
    return pipeline.apply(tf.data.experimental.assert_cardinality(len(dataset)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="imdb-lstm")
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    keras = load_keras()
    config, data, ids, labels, _ = preset_rows(args.preset, Store(), args.rows)
    params = config.train
    targets = _targets(labels, data.num_classes)
    batches = sequence_batches(
        ids,
        targets=targets,
        batch_size=params.batch_size,
        padding=data.padding,
        shuffle=True,
        seed=params.seed,
    )
    order = batches.plan.row_order
    epochs = {}
    for name in ("fit_input", "prefetch(2)", "numpy"):
        keras.utils.set_random_seed(params.seed)
        model = build_model(
            params.model,
            vocab_size=data.vocab_size,
            length=data.length,
            num_classes=data.num_classes,
            **select_model_options(params.model, params.model_options()),
        )
        compile_model(
            model,
            num_classes=data.num_classes,
            learning_rate=params.learning_rate,
            jit_compile=True,
        )
        if name == "numpy":
            epochs[name] = _epoch(
                model, ids[order], targets[order], batch_size=params.batch_size, shuffle=False
            )
        else:
            inputs = fit_input(batches) if name == "fit_input" else fixed_prefetch(batches, 2)
            epochs[name] = _epoch(model, inputs, shuffle=False)
    warmup, times = alternate_epochs(epochs, args.repeats)
    print({"warmup_s": warmup, "epochs_s": times}, flush=True)


if __name__ == "__main__":
    main()
