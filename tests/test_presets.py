"""Presets by name, pipeline files by path, and the run names their records are kept under."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import tiny_pipeline_toml
from textpipe.artifacts import Store
from textpipe.errors import ConfigError
from textpipe.pipeline import run_pipeline
from textpipe.presets import available_presets, load_config, run_name_for


def test_a_preset_by_name_or_by_its_own_path_is_recorded_under_its_name() -> None:
    path = available_presets()["imdb-lstm"]
    assert load_config("imdb-lstm").name == "imdb-lstm"
    assert load_config(str(path)).name == "imdb-lstm"


def test_a_file_named_like_a_preset_gets_a_run_name_of_its_own(tmp_path: Path) -> None:
    mine = tmp_path / "exp" / "imdb-lstm.toml"
    mine.parent.mkdir()
    mine.write_text(available_presets()["imdb-lstm"].read_text())
    name = load_config(str(mine)).name
    assert name != "imdb-lstm" and name.startswith("imdb-lstm-")
    assert name == run_name_for(mine)  # the same file, the same name


def test_two_files_with_one_stem_never_share_a_record(
    tmp_path: Path, sentiment_csv: Path, sentiment_test_csv: Path
) -> None:
    store = Store()
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    first = tiny_pipeline_toml(tmp_path / "a" / "tiny.toml", sentiment_csv, sentiment_test_csv)
    second = tiny_pipeline_toml(tmp_path / "b" / "tiny.toml", sentiment_csv, sentiment_test_csv)
    config = load_config(str(first), ["train.epochs=1"], store)
    assert config.name == "tiny"  # a stem no preset and no other file's run uses
    run_pipeline(config, store, until="download")
    assert load_config(str(first), (), store).name == "tiny"  # still the same run
    other = load_config(str(second), (), store).name
    assert other.startswith("tiny-")
    run_pipeline(load_config(str(second), (), store), store, until="download")
    assert sorted(store.run_names()) == sorted(["tiny", other])


def test_unknown_preset_suggests_the_closest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Did you mean 'imdb-lstm'"):
        load_config("imdb-lstn")
    with pytest.raises(ConfigError, match="no such pipeline file"):
        load_config(str(tmp_path / "missing.toml"))


def test_commands_that_take_a_run_take_its_pipeline_file(trained_run: Path) -> None:
    from click.testing import CliRunner

    from textpipe.cli.main import cli

    runner = CliRunner()
    by_file = runner.invoke(cli, ["report", str(trained_run), "--format", "json"])
    by_name = runner.invoke(cli, ["report", "tiny", "--format", "json"])
    assert by_file.exit_code == 0 and by_file.output == by_name.output
    predicted = runner.invoke(cli, ["predict", str(trained_run), "a wonderful superb film"])
    assert predicted.exit_code == 0 and "pos" in predicted.output


def test_a_preset_that_takes_a_files_run_name_starts_a_record_of_its_own(
    tmp_path: Path, sentiment_csv: Path, sentiment_test_csv: Path, monkeypatch
) -> None:
    store = Store()
    mine = tiny_pipeline_toml(tmp_path / "bar.toml", sentiment_csv, sentiment_test_csv)
    run_pipeline(load_config(str(mine), (), store), store, until="normalize")
    assert store.run_names() == ["bar"]
    presets = tmp_path / "presets"
    presets.mkdir()
    tiny_pipeline_toml(presets / "bar.toml", sentiment_csv, sentiment_test_csv)
    monkeypatch.setenv("TEXTPIPE_PIPELINES", str(presets))
    run_pipeline(load_config("bar", (), store), store, until="download")
    record = store.read_run_record("bar")
    assert set(record["stages"]) == {"download"}  # not merged with the file's normalize
    assert load_config(str(mine), (), store).name.startswith("bar-")
