"""The train stage on tiny data: outputs, caching, determinism, resume, and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO_ROOT, TINY_MODEL, encode_chain, sentiment_rows, write_csv
from textpipe.artifacts import Store
from textpipe.config import TrainParams
from textpipe.errors import ConfigError
from textpipe.progress import SilentProgress
from textpipe.stages.train import class_weights, compile_model, model_key_parts, train


def params(**changes) -> TrainParams:
    values = {"model": "bag", "epochs": 3, "batch_size": 16, "learning_rate": 0.02, **TINY_MODEL}
    values.update(changes)
    return TrainParams(**values)


def test_trains_writes_model_history_and_manifest(encoded_artifact) -> None:
    import keras

    outcome = train(encoded=encoded_artifact, params=params(), store=Store())
    artifact = outcome.artifact
    history = json.loads((artifact.path / "history.json").read_text())
    assert [record["epoch"] for record in history] == [1, 2, 3]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"} <= history[0].keys()
    assert history[-1]["loss"] < history[0]["loss"]
    stats = artifact.stats
    # what this host runs on, whichever it is (a GPU host, or KERAS_BACKEND=jax)
    assert stats["backend"] == keras.backend.backend()
    assert stats["device"] == "CPU" or stats["device"].startswith("GPU: ")
    assert stats["params_count"] > 0 and stats["epochs_run"] == 3
    assert stats["seconds_per_epoch"] > 0 and stats["train_seconds"] > 0
    assert (artifact.path / "model.keras").is_file()
    again = train(encoded=encoded_artifact, params=params(), store=Store())
    assert again.status == "cached" and again.artifact.key == artifact.key


def test_same_seed_gives_identical_metrics(encoded_artifact, tmp_path: Path) -> None:
    runs = []
    for index in range(2):
        outcome = train(
            encoded=encoded_artifact,
            params=params(model="lstm", epochs=2),
            store=Store(tmp_path / f"r{index}"),
        )
        history = json.loads((outcome.artifact.path / "history.json").read_text())
        runs.append(
            [
                {name: value for name, value in record.items() if name != "seconds"}
                for record in history
            ]
        )
    assert runs[0] == runs[1]


def test_runtime_settings_stay_out_of_the_key(encoded_artifact) -> None:
    store = Store()
    first = train(encoded=encoded_artifact, params=params(epochs=1), store=store)
    assert (
        train(
            encoded=encoded_artifact, params=params(epochs=1, jit_compile="off"), store=store
        ).status
        == "cached"
    )
    changed = train(encoded=encoded_artifact, params=params(epochs=1, units=9), store=store)
    assert changed.status == "built" and changed.artifact.key != first.artifact.key


def test_learning_rate_decay_is_keyed_only_when_it_decays() -> None:
    # a constant rate (the default) leaves the keys of existing runs as they were
    assert "learning_rate_decay" not in model_key_parts(params())[0]
    assert model_key_parts(params(learning_rate_decay=0.5))[0]["learning_rate_decay"] == 0.5


def test_learning_rate_decay_falls_by_its_factor_over_each_epoch() -> None:
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    compile_model(
        model,
        num_classes=2,
        learning_rate=0.02,
        jit_compile=False,
        learning_rate_decay=0.5,
        steps_per_epoch=4,
    )
    features = np.ones((16, 3), np.float32)
    model.fit(features, np.ones((16, 1), np.float32), batch_size=4, epochs=2, verbose=0)

    # 2 epochs of 4 steps: 0.02 * 0.5**2
    rate = keras.ops.convert_to_numpy(model.optimizer.learning_rate)
    assert model.optimizer.iterations.numpy() == 8
    np.testing.assert_allclose(rate, 0.005, rtol=1e-5)


def test_training_with_a_decay_differs_from_a_constant_rate(encoded_artifact) -> None:
    store = Store()
    constant = train(encoded=encoded_artifact, params=params(epochs=2), store=store)
    decayed = train(
        encoded=encoded_artifact, params=params(epochs=2, learning_rate_decay=0.5), store=store
    )

    assert decayed.status == "built" and decayed.artifact.key != constant.artifact.key
    histories = [
        json.loads((outcome.artifact.path / "history.json").read_text())
        for outcome in (constant, decayed)
    ]
    losses = [[record["loss"] for record in history] for history in histories]
    assert losses[0] != losses[1]
    # the saved optimizer went through every step of both epochs and its rate fell by the
    # factor once per epoch (not per step)
    import keras

    from textpipe.models import load_model

    model = load_model(decayed.artifact.path / "model.keras")
    steps = int(model.optimizer.iterations.numpy())
    assert steps > 2 and steps % 2 == 0
    rate = keras.ops.convert_to_numpy(model.optimizer.learning_rate)
    np.testing.assert_allclose(rate, 0.02 * 0.5**2, rtol=1e-5)


def test_weight_average_is_keyed_only_when_on() -> None:
    assert "ema_momentum" not in model_key_parts(params())[0]
    assert model_key_parts(params(ema_momentum=0.9))[0]["ema_momentum"] == 0.9


def test_weight_average_validates_and_saves_the_average(encoded_artifact) -> None:
    from textpipe.models import load_model

    store = Store()
    plain = train(encoded=encoded_artifact, params=params(epochs=2), store=store)
    averaged = train(
        encoded=encoded_artifact, params=params(epochs=2, ema_momentum=0.9), store=store
    )
    assert averaged.artifact.key != plain.artifact.key
    histories = [
        json.loads((outcome.artifact.path / "history.json").read_text())
        for outcome in (plain, averaged)
    ]
    # the same steps from the same start: the training loss is the step weights', equal; the
    # validation loss is the average's, not
    assert [r["loss"] for r in histories[0]] == pytest.approx([r["loss"] for r in histories[1]])
    assert histories[0][-1]["val_loss"] != pytest.approx(histories[1][-1]["val_loss"])
    saved = load_model(averaged.artifact.path / "model.keras")
    last_step = load_model(plain.artifact.path / "model.keras")
    assert any(
        not np.allclose(a, b)
        for a, b in zip(saved.get_weights(), last_step.get_weights(), strict=True)
    )
    evaluated = saved.evaluate(*_validation(encoded_artifact), verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(histories[1][-1]["val_loss"], rel=1e-4)


def _validation(encoded_artifact) -> tuple[np.ndarray, np.ndarray]:
    path = encoded_artifact.path
    ids = np.load(path / "validation.ids.npy")
    labels = np.load(path / "validation.labels.npy").astype(np.float32).reshape(-1, 1)
    return ids, labels


def _averaged_run_resumed(encoded_artifact, store: Store, interrupted_after: int):
    """Two epochs with the weight average, interrupted after an epoch's checkpoint, resumed."""
    averaged = params(epochs=2, ema_momentum=0.9)
    with pytest.raises(KeyboardInterrupt):
        train(
            encoded=encoded_artifact,
            params=averaged,
            store=store,
            progress=InterruptAfter(interrupted_after),
        )
    return train(encoded=encoded_artifact, params=averaged, store=store, resume=True)


def test_weight_average_resumes_where_it_stopped(encoded_artifact) -> None:
    from textpipe.models import load_model

    store = Store()
    resumed = _averaged_run_resumed(encoded_artifact, store, interrupted_after=1)
    whole = train(
        encoded=encoded_artifact,
        params=params(epochs=2, ema_momentum=0.9),
        store=Store(store.root.parent / "other-store"),
    )
    for a, b in zip(
        load_model(resumed.artifact.path / "model.keras").get_weights(),
        load_model(whole.artifact.path / "model.keras").get_weights(),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_weight_average_with_early_stopping_saves_the_best_epochs_average(
    encoded_artifact,
) -> None:
    from textpipe.models import load_model

    outcome = train(
        encoded=encoded_artifact,
        params=params(epochs=4, ema_momentum=0.5, early_stopping=1, learning_rate=0.2),
        store=Store(),
    )
    history = json.loads((outcome.artifact.path / "history.json").read_text())
    best = min(history, key=lambda record: record["val_loss"])
    saved = load_model(outcome.artifact.path / "model.keras")
    evaluated = saved.evaluate(*_validation(encoded_artifact), verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(best["val_loss"], rel=1e-4)


def test_weight_average_resumed_after_its_last_epoch_saves_the_average(encoded_artifact) -> None:
    from textpipe.models import load_model

    # interrupted after the last epoch's checkpoint, before the model was saved
    outcome = _averaged_run_resumed(encoded_artifact, Store(), interrupted_after=2)
    history = json.loads((outcome.artifact.path / "history.json").read_text())
    saved = load_model(outcome.artifact.path / "model.keras")
    evaluated = saved.evaluate(*_validation(encoded_artifact), verbose=0, return_dict=True)
    assert evaluated["loss"] == pytest.approx(history[-1]["val_loss"], rel=1e-4)


class InterruptAfter(SilentProgress):
    """Raises KeyboardInterrupt once the given epoch has been logged (after its checkpoint)."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def log(self, message: str) -> None:
        super().log(message)
        if message.startswith(f"epoch {self.epoch}/"):
            raise KeyboardInterrupt


def test_interrupted_training_resumes_from_its_last_epoch(encoded_artifact) -> None:
    store = Store()
    with pytest.raises(KeyboardInterrupt):
        train(
            encoded=encoded_artifact,
            params=params(epochs=3),
            store=store,
            progress=InterruptAfter(2),
        )
    assert not list((store.root / "train").glob("*/manifest.json"))
    assert list((store.root / "partial" / "train").glob("*/state.json"))
    progress = SilentProgress()
    outcome = train(
        encoded=encoded_artifact,
        params=params(epochs=3),
        store=store,
        resume=True,
        progress=progress,
    )
    assert any("resuming after epoch 2" in note for note in progress.notes)
    assert [message.split()[1] for message in progress.logs] == ["3/3"]
    history = json.loads((outcome.artifact.path / "history.json").read_text())
    assert [record["epoch"] for record in history] == [1, 2, 3]
    assert not list((store.root / "partial" / "train").glob("*/state.json"))


def test_without_resume_an_interrupted_run_starts_over(encoded_artifact) -> None:
    store = Store()
    with pytest.raises(KeyboardInterrupt):
        train(
            encoded=encoded_artifact,
            params=params(epochs=2),
            store=store,
            progress=InterruptAfter(1),
        )
    progress = SilentProgress()
    train(encoded=encoded_artifact, params=params(epochs=2), store=store, progress=progress)
    assert any("pass --resume" in note for note in progress.notes)
    assert len(progress.logs) == 2


def test_masked_recurrent_model_refuses_left_padding(sentiment_csv: Path) -> None:
    store = Store()
    left = encode_chain(sentiment_csv, store, strip_html=False, padding="pre")[2].artifact
    with pytest.raises(ConfigError, match=r"encode\.padding=post"):
        train(encoded=left, params=params(model="lstm"), store=store)
    assert train(encoded=left, params=params(model="mlp", epochs=1), store=store).status == "built"


def test_unknown_model_lists_the_zoo(encoded_artifact) -> None:
    with pytest.raises(ConfigError, match=r"Available models: .*bilstm.*lstm.*mlp"):
        train(encoded=encoded_artifact, params=params(model="lstn"), store=Store())


def test_balanced_class_weights() -> None:
    weights = class_weights(np.array([0, 0, 0, 1]), 2)
    assert weights == {0: pytest.approx(4 / 6), 1: pytest.approx(2.0)}


def test_multiclass_and_balanced_weights_and_mixed_precision(tmp_path: Path) -> None:
    store = Store()
    path = write_csv(tmp_path / "three.csv", sentiment_rows(60, classes=3))
    encoded = encode_chain(path, store, strip_html=False)[2].artifact
    outcome = train(
        encoded=encoded,
        params=params(epochs=2, class_weight="balanced", mixed_precision=True),
        store=store,
        progress=SilentProgress(),
    )
    assert outcome.artifact.stats["num_classes"] == 3
    history = json.loads((outcome.artifact.path / "history.json").read_text())
    assert np.isfinite(history[-1]["loss"])


def test_custom_cell_example_trains_through_the_stage(encoded_artifact) -> None:
    spec = f"{REPO_ROOT / 'examples' / 'custom_cell.py'}:build"
    outcome = train(encoded=encoded_artifact, params=params(model=spec, epochs=2), store=Store())
    assert outcome.artifact.params["model"] == "custom:custom_cell.py:build"
    assert "model_code" in outcome.artifact.inputs
    history = json.loads((outcome.artifact.path / "history.json").read_text())
    assert history[-1]["loss"] < history[0]["loss"]


def test_ngram_model_is_adapted_to_the_training_split_before_fitting(encoded_artifact) -> None:
    import keras

    from textpipe.stages.train import load_trained_model

    outcome = train(
        encoded=encoded_artifact,
        # the plain ngram model has no embedding or hidden layer to size
        params=params(model="ngram", ngram_buckets=4096, epochs=2, embedding_dim=64, units=64),
        store=Store(),
    )

    assert outcome.artifact.stats["adapted_layers"] == ["naive_bayes_bag"]
    ratios = keras.ops.convert_to_numpy(
        load_trained_model(outcome.artifact).get_layer("naive_bayes_bag").ratios
    )
    assert ratios.min() < 0 < ratios.max()  # computed from the labels, saved with the model
    bag = train(encoded=encoded_artifact, params=params(), store=Store())
    assert bag.artifact.stats["adapted_layers"] == []


def test_masked_models_train_on_bucketed_batches_and_mlp_on_full_rows(
    encoded_artifact, tmp_path: Path
) -> None:
    from textpipe.stages.train import Trained

    lstm = Trained(
        train(
            encoded=encoded_artifact,
            params=params(model="lstm", epochs=1, bucketing="auto"),
            store=Store(tmp_path / "lstm"),
        ).artifact
    )
    assert lstm.bucketing and lstm.artifact.stats["batch_widths"] == [12]  # 12 < one step
    mlp = train(
        encoded=encoded_artifact,
        params=params(model="mlp", epochs=1, bucketing="auto"),
        store=Store(tmp_path / "mlp"),
    ).artifact
    assert not mlp.stats["bucketing"] and mlp.stats["batch_widths"] == [12]
    off = train(
        encoded=encoded_artifact,
        params=params(model="lstm", epochs=1),  # off by default
        store=Store(tmp_path / "lstm"),
    ).artifact
    assert off.key != lstm.artifact.key and not off.stats["bucketing"]
    with pytest.raises(ConfigError, match="not masked"):
        train(encoded=encoded_artifact, params=params(model="mlp", bucketing="on"), store=Store())


def test_xla_for_recurrent_models_on_a_tensorflow_cpu_only_below_128_steps() -> None:
    import keras

    from textpipe.backend import has_gpu
    from textpipe.stages.train import _resolve_jit_compile

    if keras.backend.backend() != "tensorflow" or has_gpu():
        pytest.skip("TensorFlow on a CPU")
    assert _resolve_jit_compile("auto", True, 64) is True
    assert _resolve_jit_compile("auto", True, 500) is False
    assert _resolve_jit_compile("auto", True, 128) is False
    assert _resolve_jit_compile("auto", False, 500) is True
    assert _resolve_jit_compile("on", True, 500) is True
    assert _resolve_jit_compile("off", False, 64) is False
