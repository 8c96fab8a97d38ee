"""Benchmark: fault injection of the data stages through the real CLI, with counts.

Kills each data stage command (download, normalize, vocab, encode) with SIGKILL at random
moments, races several builders of one key into one -o folder, and flips or truncates every
stored file in turn; after each fault it checks that no complete-looking artifact is wrong,
that a re-run is byte-identical to a clean reference run, and that nothing outside the store
and the -o folders changed (see tests/faults/harness.py). Prints one line per kind of fault.

Usage:
    python bench/faults.py [--kills 40] [--races 10] [--builders 4] [--rows 3000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.harness import (
    ALL_STAGES,
    DATA_STAGES,
    MODEL_STAGES,
    Sandbox,
    Tally,
    corruption_rounds,
    kill_rounds,
    race_rounds,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--races", type=int, default=10)
    parser.add_argument("--builders", type=int, default=4)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--model-kills", type=int, default=10, help="kills of train and evaluate (tiny model)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sandbox = Sandbox(Path(folder), rows=args.rows)
        sandbox.build_reference(ALL_STAGES if args.model_kills else DATA_STAGES)
        print(
            "reference run, seconds per stage process:",
            {stage: round(seconds, 2) for stage, seconds in sandbox.seconds.items()},
        )
        tally = Tally()
        start = time.perf_counter()
        kill_rounds(sandbox, args.kills, args.seed, tally)
        kill_rounds(sandbox, args.model_kills, args.seed + 3, tally, stages=MODEL_STAGES)
        race_rounds(sandbox, args.races, args.builders, args.seed + 1, tally)
        corruption_rounds(sandbox, None, args.seed + 2, tally)
        seconds = time.perf_counter() - start
    groups = {
        "SIGKILL (data stages)": lambda kind: (
            kind.startswith("SIGKILL") and kind.split()[1] not in MODEL_STAGES
        ),
        "SIGKILL (train, evaluate)": lambda kind: (
            kind.startswith("SIGKILL") and kind.split()[1] in MODEL_STAGES
        ),
        "  of which mid-write": lambda kind: kind.startswith("killed mid-write"),
        f"race of {args.builders} builders": lambda kind: "concurrent" in kind,
        "byte flipped": lambda kind: kind.startswith("flip"),
        "file truncated": lambda kind: kind.startswith("truncate"),
    }
    for label, matches in groups.items():
        count = sum(number for kind, number in tally.tried.items() if matches(kind))
        print(f"{label:<28}{count:>5} tried")
    print(f"failures  {len(tally.failures):>5}  ({seconds:.0f} s)")
    for failure in tally.failures:
        print("  ", failure)
    sys.exit(1 if tally.failures else 0)


if __name__ == "__main__":
    main()
