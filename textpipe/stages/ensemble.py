"""Ensembles: the averaged class probabilities of evaluated runs, evaluated like a single run.

An ensemble is an evaluate artifact (``metrics.json``, ``predictions.npy``) whose inputs are
the member evaluations instead of a model and an encoding, so it is cached like any other and
``report`` lists it beside the single runs. Members must have been evaluated on the same rows:
the same split of the same download artifact, with identical labels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textpipe.artifacts import Artifact, Identity, Outcome, Store
from textpipe.errors import ConfigError, InputError
from textpipe.progress import Progress, or_silent
from textpipe.stages.encode import Encoded
from textpipe.stages.evaluate import METRICS_FILE, PREDICTIONS_FILE

if TYPE_CHECKING:
    import numpy as np

# Not a pipeline stage (no `Stage` declaration): it makes evaluate artifacts, listed and
# reported like any evaluation, from a varying number of member evaluations.
ARTIFACT_STAGE = "evaluate"
VERSION = 1
KIND = "ensemble"


def _source_rows(evaluation: Artifact, store: Store) -> tuple[str, np.ndarray]:
    """The download key and the labels of the rows an evaluation was computed on."""

    encoded_key = evaluation.input_key("encoded")
    encoded = store.find("encode", encoded_key) if encoded_key else None
    if encoded is None:
        raise InputError(
            f"{evaluation.path}: its encode artifact is not in the store {store.root}, so its "
            "rows cannot be checked against the other members'."
        )
    normalized_key = encoded.input_key("normalized")
    normalized = store.find("normalize", normalized_key) if normalized_key else None
    if normalized is None:
        raise InputError(f"{encoded.path}: its normalize artifact is not in the store.")
    labels = Encoded(encoded).labels(evaluation.stats["split"])
    return normalized.input_key("dataset") or "", labels


def ensemble(
    *,
    evaluations: list[Artifact],
    names: list[str],
    weights: list[float] | None,
    store: Store,
    output: str | Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Outcome:
    """Average the class probabilities of evaluated runs and evaluate the average.

    Args:
        evaluations: The members' evaluate artifacts (single runs or ensembles).
        names: A name per member, for the report.
        weights: A non-negative weight per member (normalized to sum 1), or None for equal.
        store: The artifact store.
        output: An explicit artifact directory, in addition to the store.
        force: Rebuild even when cached.
        progress: Where to report progress.

    Returns:
        The cache outcome; stats hold the metrics, the members and their weights.

    Raises:
        ConfigError: Fewer than two members, a member given twice, or weights that do not fit.
        InputError: Members evaluated on different rows, splits or labels.
    """
    import numpy as np

    from textpipe.metrics import classification_metrics

    progress = or_silent(progress)
    if len(evaluations) < 2:
        raise ConfigError("An ensemble needs at least two evaluated runs.")
    first_named: dict[str, str] = {}
    for name, evaluation in zip(names, evaluations, strict=True):
        if evaluation.key in first_named:
            first = first_named[evaluation.key]
            twice = (
                f"{name} is given twice"
                if first == name
                else f"{first} and {name} are the same evaluation"
            )
            raise ConfigError(
                f"{twice} ({evaluation.key[:6]}); give each run once (--weights weighs the runs)."
            )
        first_named[evaluation.key] = name
    if weights is None:
        weights = [1.0] * len(evaluations)
    if (
        len(weights) != len(evaluations)
        or any(weight < 0 for weight in weights)
        or not sum(weights)
    ):
        raise ConfigError(
            f"--weights: expected {len(evaluations)} non-negative numbers, not all 0, one per "
            f"run; got {', '.join(f'{weight:g}' for weight in weights)}."
        )
    splits = {evaluation.stats.get("split") for evaluation in evaluations}
    if len(splits) != 1:
        raise InputError(
            "The runs were evaluated on different splits: "
            + ", ".join(
                f"{name} on {evaluation.stats.get('split')}"
                for name, evaluation in zip(names, evaluations, strict=True)
            )
            + ". Evaluate them on the same split."
        )
    first_source, first_labels = _source_rows(evaluations[0], store)
    label_names = evaluations[0].stats["label_names"]
    for name, evaluation in zip(names[1:], evaluations[1:], strict=True):
        source, labels = _source_rows(evaluation, store)
        if source != first_source or evaluation.stats["label_names"] != label_names:
            raise InputError(
                f"{name} was evaluated on another data set than {names[0]} (download "
                f"{source[:6]} vs {first_source[:6]}); an ensemble needs the same rows."
            )
        if labels.shape != first_labels.shape or not np.array_equal(labels, first_labels):
            raise InputError(
                f"{name} was evaluated on other rows or labels than {names[0]} "
                f"({len(labels):,} vs {len(first_labels):,} rows); an ensemble needs the same rows."
            )
    total = float(sum(weights))
    shares = [weight / total for weight in weights]
    members = [
        {"name": name, "key": evaluation.key, "weight": share}
        for name, evaluation, share in zip(names, evaluations, shares, strict=True)
    ]

    def build(directory: Path) -> dict[str, Any]:
        probabilities = sum(
            share
            * np.load(evaluation.file(PREDICTIONS_FILE), allow_pickle=False).astype(np.float64)
            for evaluation, share in zip(evaluations, shares, strict=True)
        )
        metrics = classification_metrics(first_labels, probabilities, list(label_names))
        metrics["split"] = splits.pop()
        metrics[KIND] = members
        np.save(directory / PREDICTIONS_FILE, np.asarray(probabilities, dtype=np.float32))
        (directory / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
        return metrics

    # Keyed by the members' evaluations and the weights, in the order given.
    identity = Identity(
        stage=ARTIFACT_STAGE,
        version=VERSION,
        params={"kind": KIND, "weights": [round(share, 12) for share in shares]},
        inputs={f"member_{index}": evaluation.key for index, evaluation in enumerate(evaluations)},
    )
    return store.produce(
        identity,
        build=build,
        output=output,
        force=force,
        notice=progress.note,
    )


def resolve_evaluations(
    store: Store, runs: list[str] | tuple[str, ...]
) -> tuple[list[Artifact], list[str]]:
    """The evaluate artifact of each run name (its run record) or evaluate artifact directory.

    Returns:
        The artifacts, and a name for each: the run's name, or `eval-<key>` for a directory
        that no run record names.

    Raises:
        InputError: A run does not exist or has not been evaluated.
    """
    from textpipe.artifacts import open_artifact
    from textpipe.runs import run_name_of, run_records

    by_name = {record["name"]: record for record in run_records(store)}
    name_of = {
        record.get("stages", {}).get("evaluate", {}).get("key"): name
        for name, record in by_name.items()
    }
    found = []
    names: list[str] = []
    for run in runs:
        if Path(run).is_dir():
            artifact = open_artifact(run, stage="evaluate", store=store)
            found.append(artifact)
            names.append(name_of.get(artifact.key, f"eval-{artifact.short_key}"))
            continue
        run = run_name_of(run, store)
        entry = by_name.get(run, {}).get("stages", {}).get("evaluate")
        artifact = store.find("evaluate", entry["key"]) if entry else None
        if artifact is None:
            known = ", ".join(sorted(by_name)) or "none"
            raise InputError(
                f"No evaluated run named {run!r} under {store.root}. Runs: {known}. "
                "Pass a run name or an evaluate artifact directory."
            )
        found.append(artifact)
        names.append(run)
    return found, names
