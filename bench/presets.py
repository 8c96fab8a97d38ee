"""Benchmark: `textpipe run` end to end for each IMDB preset, cold then cached, in one store.

Runs each preset through the real CLI (a subprocess, as a user would), records wall time and
test accuracy, then runs it again to time the fully cached path, and finally times
`textpipe report` over all runs.

Usage:
    TEXTPIPE_MIRROR=../shared/datasets python bench/presets.py [--home DIR] [PRESET ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXTRA_RUNS = {
    "imdb-bag": 'model = "bag"',
    "imdb-bag-bigrams": 'model = "bag"\nbigrams = true',
    "imdb-cnn": 'model = "cnn"',
    "imdb-gru": 'model = "gru"',
}
DEFAULT_PRESETS = (
    "imdb-mlp",
    "imdb-lstm",
    "imdb-bilstm",
    "imdb-mlp-classic",
    "imdb-lstm-classic",
    "imdb-bilstm-classic",
)


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", default=list(DEFAULT_PRESETS))
    parser.add_argument("--home", help="artifact root to use (default: a fresh temporary folder)")
    parser.add_argument("--no-extra", action="store_true", help="skip the extra zoo runs")
    args = parser.parse_args()
    home = args.home or tempfile.mkdtemp(prefix="textpipe-bench-")
    env = {**os.environ, "TEXTPIPE_HOME": home}
    textpipe = [sys.executable, "-m", "textpipe"]
    rows = []

    def record(name: str, target: str, label: str, cached: bool) -> None:
        cold = timed([*textpipe, "run", target], env)
        again = min(timed([*textpipe, "run", target], env) for _ in range(3)) if cached else None
        report_json = subprocess.run(
            [*textpipe, "report", name, "--format", "json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        row = {
            "preset": label,
            "cold_seconds": round(cold, 1),
            "cached_seconds": round(again, 2) if again is not None else None,
            **json.loads(report_json)[0],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    for preset in args.presets:
        record(preset, preset, preset, cached=True)
    for name, changes in ({} if args.no_extra else EXTRA_RUNS).items():
        # more zoo models on the same data, so that the report compares ten runs
        text = (Path(__file__).resolve().parents[1] / "pipelines" / "imdb-lstm.toml").read_text()
        path = Path(home) / f"{name}.toml"
        path.write_text(text.replace('model = "lstm"', changes))
        record(name, str(path), f"{name} (imdb-lstm, {changes})", cached=False)
    report_seconds = min(timed([*textpipe, "report"], env) for _ in range(3))
    all_runs = subprocess.run(
        [*textpipe, "report", "--format", "json"], env=env, check=True, capture_output=True
    ).stdout
    help_seconds = min(timed([*textpipe, "--help"], env) for _ in range(5))
    print(f"artifact root: {home}")
    print(
        f"textpipe report over {len(json.loads(all_runs))} runs: {report_seconds:.2f} s; textpipe --help: {help_seconds:.2f} s"
    )
    print(
        "| preset | model | test accuracy | F1 | epochs | s/epoch | cold run (s) | cached run (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['preset']} | {row['model']} | {row['accuracy']:.4f} | {row['f1']:.4f} | {row['epochs']} | {row['seconds_per_epoch']:.1f} | {row['cold_seconds']} | {row['cached_seconds']} |"
        )


if __name__ == "__main__":
    main()
