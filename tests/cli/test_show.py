"""``textpipe show``: a preset's model, layer by layer, before and after training."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import invoke
from tests.conftest import tiny_pipeline_toml


def test_show_before_and_after_training(
    runner, trained_run: Path, tmp_path: Path, sentiment_csv: Path, sentiment_test_csv: Path
) -> None:
    trained = invoke(runner, "show", trained_run).output
    assert "makes mask (id 0)" in trained and "trained model from" in trained
    fresh = tiny_pipeline_toml(
        tmp_path / "fresh.toml", sentiment_csv, sentiment_test_csv, model="bilstm"
    )
    untrained = invoke(runner, "show", fresh).output
    assert (
        "Bidirectional" in untrained and "consumes mask" in untrained and "not trained" in untrained
    )


def test_show_a_recorded_run_by_name(runner, trained_run: Path, artifact_root: Path) -> None:
    # `textpipe run tiny.toml` recorded the run `tiny` (no preset has that name)
    result = invoke(runner, "show", "tiny")
    assert result.exit_code == 0, result.output
    output = result.output
    assert "run tiny: tiny test pipeline" in output
    assert "(built)" in output and "not run" not in output and "not built" not in output
    assert "trained model from" in output and "makes mask (id 0)" in output
    # what show lists is what predict uses: a suffixed record (as of `run exp/tiny.toml`
    # beside a `tiny` run) is shown by its own name
    runs = artifact_root / "runs"
    (runs / "tiny-c8b9db95.json").write_text((runs / "tiny.json").read_text())
    suffixed = invoke(runner, "show", "tiny-c8b9db95")
    assert suffixed.exit_code == 0, suffixed.output
    assert "run tiny-c8b9db95: tiny test pipeline" in suffixed.output
    assert "trained model from" in suffixed.output
    # a run that stopped before training (`--until encode`) shows no model
    record = json.loads((runs / "tiny.json").read_text())
    for stage in ("train", "evaluate"):
        del record["stages"][stage]
    (runs / "tiny-data.json").write_text(json.dumps(record))
    data_only = invoke(runner, "show", "tiny-data")
    assert data_only.exit_code == 0, data_only.output
    assert data_only.output.count("(built)") == 4 and data_only.output.count("not run") == 2
    assert "has no trained model in the store" in data_only.output
    # a recorded run is shown as recorded: --set belongs to presets and files
    changed = invoke(runner, "show", "tiny", "--set", "train.epochs=3")
    assert changed.exit_code == 1 and "shown as recorded" in changed.output


def test_show_prefers_a_preset_over_the_run_of_the_same_name(
    runner, trained_run: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TEXTPIPE_PIPELINES", str(trained_run.parent))  # tiny is now a preset
    result = invoke(runner, "show", "tiny", "--set", "train.epochs=3")
    assert result.exit_code == 0, result.output
    assert "tiny: tiny test pipeline" in result.output and "run tiny:" not in result.output
    assert "epochs=3" in result.output and "not built" in result.output


def test_show_an_unknown_name_is_one_line(runner, trained_run: Path) -> None:
    for name in ("tiny-nothing", "../runs/tiny", "runs/tiny.json"):
        result = invoke(runner, "show", name)
        assert result.exit_code == 2  # a configuration error, as an unknown preset was
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        assert lines[0].startswith(f"Error: Unknown preset or run {name!r}.")
        assert "Runs under" in lines[0] and "tiny" in lines[0] and ".toml file" in lines[0]


def test_show_builds_an_untrained_custom_model_by_the_model_code_named(
    runner, tmp_path: Path, sentiment_csv: Path, sentiment_test_csv: Path, monkeypatch
) -> None:
    from textpipe.cli.main import cli

    code = tmp_path / "code" / "mine.py"
    code.parent.mkdir()
    code.write_text(
        "import keras\n\n\n"
        "def build(*, vocab_size, length, num_classes, embedding_dim, units):\n"
        '    inputs = keras.Input((length,), dtype="int32")\n'
        "    x = keras.layers.Embedding(\n"
        '        vocab_size, embedding_dim, mask_zero=True, name="my_embedding"\n'
        "    )(inputs)\n"
        '    x = keras.layers.GlobalAveragePooling1D(name="my_pooling")(x)\n'
        '    x = keras.layers.Dense(units, activation="relu", name="my_hidden")(x)\n'
        '    outputs = keras.layers.Dense(num_classes, name="my_logits")(x)\n'
        '    return keras.Model(inputs, outputs, name="mine")\n'
    )
    # the preset names its builder relative to the folder it was written in, not this one
    preset = tiny_pipeline_toml(
        tmp_path / "mine.toml", sentiment_csv, sentiment_test_csv, model="mine.py:build"
    )
    monkeypatch.chdir(tmp_path)
    shown = invoke(runner, "show", preset, "--model-code", f"{code}:build")
    assert "my_embedding" in shown.output and "my_logits" in shown.output
    assert f"built from the preset by {code}:build" in shown.output
    assert "not trained" in shown.output
    # a zoo preset's model is not built by other code: that is --set train.model
    zoo = tiny_pipeline_toml(tmp_path / "zoo.toml", sentiment_csv, sentiment_test_csv)
    refused = runner.invoke(cli, ["show", str(zoo), "--model-code", f"{code}:build"])
    assert refused.exit_code == 2
    assert refused.output.splitlines()[-1] == (
        f"Error: --model-code {code}:build: the model of zoo is 'bag', not custom code; to show "
        f"another model, pass --set train.model={code}:build."
    )
    assert "my_embedding" not in refused.output
