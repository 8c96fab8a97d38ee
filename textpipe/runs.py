"""Run records: which artifacts a named run used, and finding them again.

``textpipe run`` records, per run name, the key, parameters and inputs of every stage it ran
(``Store.update_run_record``); ``report``, ``predict``, ``show`` and ``ensemble`` read them
back. A record is data from a file: every stage name and key in it is validated before use.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textpipe.artifacts import MANIFEST_NAME, Artifact, Outcome, Store, check_key, is_run_name
from textpipe.config import STAGE_NAMES, PipelineConfig
from textpipe.errors import ArtifactError, InputError


def _valid_record(record: Any, name: str) -> dict[str, Any] | None:
    """A run record whose stage entries all name a known stage and a well-formed key."""
    if not isinstance(record, dict) or not isinstance(record.get("stages"), dict):
        return None
    for stage, entry in record["stages"].items():
        if stage not in STAGE_NAMES or not isinstance(entry, dict):
            return None
        if not isinstance(entry.get("params", {}), dict):
            return None
        if not isinstance(entry.get("inputs", {}), dict):
            return None
        try:
            check_key(entry.get("key"), where=f"run {name!r}: {stage}")
        except ArtifactError:
            return None
    record["name"] = name  # the file's name, not what the file claims
    return record


def read_run_record(store: Store, name: str) -> dict[str, Any] | None:
    """The record of run ``name``; None when there is none or it is not a valid record."""
    return _valid_record(store.read_run_record(name), name)


def run_records(store: Store) -> list[dict[str, Any]]:
    """Every valid run record in the store, by name; invalid ones are skipped."""
    records = (read_run_record(store, name) for name in store.run_names())
    return [record for record in records if record is not None]


def record_run(
    store: Store,
    config: PipelineConfig,
    outcomes: dict[str, Outcome],
    planned: dict[str, Any],
) -> None:
    """Add the stages a run produced to its record (stages it did not reach are kept)."""

    from textpipe.presets import recorded_file

    this_file = config.path.resolve() if config.path else None

    def update(current: Any) -> dict[str, Any]:
        previous = _valid_record(current, config.name) or {}
        # Earlier stages are kept only from a record of the same pipeline file: a preset that
        # takes the name of an older file's run starts a record of its own.
        same_pipeline = recorded_file(previous) == this_file
        stages = dict(previous.get("stages", {})) if same_pipeline else {}
        for stage, outcome in outcomes.items():
            stages[stage] = {
                "key": outcome.artifact.key,
                "path": str(store.path_for(stage, outcome.artifact.key)),
                "params": dict(planned[stage].params),
                "inputs": dict(planned[stage].inputs),
                "status": outcome.status,
                "seconds": round(outcome.seconds, 3),
            }
        return {
            "name": config.name,
            "description": config.description,
            "pipeline_file": str(this_file) if this_file else None,
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
            "stages": stages,
        }

    store.update_run_record(config.name, update)


def check_chain(artifacts: dict[str, Artifact], *, run: str) -> None:
    """Refuse artifacts of one run that were not built from each other.

    After ``textpipe run P --set vocab.size=500 --until encode``, the record of P names a new
    vocabulary and encoding but the model trained on the old ones: using them together would
    silently mix configurations.

    Raises:
        InputError: naming the stage that was built from another input, and what to run.
    """
    from textpipe.stages import pipeline_stages

    for declaration in pipeline_stages():
        artifact = artifacts.get(declaration.name)
        if artifact is None:
            continue
        for input_name, upstream in declaration.inputs.items():
            if upstream not in artifacts:
                continue
            if artifact.input_key(input_name) != artifacts[upstream].key:
                raise InputError(
                    f"Run {run!r}: its {declaration.name} artifact ({artifact.short_key}) was "
                    f"built from another {upstream} than the run's latest "
                    f"({artifacts[upstream].short_key}), so they do not belong together. Run "
                    f"`textpipe run {run}` to bring every stage up to date."
                )


def run_name_of(name_or_path: str, store: Store) -> str:
    """A run name as given, or the run name of a pipeline file (``exp/my.toml``)."""
    from textpipe.presets import PRESET_SUFFIX, run_name_for

    path = Path(name_or_path)
    if path.suffix == PRESET_SUFFIX and path.is_file():
        return run_name_for(path, store)
    return name_or_path


def resolve_run_artifacts(name_or_path: str, store: Store) -> dict[str, Artifact]:
    """The artifacts of a run: by run name, by its pipeline file, or a train/evaluate folder.

    Read-only: a damaged artifact is reported, never removed. A folder's upstream artifacts
    are the ones it was built from (by key), so they always belong together.

    Raises:
        InputError: no such run, or its artifacts do not belong together.
        ArtifactError: an artifact is damaged, or a key in a file is malformed.
    """
    from textpipe.artifacts import open_artifact

    path = Path(name_or_path)
    name = run_name_of(name_or_path, store)
    # A folder that holds no artifact does not hide a run of the same name.
    is_run = is_run_name(name) and read_run_record(store, name)
    if path.is_dir() and ((path / MANIFEST_NAME).exists() or not is_run):
        return _artifacts_of_folder(
            open_artifact(path, stage=("train", "evaluate"), store=store), store
        )
    record = read_run_record(store, name)  # an invalid name is refused here
    if record is None:
        runs = [item["name"] for item in run_records(store)]
        raise InputError(
            f"No run named {name!r} under {store.root}. Runs: {', '.join(runs) or 'none'}. "
            f"Run `textpipe run {name_or_path}` first, or pass a train artifact directory."
        )
    found = {}
    for stage in STAGE_NAMES:
        entry = record["stages"].get(stage)
        if entry is None:
            continue
        artifact = store.find(stage, entry["key"])
        if artifact is not None:
            found[stage] = artifact
    check_chain(found, run=name)
    return found


def _artifacts_of_folder(artifact: Artifact, store: Store) -> dict[str, Artifact]:
    """A train or evaluate artifact and the upstream artifacts it was built from."""
    found = {artifact.stage: artifact}
    trained = artifact
    if artifact.stage == "evaluate":
        model_key = artifact.input_key("model")
        trained_found = store.find("train", model_key) if model_key else None
        if trained_found is None:
            raise InputError(
                f"{artifact.path}: its train artifact is not in the store {store.root}."
            )
        trained = trained_found
        found["train"] = trained
    encoded_key = trained.input_key("encoded")
    encoded = store.find("encode", encoded_key) if encoded_key else None
    if encoded is not None:
        found["encode"] = encoded
        vocab_key = encoded.input_key("vocab")
        vocab = store.find("vocab", vocab_key) if vocab_key else None
        if vocab is not None:
            found["vocab"] = vocab
    return found
