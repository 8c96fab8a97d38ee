"""A multi-class, imbalanced data set of our own making, to check evaluation beyond binary accuracy.

Writes ``train.csv`` and ``test.csv`` (columns text, label) and ``topics.toml``, a pipeline over
them, into a folder. Five topics with shares 45/25/15/10/5%: each text mixes words of its own
topic, words of a neighbouring topic (so topics are confused, mostly with their neighbours) and
shared filler, so the confusion matrix and the macro averages have something to show.

Usage:
    python bench/multiclass.py DIR
    textpipe run DIR/topics.toml && textpipe report --plot DIR/report.png
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

TOPICS = {
    "sport": ["match", "goal", "team", "coach", "league", "score", "season", "player"],
    "politics": ["vote", "party", "minister", "election", "policy", "senate", "law", "debate"],
    "science": ["atom", "theory", "experiment", "cell", "physics", "data", "climate", "gene"],
    "music": ["album", "song", "band", "guitar", "concert", "chorus", "melody", "tour"],
    "food": ["recipe", "bread", "spice", "dinner", "oven", "flavour", "salad", "chef"],
}
SHARES = {"sport": 0.45, "politics": 0.25, "science": 0.15, "music": 0.10, "food": 0.05}
FILLER = [
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "it",
    "is",
    "was",
    "this",
    "that",
    "for",
    "on",
    "with",
    "as",
    "at",
    "by",
    "new",
    "said",
    "year",
]


def make_rows(count: int, seed: int) -> list[tuple[str, str]]:
    """`count` texts, topics drawn with the SHARES; each borrows words from the next topic."""
    rng = random.Random(seed)
    names = list(TOPICS)
    rows = []
    for _ in range(count):
        topic = rng.choices(names, weights=[SHARES[name] for name in names])[0]
        neighbour = names[(names.index(topic) + 1) % len(names)]
        own = rng.randint(1, 3)
        words = (
            rng.choices(TOPICS[topic], k=own)
            + rng.choices(TOPICS[neighbour], k=rng.randint(0, 2))
            + rng.choices(FILLER, k=rng.randint(4, 10))
        )
        rng.shuffle(words)
        rows.append((" ".join(words), topic))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--test", type=int, default=2000)
    arguments = parser.parse_args()
    folder = arguments.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for name, count, seed in (("train", arguments.train, 0), ("test", arguments.test, 1)):
        with (folder / f"{name}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(make_rows(count, seed))
    (folder / "topics.toml").write_text(
        "# Five imbalanced topics (45/25/15/10/5%), made by bench/multiclass.py.\n"
        'description = "synthetic topics, 5 imbalanced classes"\n'
        f'[download]\nsource = "{folder / "train.csv"}"\ntest_file = "{folder / "test.csv"}"\n'
        "validation_size = 0.1\n"
        "[vocab]\nsize = 100\n"
        "[encode]\nlength = 32\n"
        '[train]\nmodel = "bag"\nepochs = 5\nbatch_size = 32\nembedding_dim = 16\nunits = 16\n'
        '[evaluate]\nsplit = "test"\n'
    )
    print(f"wrote {folder}/train.csv, test.csv and topics.toml")


if __name__ == "__main__":
    main()
