"""What ``textpipe show`` displays: a pipeline's stages as they stand in the store, and its
model's layers with what each does with the padding mask."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textpipe.artifacts import Artifact, DamagedArtifactError, Store
from textpipe.config import PipelineConfig
from textpipe.errors import TextpipeError

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class StageView:
    """One stage of a pipeline: its parameters and its artifact for exactly those, if built."""

    stage: str
    params: dict[str, Any]
    artifact: Artifact | None
    problem: str | None = None


def pipeline_overview(config: PipelineConfig, store: Store) -> list[StageView]:
    """Each stage's parameters and the stored artifact of exactly these parameters.

    Artifacts are looked up by the keys the parameters give now (not by the last run's record),
    so a changed preset shows its stages as not built. Read-only: damage is reported.
    """
    from textpipe.config import STAGE_NAMES
    from textpipe.pipeline import stage_identities

    try:
        identities = stage_identities(config)
    except TextpipeError as error:  # e.g. the source is not there: nothing can be looked up
        identities, problem = {}, str(error)
    else:
        problem = None
    views = []
    for stage in STAGE_NAMES:
        params = config.stage_params(stage).to_dict()
        artifact, damage = None, None
        if stage in identities:
            try:
                artifact = store.get(stage, identities[stage].key)
            except DamagedArtifactError as error:
                damage = f"damaged ({error.reason})"
        views.append(
            StageView(stage, params, artifact, damage or (problem if stage == "download" else None))
        )
    return views


def mask_role(layer: Any, masked: bool, rank: int | None) -> tuple[str, bool]:
    """What a layer does with the padding mask, and whether a mask flows after it."""
    if getattr(layer, "mask_zero", False):
        return "makes mask (id 0)", True
    if not masked:
        return "", False
    if rank == 2:  # one vector per text: the steps, and with them the mask, are pooled away
        return "consumes mask", False
    return "passes mask", True


def layer_rows(model: keras.Model) -> list[tuple[str, str, str, int, str]]:
    """Per layer: name, type, output shape, parameter count and its role for the mask."""
    rows = []
    masked = False
    for layer in model.layers:
        try:
            shape: tuple | None = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = None
        role, masked = mask_role(layer, masked, len(shape) if shape else None)
        rows.append(
            (
                layer.name,
                type(layer).__name__,
                str(shape) if shape else "?",
                layer.count_params(),
                role,
            )
        )
    return rows


def pipeline_model(
    config: PipelineConfig,
    views: list[StageView],
    *,
    model_code: str | None = None,
    trust_code: bool = False,
) -> tuple[keras.Model, str]:
    """The pipeline's trained model when its train artifact is built, else the model its
    parameters describe (untrained), with a line saying which.

    A custom model's code is the one ``model_code`` names, else the preset's own model: code
    runs only where the user named it, on the command line or in the preset (a manifest's
    spec only with ``trust_code``, as ``load_trained_model`` says).

    Raises:
        ConfigError: ``model_code`` is not custom code, or the untrained preset's model is a
            zoo model (``model_code`` would build another model than the preset's).
    """
    from textpipe.backend import load_keras
    from textpipe.errors import ConfigError
    from textpipe.models import build_model, is_custom_spec, select_model_options
    from textpipe.stages.train import load_trained_model

    built = {view.stage: view.artifact for view in views if view.artifact is not None}
    trained = built.get("train")
    spec = config.train.model
    if model_code is not None and trained is None:  # before Keras: checks only
        if not is_custom_spec(model_code):
            raise ConfigError(
                f"--model-code {model_code}: expected FILE.py:FUNCTION or package.module:function."
            )
        if not is_custom_spec(spec):
            raise ConfigError(
                f"--model-code {model_code}: the model of {config.name} is {spec!r}, not custom "
                f"code; to show another model, pass --set train.model={model_code}."
            )
        spec = model_code  # the preset's custom model, by the code the user named
    load_keras()
    if trained is not None:
        # the user's own preset names the model code
        model = load_trained_model(
            trained, model_code=model_code or config.train.model, trust_code=trust_code
        )
        return model, f"trained model from {trained.path}"
    vocab = built.get("vocab")
    vocab_size = vocab.stats["vocab_size"] if vocab else config.vocab.size + 2
    dataset = built.get("download")
    num_classes = dataset.stats["num_classes"] if dataset else 2
    model = build_model(
        spec,
        vocab_size=vocab_size,
        length=config.encode.length,
        num_classes=num_classes,
        **select_model_options(spec, config.train.model_options()),
    )
    note = (
        f"built from the preset{f' by {spec}' if spec != config.train.model else ''} "
        f"(vocabulary {vocab_size:,} ids"
        f"{'' if vocab else ', assuming the full vocabulary size'}; {num_classes} classes"
        f"{'' if dataset else ', assumed'}); not trained"
    )
    return model, note


def shows_recorded_run(name: str) -> bool:
    """Whether ``textpipe show NAME`` shows a recorded run: a preset or a pipeline file wins (a
    preset's run is recorded under the preset's own name, so both are the same pipeline)."""
    from textpipe.presets import available_presets, is_pipeline_file

    return not is_pipeline_file(name) and name not in available_presets()


def unknown_name_message(name: str, store: Store) -> str:
    """One line for a name that is neither a preset, a pipeline file nor a recorded run."""
    import difflib

    from textpipe.presets import available_presets
    from textpipe.runs import run_records

    presets = list(available_presets())
    runs = [record["name"] for record in run_records(store)]
    close = difflib.get_close_matches(name, presets + runs, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"Unknown preset or run {name!r}.{hint} Presets: {', '.join(presets) or 'none'}. "
        f"Runs under {store.root}: {', '.join(runs) or 'none'}. Or pass a path to a .toml file."
    )


def run_overview(name: str, store: Store) -> tuple[dict[str, Any], list[StageView]]:
    """The record of run ``name`` and its stages: the parameters each ran with and the artifact
    it recorded (found the way ``predict`` and ``report`` find them).

    Raises:
        ConfigError: no run of that name (or not a valid run name), listing presets and runs.
        InputError: the run's artifacts do not belong together.
        ArtifactError: an artifact is damaged, or a key in the record is malformed.
    """
    from textpipe.artifacts import is_run_name
    from textpipe.config import STAGE_NAMES
    from textpipe.errors import ConfigError
    from textpipe.runs import read_run_record, resolve_run_artifacts

    record = read_run_record(store, name) if is_run_name(name) else None
    if record is None:
        raise ConfigError(unknown_name_message(name, store))
    artifacts = resolve_run_artifacts(name, store)
    views = []
    for stage in STAGE_NAMES:
        entry = record["stages"].get(stage)
        artifact = artifacts.get(stage)
        if artifact is not None:
            params = dict(artifact.params)
        else:
            params = dict(entry.get("params", {})) if entry else {}
        problem = None
        if entry is not None and artifact is None:
            problem = f"artifact {entry['key'][:6]} of this run is no longer in the store"
        views.append(StageView(stage, params, artifact, problem))
    return record, views
