"""Benchmark: the data stages as whole processes on IMDB repeated k times, with the Python loop.

Builds the corpus from the IMDB mirror (train repeated k times as train.parquet, test repeated
k/10 times as test.parquet, row groups of 65,536), then runs `download`, `normalize
--strip-html`, `vocab` and `encode` as separate processes (as make runs them, from a
byte-compiled copy of each checkout's package) under `/usr/bin/time -v`, and prints wall time
and peak RSS per stage; beside them the plain Python loop of bench/preprocess.py (normalize,
count, encode in pure Python and numpy) in a process of its own. `--checkout DIR` runs the stages of another checkout too (before/after), `--threads`
the stages on N threads, `--small` the IMDB comparison (50,000 reviews, no download).

Usage:
    TEXTPIPE_MIRROR=../shared/datasets python bench/scale.py --sizes 500000 2000000 \\
        [--checkout ../main] [--threads 1 2] [--loop-max 500000] [--small] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
TRAIN_ROWS = 25_000
LOOP_SCRIPT = """
import sys, numpy as np, pyarrow.parquet as pq
sys.path.insert(0, {bench!r})
from preprocess import python_loop
train = pq.read_table({train!r}, columns=["text"]).column("text").to_pylist()
test = pq.read_table({test!r}, columns=["text"]).column("text").to_pylist()
python_loop(train, test, size={size}, length={length}, strip_html=True, variant="translate")
"""


def timed(
    command: list[str], env: dict[str, str], cwd: str = "/tmp", prefix: tuple[str, ...] = ()
) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process, from /usr/bin/time -v; ``prefix`` runs
    before the timing (`flock LOCK`: the wait for the lock is not counted).

    Run outside any checkout: `python -m` puts the working directory first on sys.path, before
    PYTHONPATH, so a run from a checkout would import that checkout's textpipe.
    """
    result = subprocess.run(
        [*prefix, "/usr/bin/time", "-v", *command],
        env=env,
        capture_output=True,
        text=True,
        cwd=cwd,
    )
    if result.returncode:
        raise SystemExit(f"failed: {' '.join(command)}\n{result.stdout}\n{result.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", result.stderr)
    hours, minutes, seconds = wall.groups()
    elapsed = int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return elapsed, rss / 1024


def build_corpus(folder: Path, size: int, mirror: Path) -> tuple[Path, Path]:
    source = mirror / "stanfordnlp" / "imdb" / "plain_text"
    train = pq.read_table(source / "train-00000-of-00001.parquet")
    test = pq.read_table(source / "test-00000-of-00001.parquet")
    repeats = max(1, size // TRAIN_ROWS)
    paths = folder / f"train-{size}.parquet", folder / f"test-{size}.parquet"
    for path, table, count in ((paths[0], train, repeats), (paths[1], test, max(1, repeats // 10))):
        with pq.ParquetWriter(path, table.schema) as writer:
            for _ in range(count):  # one copy at a time: the corpus never sits in memory
                writer.write_table(table, row_group_size=65_536)
    return paths


def stage_commands(
    work: Path, train: Path, test: Path, *, size: int, length: int, threads: int | None
) -> list[tuple[str, list[str]]]:
    python = [sys.executable, "-m", "textpipe.cli.main"]
    thread = ["--threads", str(threads)] if threads else []
    return [
        ("download", [*python, "download", str(train), "--test", str(test), "-o", f"{work}/d"]),
        (
            "normalize",
            [*python, "normalize", f"{work}/d", "--strip-html", *thread, "-o", f"{work}/n"],
        ),
        ("vocab", [*python, "vocab", f"{work}/n", "--size", str(size), *thread, "-o", f"{work}/v"]),
        (
            "encode",
            [
                *python,
                "encode",
                f"{work}/n",
                "--vocab",
                f"{work}/v",
                "--length",
                str(length),
                *thread,
                "-o",
                f"{work}/e",
            ],
        ),
    ]


def compiled_copy(checkout: Path, folder: Path) -> Path:
    """A byte-compiled copy of a checkout's package, to put on PYTHONPATH.

    An installed package runs from compiled bytecode; a checkout may hold no (or stale)
    ``__pycache__``, and with PYTHONDONTWRITEBYTECODE set every stage process would compile its
    modules again (0.03-0.05 s). Compiling a copy leaves the checkout untouched.
    """
    root = Path(tempfile.mkdtemp(prefix=f"package-{checkout.name}-", dir=folder))
    shutil.copytree(
        checkout / "textpipe", root / "textpipe", ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root)], check=True)
    return root


def run_stages(
    package: Path, train: Path, test: Path, *, size: int, length: int, threads: int | None
) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory(dir="/tmp") as work:
        env = dict(os.environ, PYTHONPATH=str(package), TEXTPIPE_HOME=f"{work}/home")
        results = {}
        for name, command in stage_commands(
            Path(work), train, test, size=size, length=length, threads=threads
        ):
            results[name] = timed(command, env, cwd=work)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500_000, 2_000_000])
    parser.add_argument("--checkout", type=Path, action="append", default=[])
    parser.add_argument("--threads", type=int, nargs="*", default=[])
    parser.add_argument(
        "--loop-max",
        type=int,
        default=500_000,
        help="largest size for the Python loop (it holds every token in memory)",
    )
    parser.add_argument("--vocab-size", type=int, default=50_000)
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--small", action="store_true", help="IMDB: 50,000 reviews, vocab 20,000")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of every checkout (and of the loop), in turn; the table keeps the fastest",
    )
    args = parser.parse_args()
    mirror = Path(os.environ.get("TEXTPIPE_MIRROR", "../shared/datasets"))
    checkouts = [HERE.parent, *args.checkout]
    sizes = args.sizes
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        packages = {checkout: compiled_copy(checkout, Path(folder)) for checkout in checkouts}
        for size in sizes:
            if args.small:
                source = mirror / "stanfordnlp" / "imdb" / "plain_text"
                train, test = (
                    source / f"{split}-00000-of-00001.parquet" for split in ("train", "test")
                )
                vocab_size, rows = 20_000, 50_000
            else:
                train, test = build_corpus(Path(folder), size, mirror)
                vocab_size = args.vocab_size
                rows = pq.read_metadata(train).num_rows + pq.read_metadata(test).num_rows
            print(f"\n{rows:,} reviews, vocabulary {vocab_size:,}, length {args.length}")
            if args.repeat > 1:
                print(
                    f"(each figure the least wall time and the largest peak RSS of {args.repeat} "
                    "runs, the runs of every checkout taken in turn)"
                )
            print("| run | download | normalize | vocab | encode | n+v+e | peak RSS |")
            print("|---|---|---|---|---|---|---|")
            runs = [
                (checkout, threads) for checkout in checkouts for threads in args.threads or [None]
            ]
            best: dict[tuple[Path, int | None], dict[str, tuple[float, float]]] = {}
            loop: tuple[float, float] | None = None
            for _ in range(args.repeat):  # in turn, so that a slow spell of the machine hits all
                for checkout, threads in runs:
                    result = run_stages(
                        packages[checkout],
                        train,
                        test,
                        size=vocab_size,
                        length=args.length,
                        threads=threads,
                    )
                    kept = best.setdefault((checkout, threads), result)
                    for name, (wall, rss) in result.items():
                        kept[name] = (min(kept[name][0], wall), max(kept[name][1], rss))
                if rows <= args.loop_max:
                    script = LOOP_SCRIPT.format(
                        bench=str(HERE),
                        train=str(train),
                        test=str(test),
                        size=vocab_size,
                        length=args.length,
                    )
                    wall, rss = timed([sys.executable, "-c", script], dict(os.environ))
                    loop = (min(loop[0], wall), max(loop[1], rss)) if loop else (wall, rss)
            for (checkout, threads), result in best.items():
                cells = [f"{wall:.2f} s / {rss:,.0f} MB" for wall, rss in result.values()]
                total = sum(result[name][0] for name in ("normalize", "vocab", "encode"))
                peak = max(rss for _, rss in result.values())
                label = f"{checkout.name}" + (f", {threads} thread(s)" if threads else "")
                print(
                    f"| {label} | {' | '.join(cells)} | **{total:.2f} s** | {peak:,.0f} MB |",
                    flush=True,
                )
            if loop is not None:
                print(
                    f"| Python loop (translate, one process) | | | | | **{loop[0]:.2f} s** | "
                    f"{loop[1]:,.0f} MB |",
                    flush=True,
                )
            else:
                print(
                    f"| Python loop | not run above {args.loop_max:,} reviews (memory) | | | | | |"
                )
            if not args.small:
                for path in (train, test):
                    path.unlink()
            if args.small:
                break


if __name__ == "__main__":
    main()
