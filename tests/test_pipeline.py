"""`run` through the library: caching, partial re-runs, dry runs, forcing, records."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import tiny_pipeline_toml
from textpipe.artifacts import Store
from textpipe.errors import ConfigError, InputError
from textpipe.pipeline import plan_pipeline, run_pipeline
from textpipe.presets import available_presets, load_config
from textpipe.runs import read_run_record


@pytest.fixture
def pipeline_file(tmp_path: Path, sentiment_csv: Path, sentiment_test_csv: Path) -> Path:
    return tiny_pipeline_toml(tmp_path / "tiny.toml", sentiment_csv, sentiment_test_csv)


def statuses(result) -> dict[str, str]:
    return {stage: outcome.status for stage, outcome in result.outcomes.items()}


def test_second_run_is_entirely_cached_and_a_set_change_reruns_from_that_stage(
    pipeline_file: Path,
) -> None:
    store = Store()
    first = run_pipeline(load_config(str(pipeline_file)), store)
    assert set(statuses(first).values()) == {"built"}
    assert first.metrics["examples"] == 24
    second = run_pipeline(load_config(str(pipeline_file)), store)
    assert set(statuses(second).values()) == {"cached"}
    changed = run_pipeline(load_config(str(pipeline_file), ["vocab.size=30"]), store)
    assert statuses(changed) == {
        "download": "cached",
        "normalize": "cached",
        "vocab": "built",
        "encode": "built",
        "train": "built",
        "evaluate": "built",
    }
    record = read_run_record(store, "tiny")
    assert record["stages"]["vocab"]["params"]["size"] == 30


def test_dry_run_says_what_would_run_and_why(pipeline_file: Path) -> None:
    store = Store()
    plans = plan_pipeline(load_config(str(pipeline_file)), store)
    assert [plan.reason for plan in plans][:2] == ["not built yet", "an input will be rebuilt"]
    run_pipeline(load_config(str(pipeline_file)), store)
    plans = {
        plan.stage: plan
        for plan in plan_pipeline(load_config(str(pipeline_file), ["train.epochs=3"]), store)
    }
    assert plans["encode"].cached and plans["encode"].reason == "cached"
    assert not plans["train"].cached and plans["train"].reason == "train.epochs 2 -> 3"
    assert plans["evaluate"].reason == "input model changed"
    assert len(list((store.root / "train").glob("*"))) == 1  # a dry run builds nothing


def test_force_and_until(pipeline_file: Path) -> None:
    store = Store()
    partial = run_pipeline(load_config(str(pipeline_file)), store, until="vocab")
    assert list(partial.outcomes) == ["download", "normalize", "vocab"]
    forced = run_pipeline(load_config(str(pipeline_file)), store, force="vocab", until="encode")
    assert statuses(forced) == {
        "download": "cached",
        "normalize": "cached",
        "vocab": "built",
        "encode": "built",
    }


def test_an_evaluation_split_the_data_lacks_is_refused_before_training(
    pipeline_file: Path,
) -> None:
    store = Store()
    no_validation = ["download.validation_size=0", "evaluate.split=validation"]
    with pytest.raises(InputError, match=r"evaluate.split='validation'.*splits train, test"):
        run_pipeline(load_config(str(pipeline_file), no_validation), store)
    assert not (store.root / "normalize").exists() and not (store.root / "train").exists()
    partial = run_pipeline(load_config(str(pipeline_file), no_validation), store, until="vocab")
    assert list(partial.outcomes) == ["download", "normalize", "vocab"]  # no evaluation planned


def test_bundled_presets_are_valid_and_unknown_ones_suggest_a_name() -> None:
    presets = available_presets()
    assert {
        "imdb-mlp",
        "imdb-lstm",
        "imdb-bilstm",
        "imdb-mlp-classic",
        "imdb-lstm-classic",
        "imdb-bilstm-classic",
    } <= set(presets)
    # Each preset's vocabulary and length were chosen on validation; what they share is the
    # download and the normalized text (and the recurrent ones their encode settings).
    shared = {
        (load_config(name).download, load_config(name).normalize, load_config(name).encode)
        for name in ("imdb-lstm", "imdb-bilstm")
    }
    assert len(shared) == 1, "the recurrent IMDB presets must share download, normalize, encode"
    prefix_stages = {
        (load_config(name).download, load_config(name).normalize)
        for name in ("imdb-mlp", "imdb-lstm", "imdb-bilstm", "imdb-ngram")
    }
    assert len(prefix_stages) == 1, "the IMDB presets must share download and normalize"
    classic = load_config("imdb-lstm-classic")
    assert (classic.vocab.size, classic.encode.length, classic.train.batch_size) == (1024, 64, 64)
    assert (classic.train.learning_rate, classic.train.epochs) == (1e-4, 10)
    with pytest.raises(ConfigError, match=r"Unknown preset 'imdb-lstn'\. Did you mean 'imdb-lstm'"):
        load_config("imdb-lstn")
