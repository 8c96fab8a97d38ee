"""Data-parallel training on Keras's own engines (``train.distribute = "data-parallel"``).

Each step's global batch (``train.batch_size``) is split across devices, every device computes the
gradient of its share, and the mean is applied to one replicated copy of the weights; nothing
else changes, so the learning rate is not rescaled.

- JAX: ``keras.distribution.DataParallel`` over ``keras.distribution.list_devices()``, every local
  device; with ``KERAS_DISTRIBUTION_NUM_PROCESSES`` (and ``KERAS_DISTRIBUTION_JOB_ADDRESSES``,
  ``KERAS_DISTRIBUTION_PROCESS_ID``) over several processes or hosts, joined by
  ``keras.distribution.initialize()``. Each process then reads its own equal share of the
  training rows and feeds ``batch_size / processes`` rows a step.
- TensorFlow: ``tf.distribute.MirroredStrategy`` over the local GPUs (the CPU devices where
  there is none); the model is built and compiled inside ``strategy.scope()``.
- torch: Keras's ``fit`` has no data-parallel mode on torch (``keras.distribution`` is
  implemented for JAX only), so textpipe refuses it.

Only process 0 writes: checkpoints and the artifact. Importing this module imports no backend.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textpipe.backend import backend_name, quiet_native_stderr
from textpipe.errors import ConfigError, DistributionError

if TYPE_CHECKING:
    import numpy as np

    from textpipe.artifacts import Identity, Notice, Outcome, Store

NUM_PROCESSES_VARIABLE = "KERAS_DISTRIBUTION_NUM_PROCESSES"
PROCESS_ID_VARIABLE = "KERAS_DISTRIBUTION_PROCESS_ID"
JOB_ADDRESSES_VARIABLE = "KERAS_DISTRIBUTION_JOB_ADDRESSES"

_joined = False  # jax.distributed may be initialized once per process


@dataclass(frozen=True)
class Placement:
    """Where a training runs: its strategy, how many devices and processes, which one this is."""

    strategy: str = "none"
    devices: int = 1
    processes: int = 1
    process_id: int = 0
    scope: Callable[[], contextlib.AbstractContextManager[Any]] = field(
        default=contextlib.nullcontext, compare=False, repr=False
    )

    @property
    def is_writer(self) -> bool:
        """Whether this process writes checkpoints and the artifact (process 0 only)."""
        return self.process_id == 0

    @property
    def multi_process(self) -> bool:
        return self.processes > 1

    def record(self) -> dict[str, Any]:
        """What the train manifest records."""
        return {"strategy": self.strategy, "devices": self.devices, "processes": self.processes}

    def allow_jit(self, jit_compile: bool, notice: Callable[[str], None]) -> bool:
        """``jit_compile``, except under a MirroredStrategy of several devices, where XLA cannot
        compile a step that reads a variable's replica on another device (TensorFlow refuses:
        "Trying to access resource .../replica_1 located in device CPU:1 from device CPU:0")."""
        if jit_compile and self.strategy == "tf-mirrored" and self.devices > 1:
            notice("train: XLA off: TensorFlow cannot compile steps over mirrored variables")
            return False
        return jit_compile

    def local_batch_size(self, batch_size: int) -> int:
        """The rows this process feeds per step for a global ``batch_size``.

        Raises:
            ConfigError: the global batch does not split evenly across processes and devices.
        """
        if self.strategy == "jax-data-parallel" and batch_size % self.devices:
            raise ConfigError(
                f"[train.batch_size] {batch_size} does not split evenly across {self.devices} "
                f"devices: data-parallel training on JAX shards every batch equally. Pass a "
                f"multiple of {self.devices}, e.g. --batch-size "
                f"{max(self.devices, batch_size // self.devices * self.devices)}."
            )
        return batch_size // self.processes

    def shard(self, count: int, *, seed: int, local_batch_size: int) -> np.ndarray | None:
        """The row indices this process trains on, or None to train on every row.

        Several processes each take an equal share of a seeded permutation, so every process
        runs the same number of steps (a process with one step more would wait forever for the
        others). On JAX the share is also cut to a multiple of the local device count, so the
        last, short batch still splits evenly: at most ``devices - 1`` rows are left out.
        """
        import numpy as np

        local_devices = self.devices // self.processes
        if not self.multi_process and self.strategy != "jax-data-parallel":
            return None
        share = count // self.processes
        if self.strategy == "jax-data-parallel" and share % local_batch_size % local_devices:
            share -= share % local_batch_size % local_devices
        if not self.multi_process and share == count:
            return None
        order = np.random.default_rng(seed).permutation(count)
        start = self.process_id * share
        return np.sort(order[start : start + share])

    def broadcast_flag(self, value: bool) -> bool:
        """Process 0's ``value``, on every process (a collective: all processes must call it)."""
        if not self.multi_process:
            return value
        import numpy as np
        from jax.experimental import multihost_utils

        return bool(multihost_utils.broadcast_one_to_all(np.int32(value)))

    def barrier(self, name: str) -> None:
        """Wait until every process reaches the barrier ``name``."""
        if self.multi_process:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices(name)


SINGLE = Placement()


def requested_processes() -> int:
    """The number of processes that ``KERAS_DISTRIBUTION_NUM_PROCESSES`` asks for (1 if unset).

    Raises:
        ConfigError: the variable is not a positive integer.
    """
    raw = os.environ.get(NUM_PROCESSES_VARIABLE, "").strip()
    if not raw:
        return 1
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{NUM_PROCESSES_VARIABLE} must be a positive integer, got {raw!r}.")
    return value


def place(setting: str) -> Placement:
    """Start the backend for ``train.distribute = setting``; call before Keras computes anything.

    Args:
        setting: ``none`` or ``data-parallel``.

    Returns:
        The placement: strategy, devices, processes, this process's id, and the scope in which
        the model is built, compiled and fitted.

    Raises:
        ConfigError: the backend has no data-parallel training, or the settings are invalid.
        DistributionError: the processes could not join (the library's message included).
    """
    if setting == "none":
        if requested_processes() > 1:
            raise ConfigError(
                f"{NUM_PROCESSES_VARIABLE} asks for {requested_processes()} processes but "
                "train.distribute is none: pass --distribute data-parallel, or unset it."
            )
        return SINGLE
    backend = backend_name()
    if backend == "jax":
        return _place_jax()
    if backend == "tensorflow":
        return _place_tensorflow()
    raise ConfigError(
        f"train.distribute=data-parallel is not available on the {backend} backend: Keras's "
        "fit has no data-parallel mode there (keras.distribution is implemented for JAX only). "
        "Use KERAS_BACKEND=jax (one or several hosts) or tensorflow (GPUs of one host)."
    )


def _place_jax() -> Placement:
    global _joined
    processes = requested_processes()
    if processes > 1 and not _joined:
        import jax

        # CPU processes exchange gradients through gloo; GPUs use NCCL whatever this says.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        import keras

        try:
            with quiet_native_stderr():
                keras.distribution.initialize()
        except Exception as error:
            raise DistributionError(
                f"Cannot join {processes} processes at {os.environ.get(JOB_ADDRESSES_VARIABLE)!r} "
                f"as process {os.environ.get(PROCESS_ID_VARIABLE)!r} "
                f"({type(error).__name__}: {_first_line(error)}). Check "
                f"{JOB_ADDRESSES_VARIABLE} (process 0's host:port, reachable from every host), "
                f"{PROCESS_ID_VARIABLE} (0 to {processes - 1}, once each) and that every "
                "process was started."
            ) from None
        _joined = True
    import keras

    devices = keras.distribution.list_devices()
    distribution = keras.distribution.DataParallel(
        devices=devices,
        # each process reads its own share (Placement.shard); Keras's auto-sharding accepts
        # only a tf.data.Dataset when there are several processes
        auto_shard_dataset=False,
    )
    return Placement(
        strategy="jax-data-parallel",
        devices=len(devices),
        processes=_jax_process_count(),
        process_id=_jax_process_index(),
        scope=distribution.scope,
    )


def _jax_process_count() -> int:
    import jax

    return jax.process_count()


def _jax_process_index() -> int:
    import jax

    return jax.process_index()


def _place_tensorflow() -> Placement:
    if requested_processes() > 1:
        raise ConfigError(
            f"{NUM_PROCESSES_VARIABLE} asks for {requested_processes()} processes, which "
            "textpipe runs on JAX only: TensorFlow's MultiWorkerMirroredStrategy is reported "
            "broken under Keras 3 (keras-team/keras#20585). Use KERAS_BACKEND=jax."
        )
    from textpipe.backend import load_keras

    load_keras()
    import tensorflow as tf

    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    with quiet_native_stderr():
        strategy = tf.distribute.MirroredStrategy([device.name for device in devices])
    return Placement(
        strategy="tf-mirrored",
        devices=int(strategy.num_replicas_in_sync),
        scope=strategy.scope,
    )


def produce_together(
    placement: Placement,
    store: Store,
    identity: Identity,
    *,
    build: Callable[[Path], Mapping[str, Any]],
    output: str | Path | None = None,
    force: bool = False,
    notice: Notice | None = None,
) -> Outcome:
    """``store.produce`` for a training that several processes run together.

    Process 0 alone takes the key's lock, decides whether to build, tells the others (they must
    join the same steps, or it would wait for them forever), and writes the artifact. The
    others train beside it in a scratch folder they do not write to, wait until process 0 has
    written the artifact, and read it from the store, which must therefore be shared.

    Raises:
        DistributionError: the artifact written by process 0 is not in this process's store.
    """
    if not placement.multi_process:
        return store.produce(identity, build=build, output=output, force=force, notice=notice)
    start = time.perf_counter()
    if placement.is_writer:
        announced = False

        def build_and_announce(directory: Path) -> Mapping[str, Any]:
            nonlocal announced
            announced = True
            placement.broadcast_flag(True)
            return build(directory)

        outcome = store.produce(
            identity, build=build_and_announce, output=output, force=force, notice=notice
        )
        if not announced:
            placement.broadcast_flag(False)
        placement.barrier("textpipe-artifact-written")
        return outcome
    building = placement.broadcast_flag(False)
    if building:
        with tempfile.TemporaryDirectory(prefix="textpipe-worker-") as scratch:
            build(Path(scratch))
    placement.barrier("textpipe-artifact-written")
    from textpipe.artifacts import Outcome

    artifact = store.get(identity.stage, identity.key)
    if artifact is None:
        raise DistributionError(
            f"Process {placement.process_id} trained with process 0, which wrote "
            f"{identity.stage} {identity.key[:6]} to its own store; this process's store "
            f"{store.root} does not have it. Give every process one shared TEXTPIPE_HOME."
        )
    seconds = time.perf_counter() - start if building else 0.0
    return Outcome(artifact, "built" if building else "cached", seconds)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no details"
