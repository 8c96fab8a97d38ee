"""Planning and running a pipeline: every stage in order through the cache.

``plan_pipeline`` computes every stage's identity from the stage declarations
(``textpipe.stages``) before anything runs: keys chain from parameters, so no stage has to run
to know its key, and a bad model, option or source is reported before the first stage starts.
``run_pipeline`` then calls each stage function with its inputs and records the run
(``textpipe.runs``). Presets are found by ``textpipe.presets``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from textpipe.artifacts import Artifact, DamagedArtifactError, Identity, Outcome, Store
from textpipe.config import STAGE_NAMES, PipelineConfig
from textpipe.errors import ConfigError, InputError
from textpipe.progress import Progress, or_silent
from textpipe.runs import read_run_record, record_run


@dataclass(frozen=True)
class PlannedStage:
    """A stage's identity and why it would (or would not) run."""

    stage: str
    identity: Identity
    cached: bool
    forced: bool
    reason: str

    @property
    def key(self) -> str:
        return self.identity.key

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.identity.params)

    @property
    def inputs(self) -> dict[str, str]:
        return dict(self.identity.inputs)


def stage_identities(config: PipelineConfig) -> dict[str, Identity]:
    """Every stage's identity, keys chained through the declared inputs.

    Raises:
        ConfigError: an invalid run name, unknown model, model option the model does not use,
            missing custom builder file, or a masked recurrent model on left padding: the whole
            pipeline is checked before any stage runs.
        InputError: a missing source.
    """
    from textpipe.artifacts import check_run_name
    from textpipe.stages import pipeline_stages

    try:
        check_run_name(config.name)
    except InputError as error:
        raise ConfigError(f"{error} (the run is named after its file; rename the file).") from None
    from textpipe.stages.train import check_padding

    identities: dict[str, Identity] = {}
    for declaration in pipeline_stages():
        input_keys = {name: identities[stage].key for name, stage in declaration.inputs.items()}
        params = config.stage_params(declaration.name)
        identities[declaration.name] = declaration.identity(params, input_keys)
    check_padding(config.train.model, config.encode.padding)  # train would refuse it late
    return identities


def _differences(old: dict[str, Any], new: dict[str, Any], stage: str) -> list[str]:
    changed = []
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            changed.append(f"{stage}.{name} {old.get(name)!r} -> {new.get(name)!r}")
    return changed


def stage_index(stage: str) -> int:
    """The position of a stage in the pipeline; ConfigError for an unknown name."""
    if stage not in STAGE_NAMES:
        raise ConfigError(f"Unknown stage {stage!r}. Stages: {', '.join(STAGE_NAMES)}.")
    return STAGE_NAMES.index(stage)


def plan_pipeline(
    config: PipelineConfig, store: Store, *, force: str | None = None, until: str | None = None
) -> list[PlannedStage]:
    """The identity of every stage and what a run would do, with the reason.

    Args:
        config: the pipeline.
        store: the artifact store.
        force: a stage name to rebuild with every later stage, or ``all``.
        until: the last stage to run.
    """
    until_index = stage_index(until) if until else len(STAGE_NAMES) - 1
    force_index = 0 if force == "all" else (stage_index(force) if force else None)
    previous = read_run_record(store, config.name) or {}
    previous_stages = previous.get("stages", {})
    plans: list[PlannedStage] = []
    rebuilt_inputs: set[str] = set()
    for index, (stage, identity) in enumerate(stage_identities(config).items()):
        if index > until_index:
            break
        damage = None
        try:
            cached = store.get(stage, identity.key) is not None
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
                reasons += _differences(before.get("params", {}), dict(identity.params), stage)
                for name, value in identity.inputs.items():
                    if before.get("inputs", {}).get(name) != value:
                        reasons.append(f"input {name} changed")
            elif stage in rebuilt_inputs:
                reasons.append("an input will be rebuilt")
            reason = "; ".join(reasons) if reasons else "not built yet"
        if forced or not cached:
            rebuilt_inputs.update(STAGE_NAMES[index + 1 :])
        plans.append(PlannedStage(stage, identity, cached and not forced, forced, reason))
    return plans


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
    from textpipe.stages import pipeline_stages

    progress = or_silent(progress)
    planned = {plan.stage: plan for plan in plan_pipeline(config, store, force=force, until=until)}
    # Arguments only some stage functions take.
    extra: dict[str, dict[str, Any]] = {
        "train": {"resume": resume},
        "evaluate": {"model_code": config.train.model},  # the user's own preset names it
    }
    result = RunResult(config=config)
    start = time.perf_counter()
    artifacts: dict[str, Artifact] = {}
    try:
        for declaration in pipeline_stages():
            plan = planned.get(declaration.name)
            if plan is None:  # after --until
                break
            outcome = declaration.run_function()(
                params=config.stage_params(declaration.name),
                store=store,
                force=plan.forced,
                progress=progress,
                **{name: artifacts[stage] for name, stage in declaration.inputs.items()},
                **extra.get(declaration.name, {}),
            )
            result.outcomes[declaration.name] = outcome
            artifacts[declaration.name] = outcome.artifact
            if on_stage:
                on_stage(outcome)
            if declaration.name == "download" and "evaluate" in planned:
                _check_evaluated_split(config.evaluate.split, outcome.artifact)
    finally:
        result.seconds = time.perf_counter() - start
        if result.outcomes:
            record_run(store, config, result.outcomes, planned)
    return result


def _check_evaluated_split(split: str, dataset: Artifact) -> None:
    """Refuse, before any training, an evaluation split the downloaded data does not have."""
    from textpipe.stages.tables import split_names

    names = split_names(dataset)
    if split not in names:
        raise InputError(
            f"evaluate.split={split!r}: the downloaded data set has the splits "
            f"{', '.join(names)}; set evaluate.split to one of them, or give download a "
            "test_file or a validation_size."
        )
