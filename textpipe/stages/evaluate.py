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
from textpipe.config import EvaluateParams
from textpipe.errors import InputError
from textpipe.progress import Progress, or_silent
from textpipe.stages.base import Stage
from textpipe.stages.encode import Encoded
from textpipe.stages.train import Trained

if TYPE_CHECKING:
    import numpy as np

STAGE = Stage(
    name="evaluate",
    version=2,  # 2: macro and weighted averages, macro_f1 in metrics.json
    params=EvaluateParams,
    inputs={"model": "train", "encoded": "encode"},
    function="evaluate",
)
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.npy"


def predict_probabilities(
    model: Any,
    ids: np.ndarray,
    *,
    batch_size: int = 256,
    lengths: np.ndarray | None = None,
    padding: str = "post",
    streaming: bool = False,
) -> np.ndarray:
    """Class probabilities from a logits model: [N] for two classes, [N, C] otherwise.

    Rows are read batch by batch (``ids`` may be memory-mapped). With ``lengths`` (each row's
    true length), rows of similar length are batched together and each batch is trimmed to its
    longest row (``padding`` says which side to trim); only for a model that ignores padding.
    ``streaming`` is for callers that call this once per chunk of a long input: it runs the
    model batch by batch (``predict_on_batch``), because each ``model.predict`` call builds a
    new input pipeline and memory grows with the number of calls.
    """
    import numpy as np

    from textpipe.stages.batches import sequence_batches

    batches = sequence_batches(ids, lengths=lengths, batch_size=batch_size, padding=padding)
    if not len(ids):
        logits = np.zeros((0, int(model.outputs[0].shape[-1])), np.float64)
    elif streaming:
        parts = [np.asarray(model.predict_on_batch(batch[0])) for batch in batches]
        logits = np.concatenate(parts).astype(np.float64)
    else:
        logits = np.asarray(model.predict(batches, verbose=0), np.float64)
    order = batches.plan.row_order
    if not np.array_equal(order, np.arange(len(ids))):
        in_order = np.empty_like(logits)
        in_order[order] = logits
        logits = in_order
    if logits.shape[-1] == 1:
        return 1.0 / (1.0 + np.exp(-logits[:, 0]))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def check_compatible(trained: Trained, data: Encoded) -> None:
    """Refuse data encoded otherwise than the data the model was trained on.

    The vocabulary must be the model's; the padding side too (a masked recurrent model is
    trained on right padding, and a position-sensitive model learns where the padding is);
    an unmasked model also needs the same length.

    Raises:
        InputError: naming what differs and what to rebuild.
    """
    if trained.vocab_key and data.vocab_key != trained.vocab_key:
        raise InputError(
            f"{data.path} was encoded with another vocabulary than the one {trained.path} was "
            "trained on; encode the data with the model's vocabulary."
        )
    if data.label_names != trained.label_names:
        raise InputError(
            f"{trained.path} predicts the classes {trained.label_names}, but {data.path} is "
            f"labelled {data.label_names}; evaluate on data with the model's classes."
        )
    if trained.padding and data.padding != trained.padding:
        raise InputError(
            f"{trained.path} was trained on {trained.padding}-padded data, but {data.path} "
            f"is {data.padding}-padded; encode with encode.padding={trained.padding}."
        )
    if not trained.masked and data.length != trained.length:
        raise InputError(
            f"{trained.path} takes length {trained.length}, but {data.path} has "
            f"encode.length={data.length}."
        )


def evaluate(
    *,
    model: Artifact,
    encoded: Artifact,
    params: EvaluateParams,
    store: Store,
    output: str | Path | None = None,
    force: bool = False,
    model_code: str | None = None,
    trust_code: bool = False,
    progress: Progress | None = None,
) -> Outcome:
    """Evaluate a train artifact's model on one split of an encode artifact.

    ``model_code`` and ``trust_code`` say where a custom model's code may come from (see
    ``load_trained_model``).

    Returns:
        The cache outcome; stats hold the metrics.

    Raises:
        InputError: the split is missing, or the data does not fit the model.
    """
    import numpy as np

    from textpipe.metrics import classification_metrics
    from textpipe.stages.train import load_trained_model

    progress = or_silent(progress)
    data, trained = Encoded(encoded), Trained(model)
    if not data.has_split(params.split):
        raise InputError(
            f"{encoded.path}: no split {params.split!r}. "
            f"Splits: {', '.join(data.split_names) or 'none'}."
        )
    check_compatible(trained, data)

    def build(directory: Path) -> dict[str, Any]:
        ids, labels = data.split(params.split)
        bucketing = trained.bucketing and params.bucketing == "auto"
        with progress.task(f"evaluate: {params.split} ({len(ids):,} rows)", total=None):
            keras_model = load_trained_model(
                model, model_code=model_code, trust_code=trust_code, notice=progress.note
            )
            probabilities = predict_probabilities(
                keras_model,
                ids,
                batch_size=params.batch_size,
                lengths=data.lengths(params.split) if bucketing else None,
                padding=data.padding,
            )
        metrics = classification_metrics(labels, probabilities, trained.label_names)
        metrics["split"] = params.split
        np.save(directory / PREDICTIONS_FILE, probabilities.astype(np.float32))
        (directory / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
        return metrics

    return store.produce(
        STAGE.identity_of(params, {"model": model, "encoded": encoded}),
        build=build,
        output=output,
        force=force,
        notice=progress.note,
    )
