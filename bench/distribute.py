"""Benchmark: one device against data-parallel training, same global batch, on an IMDB sample.

Builds download (a stratified sample), normalize, vocab and encode once, then runs the real
`textpipe train` CLI in a fresh process per mode, each with its own store: one device (TensorFlow
and JAX), two logical TensorFlow CPUs (MirroredStrategy), two JAX CPU devices (DataParallel) and
two JAX processes on localhost. Prints validation accuracy and loss after the last epoch and the
seconds per epoch. On a 2-core CPU the devices share the cores, so the seconds say nothing about
speed-up; the accuracy is the point.

Usage:
    TEXTPIPE_MIRROR=../shared/datasets python bench/distribute.py --limit 4000 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

TWO_TF_CPUS = (
    "import sys, tensorflow as tf; "
    "cpu = tf.config.list_physical_devices('CPU')[0]; "
    "tf.config.set_logical_device_configuration("
    "cpu, [tf.config.LogicalDeviceConfiguration()] * 2); "
    "from textpipe.cli.main import main; sys.argv[0] = 'textpipe'; main()"
)


def encoded_sample(store: Path, limit: int) -> Path:
    os.environ["TEXTPIPE_HOME"] = str(store)
    from textpipe.artifacts import Store
    from textpipe.config import DownloadParams, EncodeParams, NormalizeParams, VocabParams
    from textpipe.stages.download import download
    from textpipe.stages.encode import encode
    from textpipe.stages.normalize import normalize
    from textpipe.stages.vocab import build_vocab

    data = Store(store)
    dataset = download(
        params=DownloadParams(source="stanfordnlp/imdb", limit=limit, validation_size=0.2),
        store=data,
    ).artifact
    normalized = normalize(
        dataset=dataset, params=NormalizeParams(strip_html=True), store=data
    ).artifact
    vocab = build_vocab(normalized=normalized, params=VocabParams(size=20000), store=data)
    return encode(
        normalized=normalized, vocab=vocab.artifact, params=EncodeParams(length=256), store=data
    ).artifact.path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_mode(name: str, encoded: Path, folder: Path, options: list[str]) -> dict:
    home = folder / name
    base = {**os.environ, "TEXTPIPE_HOME": str(home)}
    base.pop("XLA_FLAGS", None)
    command = [sys.executable, "-m", "textpipe", "train", str(encoded), *options]
    launches = []
    if name == "tensorflow, 1 device":
        launches = [(command, {"KERAS_BACKEND": "tensorflow"})]
    elif name == "tensorflow, 2 CPU devices":
        tf_command = [sys.executable, "-c", TWO_TF_CPUS, "train", str(encoded), *options]
        launches = [([*tf_command, "--distribute", "data-parallel"], {})]
    elif name == "jax, 1 device":
        launches = [(command, {"KERAS_BACKEND": "jax"})]
    elif name == "jax, 2 CPU devices":
        environment = {
            "KERAS_BACKEND": "jax",
            "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        }
        launches = [([*command, "--distribute", "data-parallel"], environment)]
    elif name == "jax, 2 processes":
        port = free_port()
        launches = [
            (
                [*command, "--distribute", "data-parallel"],
                {
                    "KERAS_BACKEND": "jax",
                    "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{port}",
                    "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                    "KERAS_DISTRIBUTION_PROCESS_ID": str(index),
                },
            )
            for index in range(2)
        ]
    processes = [
        subprocess.Popen(
            arguments,
            env={"KERAS_BACKEND": "tensorflow", **base, **extra},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for arguments, extra in launches
    ]
    for process in processes:
        _, stderr = process.communicate()
        if process.returncode:
            raise SystemExit(f"{name}: failed\n{stderr[-2000:]}")
    manifest = json.loads(next((home / "train").glob("*/manifest.json")).read_text())
    return manifest["stats"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=4000, help="reviews per split")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model", default="bag")
    args = parser.parse_args()
    options = ["--model", args.model, "--epochs", str(args.epochs)]
    options += ["--batch-size", str(args.batch_size)]
    modes = [
        "tensorflow, 1 device",
        "tensorflow, 2 CPU devices",
        "jax, 1 device",
        "jax, 2 CPU devices",
        "jax, 2 processes",
    ]
    print("| mode | strategy | devices × processes | val accuracy | val loss | s/epoch |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        encoded = encoded_sample(Path(folder) / "data", args.limit)
        for name in modes:
            stats = run_mode(name, encoded, Path(folder), options)
            final, placement = stats["final"], stats["distribute"]
            print(
                f"| {name} | {placement['strategy']} | "
                f"{placement['devices']} × {placement['processes']} | "
                f"{final['val_accuracy']:.4f} | {final['val_loss']:.4f} | "
                f"{stats['seconds_per_epoch']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
