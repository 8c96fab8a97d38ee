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


def pipeline_model(config: PipelineConfig, views: list[StageView]) -> tuple[keras.Model, str]:
    """The pipeline's trained model when its train artifact is built, else the model its
    parameters describe (untrained), with a line saying which."""
    from textpipe.backend import load_keras
    from textpipe.models import build_model, select_model_options
    from textpipe.stages.train import load_trained_model

    load_keras()
    built = {view.stage: view.artifact for view in views if view.artifact is not None}
    trained = built.get("train")
    if trained is not None:
        # the user's own preset names the model code
        return load_trained_model(trained, model_code=config.train.model), (
            f"trained model from {trained.path}"
        )
    vocab = built.get("vocab")
    vocab_size = vocab.stats["vocab_size"] if vocab else config.vocab.size + 2
    dataset = built.get("download")
    num_classes = dataset.stats["num_classes"] if dataset else 2
    model = build_model(
        config.train.model,
        vocab_size=vocab_size,
        length=config.encode.length,
        num_classes=num_classes,
        **select_model_options(config.train.model, config.train.model_options()),
    )
    note = (
        f"built from the preset (vocabulary {vocab_size:,} ids"
        f"{'' if vocab else ', assuming the full vocabulary size'}; {num_classes} classes"
        f"{'' if dataset else ', assumed'}); not trained"
    )
    return model, note
