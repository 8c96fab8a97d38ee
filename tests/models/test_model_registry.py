"""The model registry: names, descriptions, hyperparameter checks and custom builder specs."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import pytest

from textpipe.errors import ConfigError
from textpipe.models import (
    DEFAULT_HYPERPARAMETERS,
    HYPERPARAMETER_NAMES,
    MODEL_NAMES,
    REQUIRED_HYPERPARAMETERS,
    build_model,
    get_builder,
    list_models,
    load_model,
    model_info,
)

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


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_builder_has_the_shared_keyword_only_signature(name):
    parameters = inspect.signature(get_builder(name)).parameters

    assert tuple(parameters) == HYPERPARAMETER_NAMES
    assert all(
        parameter.kind is inspect.Parameter.KEYWORD_ONLY for parameter in parameters.values()
    )
    defaults = {
        parameter.name: parameter.default
        for parameter in parameters.values()
        if parameter.default is not inspect.Parameter.empty
    }
    assert defaults == DEFAULT_HYPERPARAMETERS
    assert get_builder(name).__doc__


def test_unknown_model_lists_the_registered_ones():
    with pytest.raises(ConfigError) as raised:
        get_builder("lstn")

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
        build_model("lstm", **REQUIRED, pooling="median", dropout=1.0, units=0, bigrams="yes")

    message = str(raised.value)
    assert "pooling: expected one of last, mean, max, got 'median'" in message
    assert "dropout: expected a number in [0, 1), got 1.0" in message
    assert "units: expected a positive integer, got 0" in message
    assert "bigrams: expected true or false, got 'yes'" in message


@pytest.mark.parametrize(
    "bad",
    [
        {"merge_mode": "max"},
        {"units": True},
        {"units": 8.0},
        {"num_classes": 1},
        {"dropout": -0.1},
        {"use_cudnn": "yes"},
        {"use_cudnn": 1},
    ],
    ids=repr,
)
def test_invalid_value_raises_config_error(bad):
    with pytest.raises(ConfigError, match=f"{next(iter(bad))}: expected"):
        build_model("gru", **{**REQUIRED, **bad})


def test_builders_called_directly_validate_too():
    with pytest.raises(ConfigError, match="pooling: expected"):
        get_builder("bilstm")(**REQUIRED, pooling="first")


def test_unknown_hyperparameter_lists_the_accepted_ones():
    with pytest.raises(ConfigError) as raised:
        build_model("lstm", **REQUIRED, unit=8)

    message = str(raised.value)
    assert "Unknown hyperparameter 'unit' for model 'lstm'" in message
    assert f"Accepted hyperparameters: {', '.join(HYPERPARAMETER_NAMES)}." in message


def test_missing_required_hyperparameters_are_named():
    with pytest.raises(ConfigError) as raised:
        build_model("cnn", vocab_size=50)

    assert "length: required, missing" in str(raised.value)
    assert "num_classes: required, missing" in str(raised.value)
    assert set(REQUIRED_HYPERPARAMETERS) == set(REQUIRED)


def test_transformer_width_must_split_into_heads():
    with pytest.raises(ConfigError, match=r"embedding_dim \(10\) must be a multiple of num_heads"):
        build_model("transformer", **REQUIRED, embedding_dim=10, num_heads=4)


def test_custom_spec_with_a_missing_file():
    with pytest.raises(ConfigError, match=r"Model file 'no/such/file\.py' not found"):
        get_builder("no/such/file.py:build")


def test_custom_spec_with_a_missing_function_lists_the_functions(custom_cell_spec):
    path = custom_cell_spec.rpartition(":")[0]

    with pytest.raises(ConfigError) as raised:
        get_builder(f"{path}:buld")

    assert "Model builder 'buld' not found" in str(raised.value)
    assert "Functions there: build." in str(raised.value)


def test_custom_spec_with_a_missing_module():
    with pytest.raises(ConfigError, match=r"Model module 'textpipe\.no_such_module' not found"):
        get_builder("textpipe.no_such_module:build")


@pytest.mark.parametrize("spec", [":build", "file.py:", "file.py:not-a-name"])
def test_malformed_custom_spec(spec):
    with pytest.raises(ConfigError, match="Invalid model spec"):
        get_builder(spec)


def test_custom_spec_by_module_path():
    assert get_builder("textpipe.models.dense:build_mlp") is get_builder("mlp")


def test_custom_file_is_loaded_once(custom_cell_spec):
    first = get_builder(custom_cell_spec)

    assert get_builder(custom_cell_spec) is first
    assert first.__module__.startswith("textpipe_custom_model_custom_cell_")


def test_custom_file_that_fails_to_load(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("raise RuntimeError('no GPU here')\n")

    with pytest.raises(ConfigError, match="RuntimeError: no GPU here"):
        get_builder(f"{path}:build")


def test_custom_builder_without_kwargs_gets_only_what_it_accepts(tmp_path):
    path = tmp_path / "narrow.py"
    path.write_text(
        textwrap.dedent(
            """
            def build(*, vocab_size, length, num_classes, units=64):
                return {"vocab_size": vocab_size, "units": units}
            """
        )
    )
    spec = f"{path}:build"

    # Defaults of the shared hyperparameters it does not name are not passed.
    assert build_model(spec, **REQUIRED, units=8, dropout=0.0) == {"vocab_size": 50, "units": 8}
    with pytest.raises(ConfigError, match="does not accept dropout"):
        build_model(spec, **REQUIRED, dropout=0.5)


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
