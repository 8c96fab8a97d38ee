"""The model registry: names, descriptions, checks of sizes and options, custom builder specs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from textpipe.config import MODEL_OPTION_NAMES
from textpipe.errors import ConfigError
from textpipe.models import MODEL_NAMES, build_model, list_models, load_model, model_info
from textpipe.models.custom import load_builder

REQUIRED = {"vocab_size": 50, "length": 16, "num_classes": 2}


def test_importing_the_registry_does_not_import_keras():
    code = (
        "import sys, textpipe.models; "
        "textpipe.models.list_models(); textpipe.models.model_info('lstm'); "
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules"
    )

    subprocess.run([sys.executable, "-c", code], check=True)


def test_list_models_describes_every_registered_model():
    models = {info.name: info for info in list_models()}

    assert tuple(models) == MODEL_NAMES
    assert all(info.description for info in models.values())
    assert not models["mlp"].masked
    assert all(models[name].masked for name in MODEL_NAMES if name != "mlp")
    recurrent = {name for name, info in models.items() if info.recurrent}
    assert recurrent == {"lstm", "bilstm", "gru", "bigru"}


def test_unknown_model_lists_the_registered_ones():
    with pytest.raises(ConfigError) as raised:
        model_info("lstn")

    message = str(raised.value)
    assert message.startswith("Unknown model 'lstn'.")
    assert "Did you mean 'lstm'?" in message
    assert f"Available models: {', '.join(MODEL_NAMES)}." in message
    assert "path/to/file.py:function" in message


def test_unknown_model_is_reported_by_model_info_and_build_model():
    with pytest.raises(ConfigError, match="Unknown model 'nope'"):
        model_info("nope")
    with pytest.raises(ConfigError, match="Unknown model 'nope'"):
        build_model("nope", **REQUIRED)


def test_invalid_values_are_all_reported_at_once():
    with pytest.raises(ConfigError) as raised:
        build_model(
            "lstm",
            vocab_size=50,
            length=16,
            num_classes=2,
            pooling="median",
            dropout=1.0,
            units=0,
            bigrams="yes",
        )

    lines = str(raised.value).splitlines()
    assert (
        "Invalid pooling for model 'lstm': expected one of last, mean, max, mean-max, "
        "got 'median'." in lines
    )
    assert (
        "Invalid dropout for model 'lstm': expected a non-negative number below 1, got 1.0."
        in lines
    )
    assert "Invalid units for model 'lstm': expected a positive integer, got 0." in lines
    assert "Invalid bigrams for model 'lstm': expected true or false, got 'yes'." in lines


@pytest.mark.parametrize(
    "bad",
    [
        {"merge_mode": "max"},
        {"units": True},
        {"units": 8.0},
        {"num_classes": 1},
        {"vocab_size": 0},
        {"length": "16"},
        {"dropout": -0.1},
    ],
    ids=repr,
)
def test_invalid_value_raises_config_error(bad):
    with pytest.raises(ConfigError, match=f"Invalid {next(iter(bad))} for model 'bigru': expected"):
        build_model("bigru", **{**REQUIRED, **bad})


def test_unknown_option_lists_the_model_options():
    with pytest.raises(ConfigError) as raised:
        build_model("lstm", **REQUIRED, unit=8)

    message = str(raised.value)
    assert "Unknown model option 'unit' for model 'lstm'" in message
    assert f"Model options: {', '.join(MODEL_OPTION_NAMES)}." in message


def test_sizes_are_required():
    with pytest.raises(TypeError, match="length"):
        build_model("cnn", vocab_size=50, num_classes=2)


def test_transformer_width_must_split_into_heads():
    with pytest.raises(ConfigError, match=r"embedding_dim \(10\) must be a multiple of num_heads"):
        build_model("transformer", **REQUIRED, embedding_dim=10, num_heads=4)


def test_custom_spec_with_a_missing_file():
    with pytest.raises(ConfigError, match=r"Model file 'no/such/file\.py' not found"):
        load_builder("no/such/file.py:build")


def test_custom_spec_with_a_missing_function_lists_the_functions(custom_cell_spec):
    path = custom_cell_spec.rpartition(":")[0]

    with pytest.raises(ConfigError) as raised:
        load_builder(f"{path}:buld")

    assert "Model builder 'buld' not found" in str(raised.value)
    assert "Functions there: build." in str(raised.value)


def test_custom_spec_with_a_missing_module():
    with pytest.raises(ConfigError, match=r"Model module 'textpipe\.no_such_module' not found"):
        load_builder("textpipe.no_such_module:build")


@pytest.mark.parametrize("spec", [":build", "file.py:", "file.py:not-a-name"])
def test_malformed_custom_spec(spec):
    with pytest.raises(ConfigError, match="Invalid model spec"):
        load_builder(spec)


def test_custom_spec_by_module_path():
    from textpipe.models.dense import build_mlp

    assert load_builder("textpipe.models.dense:build_mlp") is build_mlp


def test_custom_file_is_loaded_once(custom_cell_spec):
    first = load_builder(custom_cell_spec)

    assert load_builder(custom_cell_spec) is first
    assert first.__module__.startswith("textpipe_custom_model_custom_cell_")


def test_custom_file_that_fails_to_load(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('no GPU here')\n")

    with pytest.raises(ConfigError, match="RuntimeError: no GPU here"):
        load_builder(f"{path}:build")


def test_model_info_of_a_custom_builder(custom_cell_spec):
    info = model_info(custom_cell_spec)

    assert info.name == custom_cell_spec
    assert info.description.startswith("custom builder from ")
    assert info.masked and not info.recurrent


def test_load_model_registers_the_custom_builder_layers(custom_cell_spec, tmp_path):
    import keras

    model = build_model(custom_cell_spec, **REQUIRED, units=4, embedding_dim=4)
    path = tmp_path / "m.keras"
    model.save(path)

    loaded = load_model(path, spec=custom_cell_spec)

    assert isinstance(loaded.get_layer("minimal_rnn"), keras.layers.RNN)
