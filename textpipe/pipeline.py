"""Presets and pipeline runs: every stage in order through the cache, with a record per run.

A preset is a TOML file in ``pipelines/`` (or any TOML file). ``run_pipeline`` plans the keys of
all stages first (they chain from parameters, so no stage has to run to know its key), then runs
each stage through the store; ``plan_pipeline`` alone powers ``--dry-run``. Each run writes
``<root>/runs/<name>.json`` naming the artifacts it used, which ``report``, ``predict`` and
``show`` read.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textpipe.artifacts import (
    Artifact,
    DamagedArtifactError,
    Outcome,
    Store,
    check_key,
    compute_key,
    write_text_atomic,
)
from textpipe.config import STAGE_NAMES, PipelineConfig, key_params, load_pipeline_file
from textpipe.errors import ArtifactError, ConfigError, InputError
from textpipe.progress import Progress, or_silent

PRESET_SUFFIX = ".toml"

# Each stage's inputs: input name -> the stage that produces it.
STAGE_INPUTS: dict[str, dict[str, str]] = {
    "download": {},
    "normalize": {"dataset": "download"},
    "vocab": {"normalized": "normalize"},
    "encode": {"normalized": "normalize", "vocab": "vocab"},
    "train": {"encoded": "encode"},
    "evaluate": {"model": "train", "encoded": "encode"},
}


def preset_dirs() -> list[Path]:
    """Where presets are looked up: $TEXTPIPE_PIPELINES, ./pipelines, then the checkout's."""
    dirs = []
    if os.environ.get("TEXTPIPE_PIPELINES"):
        dirs.append(Path(os.environ["TEXTPIPE_PIPELINES"]))
    dirs.append(Path("pipelines"))
    dirs.append(Path(__file__).resolve().parents[1] / "pipelines")
    unique: list[Path] = []
    for directory in dirs:
        if directory.is_dir() and all(directory.resolve() != seen.resolve() for seen in unique):
            unique.append(directory)
    return unique


def available_presets() -> dict[str, Path]:
    """Preset name to file, first directory winning."""
    found: dict[str, Path] = {}
    for directory in preset_dirs():
        for path in sorted(directory.glob(f"*{PRESET_SUFFIX}")):
            found.setdefault(path.stem, path)
    return dict(sorted(found.items()))


def load_config(name_or_path: str, overrides: list[str] | tuple[str, ...] = ()) -> PipelineConfig:
    """A preset by name, or a TOML file by path, with ``stage.key=value`` overrides.

    Raises:
        ConfigError: unknown preset (listing the available ones) or invalid content.
    """
    path = Path(name_or_path)
    if path.suffix == PRESET_SUFFIX or path.is_file():
        if not path.is_file():
            raise ConfigError(f"{path}: no such pipeline file.")
        return load_pipeline_file(path, overrides)
    presets = available_presets()
    if name_or_path not in presets:
        import difflib

        close = difflib.get_close_matches(name_or_path, presets, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"Unknown preset {name_or_path!r}.{hint} Available presets: "
            f"{', '.join(presets) or 'none'}. Or pass a path to a .toml file."
        )
    return load_pipeline_file(presets[name_or_path], overrides)


@dataclass(frozen=True)
class PlannedStage:
    """A stage's key and why it would (or would not) run."""

    stage: str
    key: str
    params: dict[str, Any]
    inputs: dict[str, str]
    cached: bool
    reason: str


def _stage_inputs(
    config: PipelineConfig,
) -> list[tuple[str, str, dict[str, Any], dict[str, str]]]:
    """(stage, key, keyed params, inputs) for every stage, keys chained."""
    from textpipe.models.custom import model_fingerprint
    from textpipe.stages import download, encode, evaluate, normalize, train, vocab

    planned: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
    keys: dict[str, str] = {}

    def add(stage: str, version: int, params: dict[str, Any], inputs: dict[str, str]) -> None:
        keys[stage] = compute_key(stage=stage, version=version, params=params, inputs=inputs)
        planned.append((stage, keys[stage], params, inputs))

    resolved, download_params = download.source_fingerprint(config.download)
    add("download", download.VERSION, download_params, {"source": resolved.fingerprint})
    add("normalize", normalize.VERSION, key_params(config.normalize), {"dataset": keys["download"]})
    add("vocab", vocab.VERSION, key_params(config.vocab), {"normalized": keys["normalize"]})
    add(
        "encode",
        encode.VERSION,
        key_params(config.encode),
        {"normalized": keys["normalize"], "vocab": keys["vocab"]},
    )
    spec, code_hash = model_fingerprint(config.train.model)
    train_params = key_params(config.train)
    train_params["model"] = spec
    train_inputs = {"encoded": keys["encode"]}
    if code_hash:
        train_inputs["model_code"] = code_hash
    add("train", train.VERSION, train_params, train_inputs)
    add(
        "evaluate",
        evaluate.VERSION,
        key_params(config.evaluate),
        {"model": keys["train"], "encoded": keys["encode"]},
    )
    return planned


def validate_pipeline(config: PipelineConfig) -> None:
    """Check what can be checked before any stage runs: the model and its options.

    Raises:
        ConfigError: an unknown model, a missing custom builder file, or a bad model option.
    """
    from textpipe.artifacts import check_run_name
    from textpipe.models import model_info, select_model_options
    from textpipe.models.custom import model_fingerprint

    try:
        check_run_name(config.name)
    except InputError as error:
        raise ConfigError(f"{error} (the run is named after its file; rename the file).") from None
    model_info(config.train.model)
    model_fingerprint(config.train.model)
    select_model_options(config.train.model, config.train.model_options())


def _valid_record(record: Any, name: str) -> dict[str, Any] | None:
    """A run record whose stage entries all name a known stage and a well-formed key."""
    if not isinstance(record, dict) or not isinstance(record.get("stages"), dict):
        return None
    stages = record["stages"]
    for stage, entry in stages.items():
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
    from textpipe.artifacts import load_json

    try:
        record = load_json(store.run_record_path(name))
    except (OSError, ValueError):
        return None
    return _valid_record(record, name)


def run_records(store: Store) -> list[dict[str, Any]]:
    """Every valid run record under the root, by name; invalid files are skipped."""
    from textpipe.artifacts import is_run_name

    records = []
    directory = store.runs_dir()
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        if not is_run_name(path.stem):
            continue
        record = read_run_record(store, path.stem)
        if record is not None:
            records.append(record)
    return records


def _differences(old: dict[str, Any], new: dict[str, Any], stage: str) -> list[str]:
    changed = []
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            changed.append(f"{stage}.{name} {old.get(name)!r} -> {new.get(name)!r}")
    return changed


def plan_pipeline(
    config: PipelineConfig, store: Store, *, force: str | None = None, until: str | None = None
) -> list[PlannedStage]:
    """The key of every stage and what a run would do, with the reason.

    Args:
        config: the pipeline.
        store: the artifact store.
        force: a stage name to rebuild with every later stage, or ``all``.
        until: the last stage to run.
    """
    until_index = _stage_index(until) if until else len(STAGE_NAMES) - 1
    force_index = 0 if force == "all" else (_stage_index(force) if force else None)
    validate_pipeline(config)
    previous = read_run_record(store, config.name) or {}
    previous_stages = previous.get("stages", {})
    plans: list[PlannedStage] = []
    rebuilt_inputs: set[str] = set()
    for index, (stage, key, params, inputs) in enumerate(_stage_inputs(config)):
        if index > until_index:
            break
        damage = None
        try:
            cached = store.get(stage, key) is not None
        except DamagedArtifactError as error:
            cached, damage = False, error.reason
        forced = force_index is not None and index >= force_index
        if forced:
            reason = f"forced (--force={force})"
        elif damage:
            reason = f"damaged ({damage}): will be rebuilt"
        elif cached:
            reason = "cached"
        else:
            before = previous_stages.get(stage)
            reasons = []
            if before:
                reasons += _differences(before.get("params", {}), params, stage)
                for name, value in inputs.items():
                    if before.get("inputs", {}).get(name) != value:
                        reasons.append(f"input {name} changed")
            elif stage in rebuilt_inputs:
                reasons.append("an input will be rebuilt")
            reason = "; ".join(reasons) if reasons else "not built yet"
        if forced or not cached:
            rebuilt_inputs.update(STAGE_NAMES[index + 1 :])
        plans.append(PlannedStage(stage, key, params, inputs, cached and not forced, reason))
    return plans


def _stage_index(stage: str) -> int:
    if stage not in STAGE_NAMES:
        raise ConfigError(f"Unknown stage {stage!r}. Stages: {', '.join(STAGE_NAMES)}.")
    return STAGE_NAMES.index(stage)


@dataclass
class RunResult:
    """What a pipeline run did, stage by stage."""

    config: PipelineConfig
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def metrics(self) -> dict[str, Any] | None:
        evaluated = self.outcomes.get("evaluate")
        return evaluated.artifact.stats if evaluated else None


def run_pipeline(
    config: PipelineConfig,
    store: Store,
    *,
    force: str | None = None,
    until: str | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    on_stage: Any = None,
) -> RunResult:
    """Run every stage through the cache, in order, and record the run.

    Args:
        config: the pipeline.
        store: the artifact store.
        force: a stage to rebuild with every later stage, or ``all``.
        until: the last stage to run.
        resume: let an interrupted training continue from its last epoch.
        progress: where to report progress.
        on_stage: called with each Outcome as soon as its stage is done.
    """
    from textpipe.stages.download import download
    from textpipe.stages.encode import encode
    from textpipe.stages.evaluate import evaluate
    from textpipe.stages.normalize import normalize
    from textpipe.stages.train import train
    from textpipe.stages.vocab import build_vocab

    progress = or_silent(progress)
    until_index = _stage_index(until) if until else len(STAGE_NAMES) - 1
    force_index = 0 if force == "all" else (_stage_index(force) if force else None)
    planned = {plan.stage: plan for plan in plan_pipeline(config, store, until=until)}

    def forced(stage: str) -> bool:
        return force_index is not None and STAGE_NAMES.index(stage) >= force_index

    result = RunResult(config=config)
    start = time.perf_counter()
    artifacts: dict[str, Artifact] = {}

    def record(stage: str, outcome: Outcome) -> Artifact:
        if outcome.artifact.key != planned[stage].key:
            raise InputError(  # a bug, not a user error: keep the run honest
                f"{stage}: planned key {planned[stage].key[:12]} "
                f"but built {outcome.artifact.key[:12]}"
            )
        result.outcomes[stage] = outcome
        artifacts[stage] = outcome.artifact
        if on_stage:
            on_stage(outcome)
        return outcome.artifact

    def common(stage: str) -> dict[str, Any]:
        return {"store": store, "force": forced(stage), "progress": progress}

    steps: dict[str, Any] = {
        "download": lambda: download(params=config.download, **common("download")),
        "normalize": lambda: normalize(
            dataset=artifacts["download"], params=config.normalize, **common("normalize")
        ),
        "vocab": lambda: build_vocab(
            normalized=artifacts["normalize"], params=config.vocab, **common("vocab")
        ),
        "encode": lambda: encode(
            normalized=artifacts["normalize"],
            vocab=artifacts["vocab"],
            params=config.encode,
            **common("encode"),
        ),
        "train": lambda: train(
            encoded=artifacts["encode"], params=config.train, resume=resume, **common("train")
        ),
        "evaluate": lambda: evaluate(
            trained=artifacts["train"],
            encoded=artifacts["encode"],
            params=config.evaluate,
            model_code=config.train.model,  # the user's own preset names it
            **common("evaluate"),
        ),
    }
    try:
        for index, (stage, step) in enumerate(steps.items()):
            if index > until_index:
                break
            record(stage, step())
    finally:
        result.seconds = time.perf_counter() - start
        if result.outcomes:
            _write_run_record(store, config, result, planned)
    return result


def _write_run_record(
    store: Store, config: PipelineConfig, result: RunResult, planned: dict[str, PlannedStage]
) -> None:
    path = store.run_record_path(config.name)
    with store.lock(f"run-{config.name}", what=f"the record of run {config.name}"):
        _update_run_record(store, path, config, result, planned)


def _update_run_record(
    store: Store,
    path: Path,
    config: PipelineConfig,
    result: RunResult,
    planned: dict[str, PlannedStage],
) -> None:
    previous = read_run_record(store, config.name) or {}
    stages = dict(previous.get("stages", {}))
    for stage, outcome in result.outcomes.items():
        stages[stage] = {
            "key": outcome.artifact.key,
            "path": str(store.path_for(stage, outcome.artifact.key)),
            "params": planned[stage].params,
            "inputs": planned[stage].inputs,
            "status": outcome.status,
            "seconds": round(outcome.seconds, 3),
        }
    record = {
        "name": config.name,
        "description": config.description,
        "pipeline_file": str(config.path) if config.path else None,
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
        "stages": stages,
    }
    write_text_atomic(path, json.dumps(record, indent=2) + "\n")


def check_chain(artifacts: dict[str, Artifact], *, run: str) -> None:
    """Refuse artifacts of one run that were not built from each other.

    After ``textpipe run P --set vocab.size=500 --until encode``, the record of P names a new
    vocabulary and encoding but the model trained on the old ones: using them together would
    silently mix configurations.

    Raises:
        InputError: naming the stage that was built from another input, and what to run.
    """
    for stage, artifact in artifacts.items():
        for input_name, upstream in STAGE_INPUTS.get(stage, {}).items():
            if upstream not in artifacts:
                continue
            if artifact.input_key(input_name) != artifacts[upstream].key:
                raise InputError(
                    f"Run {run!r}: its {stage} artifact ({artifact.short_key}) was built from "
                    f"another {upstream} than the run's latest ({artifacts[upstream].short_key}), "
                    f"so they do not belong together. Run `textpipe run {run}` to bring every "
                    "stage up to date."
                )


def resolve_run_artifacts(name_or_path: str, store: Store) -> dict[str, Artifact]:
    """The artifacts of a run: by run/preset name (its record), or a train/evaluate directory.

    Read-only: a damaged artifact is reported, never removed. A directory's upstream artifacts
    are the ones it was built from (by key), so they always belong together.

    Raises:
        InputError: no such run, or its artifacts do not belong together.
        ArtifactError: an artifact is damaged, or a key in a file is malformed.
    """
    from textpipe.artifacts import MANIFEST_NAME, is_run_name, open_artifact

    path = Path(name_or_path)
    # A folder that holds no artifact does not hide a run of the same name.
    is_run = is_run_name(name_or_path) and read_run_record(store, name_or_path)
    if path.is_dir() and ((path / MANIFEST_NAME).exists() or not is_run):
        artifact = open_artifact(path, stage=("train", "evaluate"), store=store)
        found = {artifact.stage: artifact}
        trained = artifact
        if artifact.stage == "evaluate":
            model_key = artifact.input_key("model")
            trained_found = store.find("train", model_key) if model_key else None
            if trained_found is None:
                raise InputError(f"{path}: its train artifact is not in the store {store.root}.")
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
    record = read_run_record(store, name_or_path)
    if record is None:
        runs = [item["name"] for item in run_records(store)]
        raise InputError(
            f"No run named {name_or_path!r} under {store.root}. Runs: {', '.join(runs) or 'none'}. "
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
    check_chain(found, run=name_or_path)
    return found
