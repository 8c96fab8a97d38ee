"""Errors that textpipe raises; the CLI turns each into one line on stderr and an exit code."""

from __future__ import annotations


class TextpipeError(Exception):
    """Base class of every error a user can act on."""

    exit_code = 1


class ConfigError(TextpipeError):
    """Invalid parameters, options or pipeline files."""

    exit_code = 2


class InputError(TextpipeError):
    """An input (path, dataset, column, artifact) is missing or unusable."""


class ArtifactError(TextpipeError):
    """An artifact directory is not what the stage expects."""


class DistributionError(TextpipeError):
    """The processes of a distributed training could not join or share their result."""
