"""The listing commands: ``textpipe models`` (the zoo) and ``textpipe presets``."""

from __future__ import annotations

from tests.cli.conftest import invoke


def test_models_and_presets_lists(runner) -> None:
    models = invoke(runner, "models").output
    for name in ("mlp", "lstm", "bilstm", "gru", "bigru", "cnn", "bag", "ngram", "transformer"):
        assert name in models
    assert "kernel_size" in models  # the options column
    presets = invoke(runner, "presets").output
    assert "imdb-lstm" in presets and "imdb-bilstm-classic" in presets
