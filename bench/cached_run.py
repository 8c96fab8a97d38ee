"""Benchmark: what verifying the cache costs a fully cached run and a cached make chain.

For each checkout given (this one by default, plus e.g. a worktree of an older commit), in a
store of its own: runs PRESET once cold, then times ``textpipe run PRESET`` fully cached and
the four data-stage commands with ``-o`` as the Makefile chains them (each a whole process,
``python -m textpipe.cli.main`` with that checkout first on PYTHONPATH). The checkouts
alternate, round by round, so that machine noise hits them alike; medians are printed with
the ratio to the first checkout, and peak RSS of the cached run (``/usr/bin/time -v``).

Usage:
    TEXTPIPE_MIRROR=../shared/datasets python bench/cached_run.py --preset imdb-lstm \\
        --checkout . --checkout ../wt-base --rounds 7
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGE_COMMANDS = (
    ["download", "stanfordnlp/imdb", "--validation-size", "0.1", "-o", "{out}/download"],
    ["normalize", "{out}/download", "--strip-html", "-o", "{out}/normalize"],
    ["vocab", "{out}/normalize", "--size", "20000", "-o", "{out}/vocab"],
    [
        "encode",
        "{out}/normalize",
        "--vocab",
        "{out}/vocab",
        "--length",
        "256",
        "-o",
        "{out}/encode",
    ],
)


def command(checkout: Path, args: list[str]) -> tuple[list[str], dict[str, str]]:
    environment = {**os.environ, "PYTHONPATH": str(checkout)}
    return [sys.executable, "-m", "textpipe.cli.main", *args], environment


def timed(checkout: Path, args: list[str], home: Path) -> float:
    argv, environment = command(checkout, args)
    environment["TEXTPIPE_HOME"] = str(home)
    start = time.perf_counter()
    subprocess.run(argv, env=environment, check=True, capture_output=True)
    return time.perf_counter() - start


def peak_rss_mb(checkout: Path, args: list[str], home: Path) -> float:
    argv, environment = command(checkout, args)
    environment["TEXTPIPE_HOME"] = str(home)
    result = subprocess.run(
        ["/usr/bin/time", "-v", *argv], env=environment, check=True, capture_output=True, text=True
    )
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return int(match.group(1)) / 1024 if match else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="imdb-lstm")
    parser.add_argument("--checkout", action="append", type=Path)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--work", type=Path, help="folder for the stores (default: temporary)")
    args = parser.parse_args()
    checkouts = [path.resolve() for path in args.checkout or [Path(".")]]
    work = args.work or Path(tempfile.mkdtemp(prefix="textpipe-cached-"))
    homes = {checkout: work / f"store-{index}" for index, checkout in enumerate(checkouts)}
    outs = {checkout: work / f"build-{index}" for index, checkout in enumerate(checkouts)}
    for checkout in checkouts:
        print(f"cold run of {args.preset} with {checkout} ...", flush=True)
        cold = timed(checkout, ["run", args.preset], homes[checkout])
        for stage in STAGE_COMMANDS:
            timed(checkout, [part.format(out=outs[checkout]) for part in stage], homes[checkout])
        print(f"  {cold:.1f} s", flush=True)
    runs: dict[Path, list[float]] = {checkout: [] for checkout in checkouts}
    chains: dict[Path, list[float]] = {checkout: [] for checkout in checkouts}
    for _ in range(args.rounds):
        for checkout in checkouts:
            runs[checkout].append(timed(checkout, ["run", args.preset], homes[checkout]))
            chains[checkout].append(
                sum(
                    timed(
                        checkout,
                        [part.format(out=outs[checkout]) for part in stage],
                        homes[checkout],
                    )
                    for stage in STAGE_COMMANDS
                )
            )
    first = checkouts[0]
    print(
        f"\n| checkout | cached `run {args.preset}` (median of {args.rounds}) | ratio | cached 4-stage `-o` chain | ratio | peak RSS, cached run |"
    )
    print("|---|---|---|---|---|---|")
    for checkout in checkouts:
        run = statistics.median(runs[checkout])
        chain = statistics.median(chains[checkout])
        rss = peak_rss_mb(checkout, ["run", args.preset], homes[checkout])
        print(
            f"| {checkout} | {run:.2f} s | {run / statistics.median(runs[first]):.2f} | "
            f"{chain:.2f} s | {chain / statistics.median(chains[first]):.2f} | {rss:.0f} MB |"
        )
    print(f"stores under {work}")


if __name__ == "__main__":
    main()
