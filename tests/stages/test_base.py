"""The stage declarations: one per stage, read alike by the stage, the planner and the key."""

from __future__ import annotations

import inspect

from textpipe.config import PARAMS_BY_STAGE, STAGE_NAMES
from textpipe.stages import pipeline_stages


def test_declarations_follow_the_pipeline_and_name_earlier_stages_only() -> None:
    declarations = pipeline_stages()
    assert tuple(stage.name for stage in declarations) == STAGE_NAMES
    seen: set[str] = set()
    for stage in declarations:
        assert stage.params is PARAMS_BY_STAGE[stage.name]
        assert set(stage.inputs.values()) <= seen, stage.name
        seen.add(stage.name)


def test_each_stage_function_takes_its_declared_inputs_and_the_common_arguments() -> None:
    for stage in pipeline_stages():
        parameters = inspect.signature(stage.run_function()).parameters
        for name in (*stage.inputs, "params", "store", "output", "force", "progress"):
            assert name in parameters, f"{stage.name}: {stage.function}() lacks {name}"


def test_the_identity_chains_input_keys_and_leaves_runtime_parameters_out() -> None:
    from textpipe.config import EvaluateParams
    from textpipe.stages.evaluate import STAGE

    inputs = {"model": "a" * 64, "encoded": "b" * 64}
    identity = STAGE.identity(EvaluateParams(), inputs)
    assert dict(identity.inputs) == inputs and "batch_size" not in identity.params
    assert STAGE.identity(EvaluateParams(batch_size=7), inputs).key == identity.key
    assert STAGE.identity(EvaluateParams(split="validation"), inputs).key != identity.key
    other = STAGE.identity(EvaluateParams(), {**inputs, "model": "c" * 64})
    assert other.key != identity.key
