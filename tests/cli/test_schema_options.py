"""Stage commands' options generated from the parameter schema: defaults, --set, none."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from textpipe.cli.main import cli
from textpipe.config import PARAMS_BY_STAGE, TrainParams, VocabParams


@pytest.mark.parametrize("stage", list(PARAMS_BY_STAGE))
def test_every_parameter_is_an_option_with_its_schema_default(stage: str) -> None:
    command = cli.get_command(click.Context(cli), stage)
    by_name = {parameter.name: parameter for parameter in command.params}
    for item in dataclasses.fields(PARAMS_BY_STAGE[stage]):
        assert item.name in by_name, f"{stage}: no option for {item.name}"
        if item.default not in (dataclasses.MISSING, None):
            if isinstance(item.default, bool):
                shown = "on" if item.default else "off"
            else:
                shown = str(item.default)
            assert f"[default: {shown}]" in (by_name[item.name].help or "")
    assert "overrides" in by_name  # --set


def test_help_shows_the_real_default_and_which_models_use_an_option() -> None:
    vocab_help = CliRunner().invoke(cli, ["vocab", "--help"]).output
    assert f"[default: {VocabParams().size}]" in vocab_help
    train_help = " ".join(CliRunner().invoke(cli, ["train", "--help"]).output.split())
    assert "Convolution width. Models: cnn." in train_help
    assert f"[default: {TrainParams().kernel_size}]" in train_help


def _params(stage: str, *args: str):
    """The parameters a stage command builds from its arguments (the stage itself not run)."""
    from textpipe.cli.common import params_from_cli

    command = cli.get_command(click.Context(cli), stage)
    context = command.make_context(stage, ["IN", *args] if stage != "download" else list(args))
    values = {
        name: value
        for name, value in context.params.items()
        if name in {item.name for item in dataclasses.fields(PARAMS_BY_STAGE[stage])}
    }
    return params_from_cli(PARAMS_BY_STAGE[stage], values, context.params["overrides"])


def test_set_takes_any_parameter_with_or_without_the_stage_prefix() -> None:
    assert _params("vocab", "--set", "size=300").size == 300
    assert _params("vocab", "--set", "vocab.min_frequency=2").min_frequency == 2
    trained = _params("train", "--set", "pooling=max", "--units", "16")
    assert (trained.pooling, trained.units) == ("max", 16)


def test_none_unsets_an_optional_parameter() -> None:
    assert _params("train", "--early-stopping", "2").early_stopping == 2
    assert _params("train", "--early-stopping", "none").early_stopping is None
    assert _params("train", "--set", "early_stopping=none").early_stopping is None
    assert _params("download", "data.csv", "--limit", "none").limit is None


def test_bad_set_values_are_one_clear_line(tmp_path: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(cli, ["vocab", str(tmp_path), "--set", "sise=3"])
    assert unknown.exit_code == 2 and "unknown vocab parameter 'sise'" in unknown.output
    twice = runner.invoke(cli, ["vocab", str(tmp_path), "--size", "3", "--set", "size=4"])
    assert twice.exit_code == 2 and "give it once" in twice.output
    bad = runner.invoke(cli, ["vocab", str(tmp_path), "--set", "size=0"])
    assert bad.exit_code == 2
    assert "Error: --set size=0: expected a positive integer at most" in bad.output
    assert "Traceback" not in unknown.output + twice.output + bad.output


def test_a_bad_set_value_names_the_override_as_typed(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(cli, ["download", "data.csv", "--set", "validation_size=abc"])
    assert bad.exit_code == 2
    assert bad.output.strip() == (
        "Error: --set validation_size=abc: expected a non-negative number below 1, got 'abc'."
    )
    prefixed = runner.invoke(cli, ["vocab", str(tmp_path), "--set", "vocab.size=0"])
    assert prefixed.exit_code == 2
    assert "Error: --set vocab.size=0: expected a positive integer" in prefixed.output
    # an option's own bad value is still named by the option, beside the override's
    both = runner.invoke(
        cli, ["download", "data.csv", "--limit", "0", "--set", "validation_size=2"]
    )
    assert both.exit_code == 2
    assert both.output.splitlines() == [
        "Error: --set validation_size=2: expected a non-negative number below 1, got 2.",
        "--limit: expected a positive integer, got 0.",
    ]


def test_the_same_key_set_twice_is_refused(tmp_path: Path) -> None:
    twice = CliRunner().invoke(
        cli, ["vocab", str(tmp_path), "--set", "size=3", "--set", "vocab.size=4"]
    )
    assert twice.exit_code == 2
    assert twice.output.strip() == (
        "Error: --set vocab.size=4: size is also given by --set size=3; give it once."
    )


def test_download_help_shows_file_for_the_test_file() -> None:
    download_help = CliRunner().invoke(cli, ["download", "--help"]).output
    assert "--test FILE" in download_help and "--test TEXT" not in download_help


def test_an_option_the_model_does_not_use_is_refused_before_any_work(encoded_artifact) -> None:
    from textpipe.artifacts import Store

    result = CliRunner().invoke(
        cli, ["train", str(encoded_artifact.path), "--model", "lstm", "--kernel-size", "3"]
    )
    assert result.exit_code == 2
    assert not (Store().root / "train").exists()
    # the stage command names its own option
    assert "Error: --kernel-size=3: model 'lstm' does not use it" in result.output
