"""A stage as data: its name, format version, parameters and inputs, declared once.

The stage function, the planner (``--dry-run``, ``--until``, ``--force``), the runner and the
cache key all read the same declaration, so they cannot disagree about what a stage depends on.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from textpipe.artifacts import Artifact, Identity
from textpipe.config import Params
from textpipe.errors import InputError

KeyParts = tuple[dict[str, Any], dict[str, str], Any]
"""What a stage adds to its key beyond its inputs: keyed parameters, extra inputs (a source's
fingerprint, a custom model's code hash) and a context for the build."""


def plain_key_parts(params: Params) -> KeyParts:
    """The default: every parameter but the runtime-only ones, nothing else."""
    return params.key_params(), {}, None


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline.

    Attributes:
        name: the stage's name, also its module (``textpipe.stages.<name>``) and store folder.
        version: the format version of its artifacts, part of every key.
        params: its parameter schema.
        inputs: argument name of each input artifact -> the stage that produces it.
        function: the name of the stage function in its module.
        key_parts: what the parameters contribute to the key (see ``KeyParts``).
    """

    name: str
    version: int
    params: type[Params]
    inputs: Mapping[str, str]
    function: str
    key_parts: Callable[[Any], KeyParts] = field(default=plain_key_parts)

    def identity(self, params: Params, input_keys: Mapping[str, str]) -> Identity:
        """The identity (and so the key) of this stage's artifact for these parameters."""
        if set(input_keys) != set(self.inputs):
            raise InputError(  # a programming error: the declaration is the contract
                f"{self.name}: expected inputs {', '.join(self.inputs) or 'none'}, "
                f"got {', '.join(input_keys) or 'none'}."
            )
        keyed, extra, context = self.key_parts(params)
        return Identity(self.name, self.version, keyed, {**input_keys, **extra}, context)

    def identity_of(self, params: Params, artifacts: Mapping[str, Artifact]) -> Identity:
        """The identity for these input artifacts."""
        return self.identity(params, {name: artifact.key for name, artifact in artifacts.items()})

    def input_stage(self, name: str) -> str:
        """The stage that produces input ``name``."""
        return self.inputs[name]

    def run_function(self) -> Callable[..., Any]:
        """The stage function (imported on first use)."""
        module = importlib.import_module(f"textpipe.stages.{self.name}")
        return getattr(module, self.function)
