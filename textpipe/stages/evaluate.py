"""The evaluate stage: metrics of a trained model on one split of an encode artifact.

Output: ``metrics.json`` (loss, accuracy, precision, recall, F1, ROC-AUC for two classes,
per-class precision, recall, F1 and support, their macro and weighted averages, the confusion
matrix, the number of examples) and ``predictions.npy`` (probability of class 1 for
two classes, [N, C] class probabilities otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textpipe.artifacts import Artifact, Outcome, Store
from textpipe.config import EvaluateParams, key_params
from textpipe.errors import InputError
from textpipe.progress import Progress, or_silent

if TYPE_CHECKING:
    import numpy as np

STAGE = "evaluate"
VERSION = 2  # 2: macro and weighted averages, macro_f1 in metrics.json
MODEL_STAGES = ("train",)
DATA_STAGES = ("encode",)
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.npy"


def predict_probabilities(model: Any, ids: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Class probabilities from a logits model: [N] for two classes, [N, C] otherwise."""
    import numpy as np

    logits = np.asarray(model.predict(ids, batch_size=batch_size, verbose=0), dtype=np.float64)
    if logits.shape[-1] == 1:
        return 1.0 / (1.0 + np.exp(-logits[:, 0]))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def check_compatible(trained: Artifact, encoded: Artifact) -> None:
    """Raise InputError when the data was encoded with another vocabulary or length."""
    vocab_key = trained.stats.get("vocab_key")
    if vocab_key and encoded.inputs.get("vocab") != vocab_key:
        raise InputError(
            f"{encoded.path} was encoded with another vocabulary than the one {trained.path} was "
            "trained on; encode the data with the model's vocabulary."
        )
    if not trained.stats.get("masked") and encoded.stats.get("length") != trained.stats.get(
        "length"
    ):
        raise InputError(
            f"{trained.path} takes length {trained.stats.get('length')}, but {encoded.path} has "
            f"length {encoded.stats.get('length')}."
        )


def evaluate(
    *,
    trained: Artifact,
    encoded: Artifact,
    params: EvaluateParams,
    store: Store,
    output: str | Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Outcome:
    """Evaluate a train artifact's model on one split of an encode artifact.

    Returns:
        The cache outcome; stats hold the metrics.

    Raises:
        InputError: the split is missing, or the data does not fit the model.
    """
    import numpy as np

    from textpipe.metrics import classification_metrics

    progress = or_silent(progress)
    splits = encoded.stats.get("splits", {})
    if params.split not in splits:
        raise InputError(
            f"{encoded.path}: no split {params.split!r}. Splits: {', '.join(splits) or 'none'}."
        )
    check_compatible(trained, encoded)

    def build(directory: Path) -> dict[str, Any]:
        from textpipe.stages.train import load_trained_model

        ids = np.load(encoded.file(f"{params.split}.ids.npy"))
        labels = np.load(encoded.file(f"{params.split}.labels.npy"))
        with progress.task(f"evaluate: {params.split} ({len(ids):,} rows)", total=None):
            model = load_trained_model(trained)
            probabilities = predict_probabilities(model, ids, batch_size=params.batch_size)
        metrics = classification_metrics(labels, probabilities, list(trained.stats["label_names"]))
        metrics["split"] = params.split
        np.save(directory / PREDICTIONS_FILE, probabilities.astype(np.float32))
        (directory / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
        return metrics

    return store.produce(
        stage=STAGE,
        version=VERSION,
        params=key_params(params),
        inputs={"model": trained.key, "encoded": encoded.key},
        build=build,
        output=output,
        force=force,
        notice=progress.note,
    )
