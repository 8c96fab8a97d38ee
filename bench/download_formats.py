"""Benchmark: `textpipe download` of csv and JSON Lines files, and of a dataset folder, of IMDB reviews.

Builds, from the IMDB mirror, a train file of IMDB train repeated k times and a test file of
IMDB test repeated k/10 times (``--size 500000``: 500,000 + 50,000 reviews, 670 MB of text),
as csv (pyarrow's writer, quoted where needed) and as JSON Lines (``{"text": ..., "label":
...}``), and the same reviews as a dataset folder in the hub's layout (``folder``: the
mirror's README, train and test in parquet files of 100,000 reviews, `plain_text/train-*`),
then times `download FILE --test FILE` (or `download FOLDER`) as a whole process under
``/usr/bin/time -v`` (wall
time and peak RSS), for each checkout in turn (a byte-compiled copy of its package, a fresh
store each run), ``--repeat`` times, and prints the best of each with the ratio to the first
checkout. ``--lock FILE`` holds a lock (flock) around each run, not counted in its time. Every
run's artifact must have the key, files (sha256) and statistics of the first one.

Usage:
    TEXTPIPE_MIRROR=../shared/datasets python bench/download_formats.py \\
        --checkout ../main --checkout . [--size 500000] [--repeat 3] [--lock FILE] \\
        [--formats csv jsonl folder]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from scale import TRAIN_ROWS, compiled_copy  # noqa: E402
from scale import timed as scale_timed  # noqa: E402


def build_files(folder: Path, size: int, mirror: Path) -> dict[str, tuple[Path, Path]]:
    """Train and test files of the corpus, as csv and as jsonl, written a copy at a time."""
    source = mirror / "stanfordnlp" / "imdb" / "plain_text"
    repeats = max(1, size // TRAIN_ROWS)
    files = {}
    for suffix in ("csv", "jsonl"):
        paths = folder / f"train-{size}.{suffix}", folder / f"test-{size}.{suffix}"
        for path, split, count in ((paths[0], "train", repeats), (paths[1], "test", repeats // 10)):
            table = pq.read_table(source / f"{split}-00000-of-00001.parquet")
            table = pa.table({"text": table["text"], "label": table["label"]})
            if path.exists():
                continue
            with path.open("wb") as stream:
                if suffix == "csv":
                    with pcsv.CSVWriter(stream, table.schema) as writer:
                        for _ in range(max(1, count)):
                            writer.write_table(table)
                else:
                    lines = "".join(
                        json.dumps(row, ensure_ascii=False) + "\n" for row in table.to_pylist()
                    ).encode()
                    for _ in range(max(1, count)):
                        stream.write(lines)
        files[suffix] = paths
    return files


def build_folder(folder: Path, size: int, mirror: Path, rows_per_file: int = 100_000) -> Path:
    """The corpus as a dataset folder in the hub's layout (the mirror's README, so its class
    names), train and test each in parquet files of ``rows_per_file`` reviews."""
    source = mirror / "stanfordnlp" / "imdb"
    target = folder / f"imdb-{size}"
    if (target / "README.md").exists():
        return target
    (target / "plain_text").mkdir(parents=True, exist_ok=True)
    repeats = max(1, size // TRAIN_ROWS)
    for split, count in (("train", repeats), ("test", max(1, repeats // 10))):
        table = pq.read_table(source / "plain_text" / f"{split}-00000-of-00001.parquet")
        table = pa.table({"text": table["text"], "label": table["label"]})
        whole = pa.concat_tables([table] * count)
        pieces = max(1, -(-whole.num_rows // rows_per_file))
        for piece in range(pieces):
            pq.write_table(
                whole.slice(piece * rows_per_file, rows_per_file),
                target / "plain_text" / f"{split}-{piece:05d}-of-{pieces:05d}.parquet",
                row_group_size=65_536,
            )
    (target / "README.md").write_text((source / "README.md").read_text())
    return target


def timed(command: list[str], env: dict[str, str], lock: str | None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process (/usr/bin/time -v), in a scratch folder,
    under ``lock`` (its wait not counted)."""
    with tempfile.TemporaryDirectory() as cwd:
        return scale_timed(command, env, cwd, ("flock", lock) if lock else ())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", action="append", required=True, type=Path)
    parser.add_argument("--size", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lock")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "dl-formats")
    parser.add_argument(
        "--formats", nargs="+", choices=("csv", "jsonl", "folder"), default=["csv", "jsonl"]
    )
    arguments = parser.parse_args()
    mirror = Path(os.environ.get("TEXTPIPE_MIRROR", HERE.parent.parent / "shared" / "datasets"))
    arguments.data.mkdir(parents=True, exist_ok=True)
    sources: dict[str, list[str]] = {}
    if set(arguments.formats) - {"folder"}:
        files = build_files(arguments.data, arguments.size, mirror)
        for suffix, (train, test) in files.items():
            print(
                f"{suffix}: {train} {train.stat().st_size / 1e6:,.0f} MB, "
                f"{test.stat().st_size / 1e6:,.0f} MB"
            )
            sources[suffix] = [str(train), "--test", str(test)]
    if "folder" in arguments.formats:
        folder = build_folder(arguments.data, arguments.size, mirror)
        size = sum(path.stat().st_size for path in folder.rglob("*.parquet"))
        print(f"folder: {folder} {size / 1e6:,.0f} MB of parquet")
        sources["folder"] = [str(folder)]
    packages = [
        compiled_copy(checkout.resolve(), arguments.data) for checkout in arguments.checkout
    ]
    best: dict[tuple[str, int], tuple[float, float]] = {}
    keys: dict[str, str] = {}
    for suffix in arguments.formats:
        for _ in range(arguments.repeat):
            for index, package in enumerate(packages):  # in turn
                with tempfile.TemporaryDirectory(dir=arguments.data) as home:
                    env = dict(os.environ, PYTHONPATH=str(package), TEXTPIPE_HOME=home)
                    command = [sys.executable, "-m", "textpipe.cli.main", "download"]
                    wall, rss = timed([*command, *sources[suffix]], env, arguments.lock)
                    entry = next(Path(home, "download").iterdir())
                    manifest = json.loads((entry / "manifest.json").read_text())
                    result = json.dumps([entry.name, manifest["files"], manifest["stats"]])
                keys.setdefault(suffix, result)
                if result != keys[suffix]:
                    raise SystemExit(f"{suffix}: the artifact differs from the first one's")
                print(f"  {suffix} {arguments.checkout[index]}: {wall:.1f} s, {rss:,.0f} MB")
                old = best.get((suffix, index))
                best[(suffix, index)] = (
                    min(wall, old[0]) if old else wall,
                    min(rss, old[1]) if old else rss,
                )
    print(f"\n| file | checkout | wall (best of {arguments.repeat}) | peak RSS | vs first |")
    print("|---|---|---|---|---|")
    for suffix in arguments.formats:
        first = best[(suffix, 0)]
        for index, checkout in enumerate(arguments.checkout):
            wall, rss = best[(suffix, index)]
            print(
                f"| {suffix} | {checkout} | {wall:.1f} s | {rss:,.0f} MB | "
                f"{wall / first[0]:.2f}x time, {rss / first[1]:.2f}x memory |"
            )


if __name__ == "__main__":
    main()
