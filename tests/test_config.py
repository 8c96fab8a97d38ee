"""Typed, validated parameters and pipeline files."""

from __future__ import annotations

from pathlib import Path

import pytest

from textpipe.config import (
    EncodeParams,
    EvaluateParams,
    TrainParams,
    VocabParams,
    load_pipeline_file,
    parse_override_value,
    parse_pipeline,
)
from textpipe.errors import ConfigError


def test_defaults_are_valid_and_bad_values_rejected() -> None:
    assert VocabParams().size == 20000
    with pytest.raises(
        ConfigError, match=r"\[vocab.size\] expected a positive integer at most \d+, got 0"
    ):
        VocabParams(size=0)
    with pytest.raises(ConfigError, match="one of post, pre"):
        EncodeParams(padding="middle")
    with pytest.raises(
        ConfigError, match=r"\[train.epochs\] expected a positive integer, got True"
    ):
        TrainParams(epochs=True)


def test_every_error_is_reported_at_once_with_its_location(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        'description = "x"\n'
        '[download]\nsource = "a.csv"\n'
        '[vocab]\nsize = "big"\nmin_frequency = 0\n'
        '[train]\nepochs = "ten"\nmodell = "lstm"\n'
        "[tarin]\nepochs = 3\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_pipeline_file(path)
    lines = str(raised.value).splitlines()
    assert f"{path}: [train.epochs] expected a positive integer, got 'ten'." in lines
    assert any("[vocab.size] expected a positive integer at most" in line for line in lines)
    assert any("[vocab.min_frequency]" in line for line in lines)
    assert any("[train.modell] unknown key. Valid keys:" in line for line in lines)
    assert any("[tarin] unknown section" in line for line in lines)
    assert len(lines) == 5


def test_overrides_go_through_the_same_validation() -> None:
    data = {"download": {"source": "x.csv"}}
    config = parse_pipeline(
        data, name="t", location="t.toml", overrides=["train.epochs=5", "encode.padding=pre"]
    )
    assert config.train.epochs == 5 and config.encode.padding == "pre"
    with pytest.raises(
        ConfigError, match=r"\[train.epochs\] expected a positive integer, got 'many'"
    ):
        parse_pipeline(data, name="t", location="t.toml", overrides=["train.epochs=many"])
    with pytest.raises(ConfigError, match=r"expected STAGE\.KEY=VALUE"):
        parse_pipeline(data, name="t", location="t.toml", overrides=["epochs"])
    with pytest.raises(ConfigError, match="unknown stage 'trian'"):
        parse_pipeline(data, name="t", location="t.toml", overrides=["trian.epochs=1"])


def test_an_override_of_the_same_key_twice_is_refused() -> None:
    data = {"download": {"source": "x.csv"}}
    with pytest.raises(ConfigError) as raised:
        parse_pipeline(
            data, name="t", location="t.toml", overrides=["train.epochs=1", "train.epochs=2"]
        )
    assert str(raised.value) == (
        "--set train.epochs=2: train.epochs is also given by --set train.epochs=1; give it once."
    )
    # different keys of the same stage, or the same key of another stage, are fine
    config = parse_pipeline(
        data, name="t", location="t.toml", overrides=["train.seed=1", "download.seed=2"]
    )
    assert (config.train.seed, config.download.seed) == (1, 2)


def test_the_learning_rate_must_be_positive() -> None:
    assert TrainParams(learning_rate=1e-6).learning_rate == 1e-6
    for rate in (0, 0.0, -0.1):
        with pytest.raises(
            ConfigError,
            match=r"\[train.learning_rate\] expected a positive number at most 10, got",
        ):
            TrainParams(learning_rate=rate)


def test_an_exclusive_minimum_other_than_zero_is_described() -> None:
    from textpipe.config import describe_value

    assert describe_value(float, {"above": 0.5, "maximum": 2}) == "a number above 0.5 at most 2"
    assert describe_value(int, {"above": 0}) == "a positive integer"


def test_missing_required_source_is_reported() -> None:
    with pytest.raises(ConfigError, match=r"\[download.source\] is required"):
        parse_pipeline({}, name="t", location="t.toml")


def test_override_values_parse_as_toml_literals() -> None:
    assert parse_override_value("3") == 3
    assert parse_override_value("0.5") == 0.5
    assert parse_override_value("true") is True
    assert parse_override_value("lstm") == "lstm"
    assert parse_override_value('"3"') == "3"


def test_runtime_only_parameters_stay_out_of_the_key() -> None:
    assert "jit_compile" not in TrainParams().key_params()
    assert "epochs" in TrainParams().key_params()
    assert "batch_size" not in EvaluateParams().key_params()


def test_train_key_holds_only_the_options_the_model_uses() -> None:
    from textpipe.stages.train import STAGE

    def keyed(**values: object) -> dict:
        return dict(STAGE.identity(TrainParams(**values), {"encoded": "0" * 64}).params)

    lstm = keyed(model="lstm")
    assert "kernel_size" not in lstm and "ngram_buckets" not in lstm
    assert lstm["units"] == 64 and lstm["epochs"] == 3
    assert "jit_compile" not in lstm
    # an unused option at its default changes nothing, not even the key
    assert keyed(model="lstm", kernel_size=5) == lstm
    ngram = keyed(model="ngram", ngram_buckets=2**24)
    assert ngram["ngram_buckets"] == 2**24 and "pooling" not in ngram


def test_an_override_is_checked_as_the_stage_commands_check_it() -> None:
    # one check (config.check_override) for `run --set` and the stage commands' --set:
    # a quoted "none" is the string, not "unset", and is named by the override that gave it
    with pytest.raises(ConfigError) as raised:
        parse_pipeline(
            {"download": {"source": "x.csv"}},
            name="t",
            location="t.toml",
            overrides=['download.limit="none"'],
        )
    assert str(raised.value) == (
        "--set download.limit=\"none\": [download.limit] expected a positive integer, got 'none'."
    )
    config = parse_pipeline(
        {"download": {"source": "x.csv", "limit": 3}},
        name="t",
        location="t.toml",
        overrides=["download.limit=none"],
    )
    assert config.download.limit is None
