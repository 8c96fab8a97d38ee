"""Data-parallel training: the placement's arithmetic, refusals, the cache key, and real runs on
two CPU devices (JAX, TensorFlow) and two JAX processes on localhost, each against one device."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TINY_MODEL, encode_chain, sentiment_rows, write_csv
from textpipe.artifacts import Store
from textpipe.config import TrainParams
from textpipe.distribute import Placement, place
from textpipe.errors import ConfigError
from textpipe.stages.train import train

TRAIN = {"model": "bag", "epochs": 4, "batch_size": 16, "learning_rate": 0.02, **TINY_MODEL}
TRAIN_OPTIONS = ["--model", "bag", "--epochs", "4", "--batch-size", "16"]
TRAIN_OPTIONS += ["--learning-rate", "0.02", "--embedding-dim", "8", "--units", "8"]
SUBPROCESS_TIMEOUT = 240

# Two logical CPU devices must be declared before TensorFlow initializes, so in a fresh process.
TWO_TF_CPUS = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
"""

# One device, then data-parallel, on the same global batch, in one process.
SIDE_BY_SIDE = """
import json, sys
from pathlib import Path
from textpipe.artifacts import Store, open_artifact
from textpipe.config import TrainParams
from textpipe.stages.train import train

encoded = open_artifact(Path(sys.argv[1]), stage="encode")
results = {}
for setting in ("none", "data-parallel"):
    params = TrainParams(**json.loads(sys.argv[3]), distribute=setting)
    store = Store(Path(sys.argv[2]) / setting)
    artifact = train(encoded=encoded, params=params, store=store).artifact
    history = json.loads((artifact.path / "history.json").read_text())
    results[setting] = {"key": artifact.key, "stats": artifact.stats, "history": history}
print("RESULT " + json.dumps(results))
"""


def params(**changes) -> TrainParams:
    return TrainParams(**{**TRAIN, **changes})


@pytest.fixture
def encoded_320(tmp_path: Path):
    """320 easy synthetic reviews: 240 training rows (15 batches of 16), 80 validation rows."""
    source = write_csv(tmp_path / "train.csv", sentiment_rows(320, seed=1))
    return encode_chain(source, validation_size=0.25, strip_html=False)[2].artifact


def python(code: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
    )


def side_by_side(
    encoded, tmp_path: Path, *, prelude: str = "", env: dict[str, str], **changes: float
) -> dict:
    options = json.dumps({**TRAIN, **changes})
    done = python(prelude + SIDE_BY_SIDE, str(encoded.path), str(tmp_path), options, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def assert_same_training(results: dict, devices: int, strategy: str) -> None:
    single, parallel = results["none"], results["data-parallel"]
    assert single["key"] == parallel["key"]  # the key leaves distribute out
    assert single["stats"]["distribute"]["strategy"] == "none"
    assert parallel["stats"]["distribute"] == {
        "strategy": strategy,
        "devices": devices,
        "processes": 1,
        "rows_per_process": 240,
    }
    # the same global batches, the gradient summed in another order: equal within float noise
    for one, other in zip(single["history"], parallel["history"], strict=True):
        for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert one[name] == pytest.approx(other[name], abs=2e-3), (name, one, other)


# -- the placement, without a backend ---------------------------------------------------------


def test_distribute_stays_out_of_the_key_and_has_a_cli_option() -> None:
    from textpipe.stages.train import model_key_parts

    assert params(distribute="data-parallel").key_params() == params().key_params()
    assert model_key_parts(params(distribute="data-parallel")) == model_key_parts(params())
    with pytest.raises(ConfigError, match=r"\[train.distribute\] expected one of none, data"):
        params(distribute="model-parallel")


def test_processes_share_rows_equally_and_disjointly() -> None:
    shares = [
        Placement(strategy="jax-data-parallel", devices=4, processes=2, process_id=index).shard(
            101, seed=0, local_batch_size=8
        )
        for index in range(2)
    ]
    # 50 rows each (the 101st is left out), and the last batch of 2 splits over 2 devices
    assert [len(share) for share in shares] == [50, 50]
    assert not set(shares[0]) & set(shares[1])
    again = Placement(strategy="jax-data-parallel", devices=4, processes=2, process_id=1)
    assert np.array_equal(again.shard(101, seed=0, local_batch_size=8), shares[1])


def test_one_process_keeps_every_row_unless_a_jax_batch_would_split_unevenly() -> None:
    mirrored = Placement(strategy="tf-mirrored", devices=2)
    assert mirrored.shard(101, seed=0, local_batch_size=16) is None  # TF splits unevenly itself
    jax_two = Placement(strategy="jax-data-parallel", devices=2)
    assert jax_two.shard(100, seed=0, local_batch_size=16) is None  # last batch 4: even
    assert len(jax_two.shard(101, seed=0, local_batch_size=16)) == 100  # last batch 5: cut to 4


def test_global_batch_is_split_across_processes_and_must_divide_across_devices() -> None:
    placement = Placement(strategy="jax-data-parallel", devices=4, processes=2)
    assert placement.local_batch_size(64) == 32
    with pytest.raises(ConfigError, match=r"batch_size\] 30 does not split evenly across 4"):
        placement.local_batch_size(30)


def test_torch_refuses_data_parallel_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    with pytest.raises(ConfigError, match="not available on the torch backend") as error:
        place("data-parallel")
    assert "\n" not in str(error.value)


def test_several_processes_need_data_parallel_and_jax(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    with pytest.raises(ConfigError, match="pass --distribute data-parallel"):
        place("none")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    with pytest.raises(ConfigError, match="on JAX only"):
        place("data-parallel")
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "two")
    with pytest.raises(ConfigError, match="must be a positive integer, got 'two'"):
        place("none")


# -- real runs --------------------------------------------------------------------------------


def test_data_parallel_on_this_backend_records_its_placement_and_shares_the_cache(
    encoded_artifact,
) -> None:
    """In this process, on whatever backend and devices it has (one CPU: one replica)."""
    store = Store()
    parallel = train(
        encoded=encoded_artifact, params=params(distribute="data-parallel"), store=store
    )
    record = parallel.artifact.stats["distribute"]
    assert record["strategy"] in ("tf-mirrored", "jax-data-parallel")
    assert record["processes"] == 1 and record["devices"] >= 1
    single = train(encoded=encoded_artifact, params=params(), store=store)
    assert single.status == "cached" and single.artifact.key == parallel.artifact.key


# ema_momentum: the moving average of the weights is swapped in for validation on every replica
@pytest.mark.parametrize("ema_momentum", [0.0, 0.9])
def test_jax_two_devices_train_like_one(encoded_320, tmp_path: Path, ema_momentum: float) -> None:
    pytest.importorskip("jax")
    environment = {
        "KERAS_BACKEND": "jax",
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
    }
    results = side_by_side(encoded_320, tmp_path, env=environment, ema_momentum=ema_momentum)
    assert_same_training(results, devices=2, strategy="jax-data-parallel")


@pytest.mark.parametrize("ema_momentum", [0.0, 0.9])
def test_tensorflow_two_logical_cpus_train_like_one(
    encoded_320, tmp_path: Path, ema_momentum: float
) -> None:
    results = side_by_side(
        encoded_320,
        tmp_path,
        prelude=TWO_TF_CPUS,
        env={"KERAS_BACKEND": "tensorflow"},
        ema_momentum=ema_momentum,
    )
    assert_same_training(results, devices=2, strategy="tf-mirrored")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_jax_processes_on_localhost_train_one_model(encoded_320, tmp_path: Path) -> None:
    """Two processes, one CPU device each, one shared store: process 0 alone writes."""
    pytest.importorskip("jax")
    port = free_port()
    processes = []
    for index in range(2):
        environment = {
            **os.environ,
            "KERAS_BACKEND": "jax",
            "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{port}",
            "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
            "KERAS_DISTRIBUTION_PROCESS_ID": str(index),
        }
        environment.pop("XLA_FLAGS", None)
        command = [sys.executable, "-m", "textpipe", "train", str(encoded_320.path)]
        processes.append(
            subprocess.Popen(
                [*command, *TRAIN_OPTIONS, "--distribute", "data-parallel"],
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=SUBPROCESS_TIMEOUT))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    failed = [
        (index, stderr)
        for index, (process, (_, stderr)) in enumerate(zip(processes, outputs, strict=True))
        if process.returncode
    ]
    joined = [line for _, stderr in failed for line in stderr.splitlines() if "Cannot join" in line]
    if joined:  # the library's own words, for a machine whose CPU backend cannot do this
        pytest.skip(f"two JAX processes cannot train together on this CPU: {joined[0]}")
    assert not failed, failed
    stores = list((Store().root / "train").glob("*/manifest.json"))
    assert len(stores) == 1
    manifest = json.loads(stores[0].read_text())
    assert manifest["stats"]["distribute"] == {
        "strategy": "jax-data-parallel",
        "devices": 2,
        "processes": 2,
        "rows_per_process": 120,
    }
    key = manifest["key"][:6]
    assert all(key in stdout for stdout, _ in outputs)  # process 1 reads what process 0 wrote
    assert not list(Store().root.glob("partial/train/*/*"))
    # other rows per process than one device sees, so equal within noise, not within float
    single = train(encoded=encoded_320, params=params(), store=Store(tmp_path / "single"))
    accuracy = single.artifact.stats["final"]["val_accuracy"]
    assert manifest["stats"]["final"]["val_accuracy"] == pytest.approx(accuracy, abs=0.1)
