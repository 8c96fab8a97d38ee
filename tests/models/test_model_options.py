"""Which model options each model uses: declared, selected, refused, read from custom builders."""

from __future__ import annotations

import importlib
import inspect
import re
import textwrap

import pytest

from textpipe.config import MODEL_OPTION_NAMES, TrainParams
from textpipe.errors import ConfigError
from textpipe.models import MODEL_NAMES, build_model, model_options, select_model_options
from textpipe.models.custom import model_fingerprint, resolve_custom_spec
from textpipe.models.registry import _REGISTRY

SIZES = {"vocab_size": 50, "length": 16, "num_classes": 2}
ALL_DEFAULTS = TrainParams().model_options()
RECURRENT = (
    "embedding_dim",
    "units",
    "num_layers",
    "dropout",
    "embedding_dropout",
    "pooling",
    "mixed_precision",
)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_options_read_from_the_source_are_the_builders_real_signature(name):
    # The registry reads a builder's options from its source with ast; the imported function
    # must agree, take its arguments by keyword and have no defaults (the schema has them).
    registration = _REGISTRY[name]
    builder = getattr(importlib.import_module(registration.module), registration.function)
    parameters = inspect.signature(builder).parameters

    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())
    assert all(p.default is inspect.Parameter.empty for p in parameters.values())
    assert set(parameters) == {*SIZES, *model_options(name), *registration.fixed}
    assert not set(model_options(name)) & set(registration.fixed)
    signature_options = [n for n in parameters if n in MODEL_OPTION_NAMES]
    assert model_options(name) == tuple(n for n in signature_options if n not in registration.fixed)
    assert builder.__doc__


def test_options_per_family():
    assert model_options("lstm") == model_options("gru") == RECURRENT
    assert (
        model_options("bilstm")
        == model_options("bigru")
        == (*RECURRENT[:6], "merge_mode", RECURRENT[6])
    )
    assert "kernel_size" in model_options("cnn")
    assert "num_heads" in model_options("transformer")
    assert {"bigrams", "bigram_buckets"} <= set(model_options("bag"))
    assert {"ngram_order", "ngram_buckets", "ngram_hidden"} <= set(model_options("ngram"))


def test_an_unused_option_that_is_set_is_refused_naming_the_parameter():
    with pytest.raises(ConfigError) as raised:
        select_model_options("lstm", {**ALL_DEFAULTS, "kernel_size": 3})

    assert str(raised.value) == (
        f"train.kernel_size=3: model 'lstm' does not use it (its options: {', '.join(RECURRENT)})."
    )


def test_every_unused_option_that_is_set_is_reported_at_once():
    options = {**ALL_DEFAULTS, "kernel_size": 3, "merge_mode": "sum", "bigrams": True}

    with pytest.raises(ConfigError) as raised:
        select_model_options("gru", options)

    lines = str(raised.value).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        'train.merge_mode="sum"',
        "train.bigrams=true",
        "train.kernel_size=3",
    ]


def test_unused_options_at_their_default_are_dropped():
    selected = select_model_options("cnn", {**ALL_DEFAULTS, "units": 8})

    assert selected == {
        "embedding_dim": 64,
        "units": 8,
        "dropout": 0.0,
        "kernel_size": 5,
        "mixed_precision": False,
    }


def test_an_unused_default_does_not_change_the_selection():
    # Two configurations differing only in an option lstm does not use, left at its default,
    # select the same options, so the train stage keys them alike.
    given = {name: value for name, value in ALL_DEFAULTS.items() if name != "kernel_size"}

    assert select_model_options("lstm", ALL_DEFAULTS) == select_model_options("lstm", given)
    assert "kernel_size" not in select_model_options("lstm", ALL_DEFAULTS)


def test_a_boolean_is_not_its_integer_default():
    with pytest.raises(ConfigError, match=r"train\.bigrams=0"):
        select_model_options("lstm", {"bigrams": 0})


def test_build_model_refuses_an_unused_option_as_select_does():
    with pytest.raises(ConfigError, match=r"^train.num_heads=4: model 'cnn' does not use it"):
        build_model("cnn", **SIZES, num_heads=4)
    # At its default it changes nothing, so it is accepted.
    assert build_model("cnn", **SIZES, num_heads=2, embedding_dim=4, units=4).name == "cnn"


def _write(path, source):
    path.write_text(textwrap.dedent(source))
    return path


def test_custom_builder_options_come_from_its_signature_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = _write(
        tmp_path / "narrow.py",
        f"""
        from pathlib import Path
        Path({str(marker)!r}).write_text("executed")
        raise RuntimeError("this file must not run to be read")

        def build(*, vocab_size, length, num_classes, units, dropout=0.0, not_an_option=1):
            pass
        """,
    )
    spec = f"{path}:build"

    assert model_options(spec) == ("units", "dropout")
    assert select_model_options(spec, ALL_DEFAULTS) == {"units": 64, "dropout": 0.0}
    with pytest.raises(
        ConfigError, match=r"train.kernel_size=3: model .* \(its options: units, dropout\)"
    ):
        select_model_options(spec, {**ALL_DEFAULTS, "kernel_size": 3})
    assert model_fingerprint(spec)[0] == "custom:narrow.py:build"
    assert not marker.exists()


def test_custom_builder_gets_exactly_what_its_signature_asks_for(tmp_path):
    path = _write(
        tmp_path / "narrow_builder.py",
        """
        def build(*, vocab_size, length, num_classes, units):
            return {"vocab_size": vocab_size, "length": length, "units": units}
        """,
    )

    built = build_model(f"{path}:build", **SIZES, units=8, dropout=0.0)

    assert built == {"vocab_size": 50, "length": 16, "units": 8}


def test_custom_builder_with_kwargs_gets_every_option(tmp_path):
    path = _write(
        tmp_path / "wide_builder.py",
        """
        def build(*, vocab_size, length, num_classes, **options):
            return options
        """,
    )
    spec = f"{path}:build"

    assert model_options(spec) == MODEL_OPTION_NAMES
    assert build_model(spec, **SIZES, kernel_size=3) == {**ALL_DEFAULTS, "kernel_size": 3}


def test_custom_builder_without_the_size_arguments_is_one_error_before_any_work(tmp_path):
    path = _write(
        tmp_path / "sizeless.py",
        """
        def build(*, vocab_size, units):
            raise AssertionError("must not be called")
        """,
    )
    spec = f"{path}:build"

    message = (
        r"must take the keyword arguments vocab_size, length, num_classes .*"
        r"lacks length, num_classes"
    )
    with pytest.raises(ConfigError, match=message):
        model_options(spec)
    with pytest.raises(ConfigError, match=message):
        build_model(spec, **SIZES, units=8)


def test_custom_function_not_found_statically_takes_every_option(tmp_path):
    path = _write(tmp_path / "factory.py", "build = make_builder()\n")

    assert model_options(f"{path}:build") == MODEL_OPTION_NAMES


def test_custom_module_builder_options():
    assert model_options("textpipe.models.dense:build_mlp") == model_options("mlp")


def test_custom_file_that_is_not_python(tmp_path):
    path = _write(tmp_path / "broken.py", "def build(:\n")

    with pytest.raises(ConfigError, match="is not valid Python"):
        model_options(f"{path}:build")


def test_missing_custom_file_has_one_error_text():
    message = "Model file 'no/such.py' not found (model spec 'no/such.py:build')"
    for check in (model_options, model_fingerprint, lambda spec: build_model(spec, **SIZES)):
        with pytest.raises(ConfigError, match=re.escape(message)):
            check("no/such.py:build")


def test_fingerprint_and_resolved_spec(tmp_path, monkeypatch):
    path = _write(tmp_path / "mine.py", "def build(*, vocab_size, length, num_classes): pass\n")
    monkeypatch.chdir(tmp_path)

    keyed, digest = model_fingerprint("mine.py:build")

    assert keyed == "custom:mine.py:build"
    assert digest is not None and digest.startswith("sha256:")
    assert resolve_custom_spec("mine.py:build") == f"{path}:build"
    assert resolve_custom_spec("lstm") == "lstm"
    assert model_fingerprint("lstm") == ("lstm", None)
    path.write_text(path.read_text() + "# edited\n")
    assert model_fingerprint("mine.py:build")[1] != digest


@pytest.mark.parametrize(("name", "bidirectional"), [("gru", False), ("bilstm", True)])
def test_one_recurrent_builder_makes_each_registered_model(name, bidirectional):
    import keras

    model = build_model(name, **SIZES, embedding_dim=4, units=4)

    assert model.name == name
    wrapped = [layer for layer in model.layers if isinstance(layer, keras.layers.Bidirectional)]
    assert bool(wrapped) is bidirectional


def test_ngram_uses_its_hidden_layer_options_only_with_the_hidden_layer() -> None:
    from textpipe.config import TrainParams

    plain = select_model_options("ngram", TrainParams(model="ngram").model_options())
    assert "units" not in plain and "embedding_dim" not in plain and "dropout" in plain
    with pytest.raises(ConfigError, match=r"train\.units=8: model 'ngram' uses it only with"):
        select_model_options("ngram", TrainParams(model="ngram", units=8).model_options())
    hidden = TrainParams(model="ngram", units=8, ngram_hidden=True).model_options()
    assert select_model_options("ngram", hidden)["units"] == 8
