"""Benchmark: `textpipe predict RUN --input FILE -o OUT` on IMDB test repeated k times.

Writes the mirror's IMDB test split (25,000 reviews) repeated to each size as one parquet file,
then runs the real CLI on it under `/usr/bin/time -v` and prints rows, wall time, rows per
second and peak RSS: the memory must not grow with the file.

Usage:
    TEXTPIPE_MIRROR=../shared/datasets TEXTPIPE_HOME=STORE python bench/predict_file.py \\
        --run imdb-lstm --sizes 50000 500000
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="imdb-lstm")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 500_000])
    args = parser.parse_args()
    mirror = Path(os.environ.get("TEXTPIPE_MIRROR", "../shared/datasets"))
    test = pq.read_table(
        mirror / "stanfordnlp" / "imdb" / "plain_text" / "test-00000-of-00001.parquet",
        columns=["text"],
    )
    print("| rows | wall | rows/s | peak RSS |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for size in args.sizes:
            source = Path(folder) / f"imdb-{size}.parquet"
            repeats = -(-size // test.num_rows)
            # row groups of 65,536 rows, as writers of large files use; the reader holds one
            pq.write_table(
                pa.concat_tables([test] * repeats).slice(0, size), source, row_group_size=65_536
            )
            output = Path(folder) / f"predictions-{size}.parquet"
            start = time.perf_counter()
            result = subprocess.run(
                [
                    "/usr/bin/time",
                    "-v",
                    sys.executable,
                    "-m",
                    "textpipe.cli.main",
                    "predict",
                    args.run,
                    "--input",
                    str(source),
                    "-o",
                    str(output),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            seconds = time.perf_counter() - start
            rss = int(
                re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)
            )
            assert pq.read_metadata(output).num_rows == size
            print(
                f"| {size:,} | {seconds:.1f} s | {size / seconds:,.0f} | {rss / 1024:,.0f} MB |",
                flush=True,
            )


if __name__ == "__main__":
    main()
