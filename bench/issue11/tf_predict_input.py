"""Issue 11 probe: `model.predict` on TensorFlow through Keras's own adapter of a `PyDataset`
(tf.data with its autotuner: what `evaluate` and `predict` pass) against `fit_input` (autotuner
off, what `train` reads; measured as an alternative for `predict_probabilities`, not adopted).

A preset's model (untrained: the time does not depend on the weights) over `--rows` seeded rows
of its encoded training split, batches of 256 as `evaluate` makes them; the two alternate after
a warm-up each, seconds per pass, every round.

    TEXTPIPE_MIRROR=/work/shared/datasets TEXTPIPE_HOME=/tmp/preset-epochs \
        python bench/issue11/tf_predict_input.py --preset imdb-lstm
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from zoo_backends import preset_model_and_batches, preset_rows

from textpipe.artifacts import Store
from textpipe.stages.batches import fit_input, sequence_batches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="imdb-lstm")
    parser.add_argument("--rows", type=int, default=2500)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    config, data, ids, labels, _ = preset_rows(args.preset, Store(), args.rows)
    model, _ = preset_model_and_batches(config, data, ids, labels)
    batches = sequence_batches(ids, batch_size=args.batch, padding=data.padding)
    ways = {
        "Keras's adapter (autotuner on)": lambda: model.predict(batches, verbose=0),
        "fit_input (autotuner off)": lambda: model.predict(fit_input(batches), verbose=0),
    }
    for way in ways.values():
        way()
    times = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            times[name].append(round(time.perf_counter() - start, 2))
    print(f"{args.preset}: predict over {len(ids)} rows, batches of {args.batch}")
    for name, seconds in times.items():
        print(f"  {name}: {seconds}  best {min(seconds)}")


if __name__ == "__main__":
    main()
