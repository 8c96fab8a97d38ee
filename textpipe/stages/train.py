"""The train stage: a zoo (or custom) Keras model fitted on an encode artifact.

Output: ``model.keras``, ``history.json`` (per epoch: loss, accuracy, validation loss and
accuracy, seconds) and a manifest with the parameter count, timings, backend and device.
An interrupted run keeps a checkpoint of its last completed epoch beside the store
(``<root>/partial/train/<key>``) that ``resume=True`` continues from.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textpipe.artifacts import Artifact, Outcome, Store, write_text_atomic
from textpipe.backend import backend_name, describe_device, has_gpu, load_keras
from textpipe.config import MODEL_OPTION_NAMES, TrainParams
from textpipe.distribute import Placement, place, produce_together
from textpipe.errors import ArtifactError, ConfigError, InputError
from textpipe.models.custom import model_fingerprint, resolve_custom_spec
from textpipe.progress import Progress, or_silent
from textpipe.stages.base import KeyParts, Stage
from textpipe.stages.encode import Encoded

if TYPE_CHECKING:
    import keras
    import numpy as np

MODEL_FILE = "model.keras"
HISTORY_FILE = "history.json"
CHECKPOINT_FILE = "checkpoint.keras"
STATE_FILE = "state.json"


@dataclass(frozen=True)
class Trained:
    """A train artifact, typed: what evaluate and predict read from it."""

    artifact: Artifact

    @property
    def path(self) -> Path:
        return self.artifact.path

    @property
    def label_names(self) -> list[str]:
        return list(self.artifact.stat("label_names"))

    @property
    def length(self) -> int:
        return int(self.artifact.stat("length"))

    @property
    def padding(self) -> str | None:
        return self.artifact.stats.get("padding")

    @property
    def masked(self) -> bool:
        """Whether the model ignores padding (and so takes any length)."""
        return bool(self.artifact.stats.get("masked"))

    @property
    def bucketing(self) -> bool:
        """Whether it trained on length-bucketed, trimmed batches (its prediction ignores
        padding), so that evaluate and predict may trim their batches too."""
        return bool(self.artifact.stats.get("bucketing"))

    @property
    def vocab_key(self) -> str | None:
        return self.artifact.stats.get("vocab_key")

    @property
    def model_spec(self) -> str | None:
        spec = self.artifact.stats.get("model_spec")
        return spec if isinstance(spec, str) else None

    @property
    def model_file(self) -> Path:
        return self.artifact.file(MODEL_FILE)


def model_key_parts(params: TrainParams) -> KeyParts:
    """The training parameters, the model's spec and the options it uses; a custom builder's
    code hash as an input. Options the model does not use never reach the key."""
    from textpipe.models import select_model_options

    spec, code_hash = model_fingerprint(params.model)
    keyed = {
        name: value for name, value in params.key_params().items() if name not in MODEL_OPTION_NAMES
    }
    # added later: a constant rate and no weight average keep the keys they had
    if params.learning_rate_decay == 1.0:
        del keyed["learning_rate_decay"]
    if params.ema_momentum == 0.0:
        del keyed["ema_momentum"]
    keyed["model"] = spec
    # an unknown model, or an option it does not use set to another value, is refused here
    keyed.update(select_model_options(params.model, params.model_options()))
    return keyed, ({"model_code": code_hash} if code_hash else {}), None


def check_padding(model: str, padding: str) -> None:
    """Refuse a masked recurrent model on left-padded data.

    Raises:
        ConfigError: on a GPU, Keras refuses the cuDNN kernel for left-padded rows.
    """
    from textpipe.models import model_info

    info = model_info(model)
    if info.masked and info.recurrent and padding == "pre":
        raise ConfigError(
            f"Model {model!r} masks padding with recurrent layers, which need right "
            "padding: on a GPU, Keras refuses the cuDNN kernel for left-padded rows and runs "
            "about 10x slower. Encode with encode.padding=post (the default)."
        )


STAGE = Stage(
    name="train",
    # 2: batches stream from the memory-mapped ids in textpipe's own seeded order, and masked
    # models train on length-bucketed batches (train.bucketing)
    version=2,
    params=TrainParams,
    inputs={"encoded": "encode"},
    function="train",
    key_parts=model_key_parts,
)


# Below this many steps XLA speeds up a recurrent model on a TensorFlow CPU; from it on, its
# compiled loop grows faster than the steps (an LSTM training step without XLA, against the
# same with it: 1.3-2.2x the time at 64 steps, 0.75-1.2x at 128, 0.65-0.7x at 256, 0.33-0.5x
# at 500; BENCHMARKS.md).
XLA_RECURRENT_STEPS = 128


def _resolve_jit_compile(setting: str, info_recurrent: bool, length: int | None = None) -> bool:
    """XLA: on for TensorFlow and JAX, except for recurrent models on TensorFlow; torch eager.

    On a TensorFlow GPU the cuDNN recurrent kernels are not XLA-compatible. On a TensorFlow CPU
    XLA only for rows shorter than `XLA_RECURRENT_STEPS`: longer ones train faster without it,
    an LSTM on TensorFlow's fused LSTM op (which has no XLA form: under XLA the layer runs its
    masked loop instead).
    """
    if setting == "on":
        return True
    if setting == "off":
        return False
    backend = backend_name()
    if backend == "torch":
        return False
    if backend == "tensorflow" and info_recurrent:
        return not has_gpu() and length is not None and length < XLA_RECURRENT_STEPS
    return True


def load_trained_model(
    trained: Artifact,
    *,
    model_code: str | None = None,
    trust_code: bool = False,
    notice: Any = None,
) -> keras.Model:
    """The model of a train artifact.

    Code runs only where the user named it: a custom builder's file or module is loaded from
    ``model_code`` (a spec given on the command line or in the user's own preset), or from the
    spec recorded in the manifest only with ``trust_code``. Never because a manifest says so.

    Raises:
        ArtifactError: the model file cannot be loaded, or it needs custom code nobody named.
    """
    from textpipe.models import is_custom_spec, load_model

    load_keras()
    recorded = trained.stats.get("model_spec")
    recorded = recorded if isinstance(recorded, str) else None
    spec = None
    if model_code is not None and is_custom_spec(model_code):
        spec = model_code
        expected = trained.inputs.get("model_code")
        if expected and notice is not None:
            _, actual = model_fingerprint(model_code)
            if actual != expected:
                notice(
                    f"the model code {model_code} differs from the code {trained.path} was "
                    "trained with; loading it anyway"
                )
    elif trust_code and recorded is not None and is_custom_spec(recorded):
        spec = recorded
    needs_code = recorded is not None and is_custom_spec(recorded)
    try:
        return load_model(trained.file(MODEL_FILE), spec=spec)
    except ConfigError:
        raise
    except Exception as error:
        if needs_code and spec is None:
            raise ArtifactError(
                f"{trained.path}: the model was built by custom code ({recorded}), which "
                "textpipe does not run unless you name it: pass --model-code FILE.py:FUNCTION "
                "(or --trust-code to run the file named in its manifest)."
            ) from None
        raise ArtifactError(
            f"{trained.path}: cannot load {MODEL_FILE} ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'no details'}); rebuild it with "
            "textpipe train --force."
        ) from None


def _read_checkpoint_state(checkpoint_dir: Path) -> dict[str, Any] | None:
    """The state of an interrupted training, or None when there is no usable one."""
    try:
        state = json.loads((checkpoint_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("epochs_done"), int)
        or not isinstance(state.get("history"), list)
        or not (checkpoint_dir / CHECKPOINT_FILE).is_file()
    ):
        return None
    return state


def class_weights(labels: np.ndarray, num_classes: int) -> dict[int, float]:
    """``balanced`` weights: n_samples / (n_classes * count of the class)."""
    import numpy as np

    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = np.divide(
        len(labels), num_classes * counts, out=np.zeros_like(counts), where=counts > 0
    )
    return {index: float(weight) for index, weight in enumerate(weights)}


def _targets(labels: np.ndarray, num_classes: int) -> np.ndarray:
    import numpy as np

    return labels.astype(np.float32).reshape(-1, 1) if num_classes == 2 else labels.astype(np.int64)


def compile_model(
    model: keras.Model,
    *,
    num_classes: int,
    learning_rate: float,
    jit_compile: bool,
    learning_rate_decay: float = 1.0,
    steps_per_epoch: int = 1,
    ema_momentum: float = 0.0,
) -> None:
    """Adam, cross-entropy from logits, and accuracy that reads logits correctly.

    With `learning_rate_decay` below 1 the rate falls smoothly at every step, by that factor
    over each `steps_per_epoch` steps (2e-3 and 0.5: 1e-3 after one epoch, 5e-4 after two).
    With `ema_momentum` above 0 the optimizer keeps a moving average of the weights after every
    step (Keras's `use_ema`); `fit` needs `keras.callbacks.SwapEMAWeights` to validate with it.
    """
    import keras

    rate: Any = learning_rate
    if learning_rate_decay != 1.0:
        rate = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=steps_per_epoch, decay_rate=learning_rate_decay
        )

    if num_classes == 2:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        # threshold 0 on a logit is probability 0.5; the default 0.5 would be wrong on logits
        metrics = [keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate=rate,
            **({"use_ema": True, "ema_momentum": ema_momentum} if ema_momentum else {}),
        ),
        loss=loss,
        metrics=metrics,
        jit_compile=jit_compile,
    )


def _make_callback(
    *,
    progress: Progress,
    epochs: int,
    steps: int,
    history: list[dict[str, Any]],
    checkpoint_dir: Path,
) -> Any:
    import keras

    class PipelineCallback(keras.callbacks.Callback):
        """Progress per step, a record per epoch, and a checkpoint after each epoch."""

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.started = time.perf_counter()
            self.task = progress.task(f"train: epoch {epoch + 1}/{epochs}", total=steps)
            self.advance = self.task.__enter__()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            status = None
            if "loss" in logs and batch % 10 == 0:
                status = (
                    f"loss {float(logs['loss']):.4f}  accuracy {float(logs.get('accuracy', 0)):.4f}"
                )
            self.advance(1, status)

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.task.__exit__(None, None, None)
            logs = {name: float(value) for name, value in (logs or {}).items()}
            record = {
                "epoch": epoch + 1,
                **logs,
                "seconds": round(time.perf_counter() - self.started, 3),
            }
            history.append(record)
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
            temporary = checkpoint_dir / f".{CHECKPOINT_FILE}"
            self.model.save(temporary)
            os.replace(temporary, checkpoint_dir / CHECKPOINT_FILE)
            state = {"epochs_done": epoch + 1, "history": history}
            write_text_atomic(checkpoint_dir / STATE_FILE, json.dumps(state))
            parts = [
                f"{name} {value:.4f}" for name, value in logs.items() if name != "learning_rate"
            ]
            progress.log(
                f"epoch {epoch + 1}/{epochs}  {'  '.join(parts)}  ({record['seconds']:.1f} s)"
            )

    return PipelineCallback()


def train(
    *,
    encoded: Artifact,
    params: TrainParams,
    store: Store,
    output: str | Path | None = None,
    force: bool = False,
    resume: bool = False,
    progress: Progress | None = None,
) -> Outcome:
    """Train a model on the train split of an encode artifact.

    Args:
        encoded: the encode artifact.
        params: model, optimization and model hyperparameters.
        store: the artifact store.
        output: an explicit artifact directory, in addition to the store.
        force: retrain even when cached.
        resume: continue an interrupted training from its last completed epoch.
        progress: where to report progress.

    Returns:
        The cache outcome; stats hold the parameter count, timings, backend and device.

    Raises:
        ConfigError: unknown model or option, a masked recurrent model on left-padded data, or
            bucketing on for a model that needs fixed-length rows.
        InputError: the encode artifact has no train split.
    """
    from textpipe.models import model_info
    from textpipe.stages.batches import bucketing_applies

    progress = or_silent(progress)
    identity = STAGE.identity_of(params, {"encoded": encoded})
    info = model_info(params.model)
    data = Encoded(encoded)
    check_padding(params.model, data.padding)
    if not data.has_split("train"):
        raise InputError(f"{encoded.path}: no train split to train on.")
    bucketing = bucketing_applies(info, padding=data.padding, setting=params.bucketing)

    checkpoint_dir = store.partial_dir(STAGE.name, identity.key)
    placement = place(params.distribute)  # joins the other processes before Keras computes
    if bucketing and placement.multi_process:
        # each process would plan its own widths, but one global batch needs one shape
        raise ConfigError(
            "train.bucketing cannot be used with several processes; set train.bucketing=off."
        )

    def build(directory: Path) -> dict[str, Any]:
        with placement.scope():
            return _fit(
                directory=directory,
                data=data,
                params=params,
                info_recurrent=info.recurrent,
                masked=info.masked,
                bucketing=bucketing,
                checkpoint_dir=checkpoint_dir,
                resume=resume,
                progress=progress,
                placement=placement,
            )

    return produce_together(
        placement, store, identity, build=build, output=output, force=force, notice=progress.note
    )


def _fit(
    *,
    directory: Path,
    data: Encoded,
    params: TrainParams,
    info_recurrent: bool,
    masked: bool,
    bucketing: bool,
    checkpoint_dir: Path,
    resume: bool,
    progress: Progress,
    placement: Placement,
) -> dict[str, Any]:
    """Fits the model on batches streamed from the memory-mapped ids (see ``stages.batches``)."""
    import numpy as np

    from textpipe.models import build_model, load_model, select_model_options
    from textpipe.models.adapt import adaptable_layers
    from textpipe.stages.batches import epoch_order_callback, fit_input, sequence_batches

    keras = load_keras()
    backend = keras.backend.backend()
    keras.utils.set_random_seed(params.seed)
    num_classes = data.num_classes
    train_ids, train_labels = data.split("train")
    batch_size = placement.local_batch_size(params.batch_size)
    fit_ids, fit_labels, fit_lengths = _share(
        placement, (train_ids, train_labels, data.lengths("train")), params.seed, batch_size
    )
    validation = None
    if data.has_split("validation"):
        validation_ids, validation_labels, validation_lengths = _share(
            placement,
            (data.ids("validation"), data.labels("validation"), data.lengths("validation")),
            params.seed,
            batch_size,
        )
        validation = sequence_batches(
            validation_ids,
            targets=_targets(validation_labels, num_classes),
            lengths=validation_lengths if bucketing else None,
            batch_size=batch_size,
            padding=data.padding,
        )
    jit_compile = placement.allow_jit(
        _resolve_jit_compile(params.jit_compile, info_recurrent, data.length), progress.note
    )
    spec = resolve_custom_spec(params.model)

    history: list[dict[str, Any]] = []
    initial_epoch = 0
    state = _read_checkpoint_state(checkpoint_dir)
    model = None
    if resume and state is not None:
        try:
            model = load_model(checkpoint_dir / CHECKPOINT_FILE, spec=spec)
            history = state["history"]
            initial_epoch = state["epochs_done"]
            progress.note(f"train: resuming after epoch {initial_epoch} from {checkpoint_dir}")
        except Exception as error:  # a checkpoint cut short by a crash: start over
            progress.note(
                f"train: cannot resume, the checkpoint is unreadable ({error}); starting over"
            )
            model = None
    # before the model: a learning-rate decay counts its epochs in steps
    weights = None
    if params.class_weight == "balanced":
        per_class = class_weights(train_labels, num_classes)
        weights = np.array([per_class[index] for index in range(num_classes)], np.float32)
    batches = sequence_batches(
        fit_ids,
        targets=_targets(fit_labels, num_classes),
        sample_weights=None if weights is None else weights[fit_labels],
        lengths=fit_lengths if bucketing else None,
        batch_size=batch_size,
        padding=data.padding,
        shuffle=True,
        seed=params.seed,
        epoch=initial_epoch,
    )
    steps = len(batches)
    if model is None:
        if state is not None and not resume:
            progress.note(
                f"train: an interrupted run stopped after epoch {state['epochs_done']}; "
                "starting over (pass --resume to continue it)"
            )
        if placement.is_writer:
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
        model = build_model(
            spec,
            vocab_size=data.vocab_size,
            length=data.length,
            num_classes=num_classes,
            **select_model_options(spec, params.model_options()),
        )
        compile_model(
            model,
            num_classes=num_classes,
            learning_rate=params.learning_rate,
            jit_compile=jit_compile,
            learning_rate_decay=params.learning_rate_decay,
            steps_per_epoch=steps,
            ema_momentum=params.ema_momentum,
        )
        _adapt(model, train_ids, train_labels, num_classes=num_classes, progress=progress)
    jit_compile = bool(getattr(model, "jit_compile", jit_compile))
    if bucketing and model.inputs[0].shape[1] is not None:
        raise ConfigError(
            f"train.bucketing=on: model {params.model!r} takes exactly "
            f"{model.inputs[0].shape[1]} steps, so its batches cannot be trimmed; build it "
            "with keras.Input(shape=(None,)) or use train.bucketing=off."
        )

    callbacks: list[Any] = [
        epoch_order_callback(batches),
        _make_callback(
            progress=progress,
            epochs=params.epochs,
            steps=steps,
            history=history,
            # saving is collective on JAX: the other processes save into their scratch folder
            checkpoint_dir=checkpoint_dir if placement.is_writer else directory / "checkpoint",
        ),
    ]
    if params.ema_momentum:
        # After the checkpoint (which keeps the step's weights, so that a resumed run goes on
        # where it stopped, to rounding on TensorFlow, whose swap adds and subtracts) and before
        # early stopping: validation, the best epoch's weights and the saved model are the
        # average's.
        callbacks.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    if params.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss" if validation is not None else "loss",
                patience=params.early_stopping,
                restore_best_weights=True,
            )
        )
        if validation is None:
            progress.note("train: no validation split; early stopping watches the training loss")
    start = time.perf_counter()
    if initial_epoch < params.epochs:
        model.fit(
            fit_input(batches),
            epochs=params.epochs,
            initial_epoch=initial_epoch,
            validation_data=None if validation is None else fit_input(validation),
            # the batches shuffle themselves, seeded (Keras would shuffle their order unseeded)
            shuffle=False,
            callbacks=callbacks,
            verbose=0,
        )
    elif params.ema_momentum:
        # resumed after the last epoch's checkpoint: it holds the step weights, the optimizer
        # the average, which fit would have put in place
        model.optimizer.finalize_variable_values(model.trainable_variables)
    train_seconds = time.perf_counter() - start
    model.save(directory / MODEL_FILE)  # another process than 0: into its scratch folder
    (directory / HISTORY_FILE).write_text(json.dumps(history, indent=2))
    if placement.is_writer:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    epoch_seconds = [record["seconds"] for record in history]
    best = (
        min(history, key=lambda record: record.get("val_loss", record.get("loss", 0.0)))
        if history
        else {}
    )
    return {
        "model": params.model,
        "model_spec": spec,
        "masked": masked,
        "bucketing": bucketing,
        "batch_widths": sorted({int(width) for width in batches.plan.widths}),
        "params_count": int(model.count_params()),
        "train_seconds": round(train_seconds, 3),
        "seconds_per_epoch": round(sum(epoch_seconds) / len(epoch_seconds), 3)
        if epoch_seconds
        else None,
        "epochs_run": len(history),
        "best_epoch": best.get("epoch"),
        "final": {
            name: value
            for name, value in (history[-1] if history else {}).items()
            if name != "epoch"
        },
        "backend": backend,
        "device": describe_device(),
        "jit_compile": jit_compile,
        "keras_version": keras.__version__,
        "vocab_size": data.vocab_size,
        "length": data.length,
        "num_classes": num_classes,
        "label_names": data.label_names,
        "vocab_key": data.vocab_key,
        "padding": data.padding,
        "truncation": data.truncation,
        "train_rows": len(train_ids),
        "distribute": {**placement.record(), "rows_per_process": len(fit_ids)},
        # adapted before the first epoch, in this process or the interrupted one resumed here
        "adapted_layers": [layer.name for layer in adaptable_layers(model)],
    }


def _share(
    placement: Placement, arrays: tuple[np.ndarray, ...], seed: int, batch_size: int
) -> tuple[np.ndarray, ...]:
    """This process's rows of a split's arrays (all of them, still memory-mapped, unless the
    placement splits the data between processes)."""
    rows = placement.shard(len(arrays[0]), seed=seed, local_batch_size=batch_size)
    return arrays if rows is None else tuple(array[rows] for array in arrays)


def _adapt(
    model: keras.Model,
    ids: np.ndarray,
    labels: np.ndarray,
    *,
    num_classes: int,
    progress: Progress,
) -> list[str]:
    """Fits the layers that learn statistics of the labelled training split (naive-Bayes ratios)."""
    from textpipe.models.adapt import adapt_model, adaptable_layers

    if not adaptable_layers(model):
        return []
    with progress.task(f"train: adapting to {len(ids):,} training rows", total=None):
        return adapt_model(model, ids, labels, num_classes=num_classes)
