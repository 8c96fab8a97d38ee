"""One module per stage: plain library code, no click, no printing.

Each stage module declares its ``STAGE`` (``textpipe.stages.base.Stage``); ``pipeline_stages``
lists them in pipeline order.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from textpipe.config import STAGE_NAMES

if TYPE_CHECKING:
    from textpipe.stages.base import Stage


def pipeline_stages() -> tuple[Stage, ...]:
    """The declarations of the pipeline's stages, in order."""
    return tuple(importlib.import_module(f"textpipe.stages.{name}").STAGE for name in STAGE_NAMES)


def stage_declaration(name: str) -> Stage:
    """The declaration of one pipeline stage."""
    return importlib.import_module(f"textpipe.stages.{name}").STAGE
