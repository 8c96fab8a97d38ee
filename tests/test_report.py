"""``textpipe/report.py``: rows read from manifests, sorting, the best values, and the formats
(the command itself is tested in ``tests/cli/test_report.py``)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from textpipe.artifacts import Store
from textpipe.errors import ConfigError
from textpipe.report import (
    COLUMNS,
    ReportRow,
    best_values,
    collect_rows,
    format_value,
    macro_f1,
    sort_rows,
    to_csv,
    to_json,
    to_markdown,
)


def row(run: str, **values) -> ReportRow:
    return ReportRow(values={**dict.fromkeys(COLUMNS), "run": run, **values}, history=[])


ROWS = [
    row("a", model="bag", accuracy=0.8, loss=0.3, params=1234567),
    row("b", model="lstm", accuracy=None, loss=None),
    row("c", model="cnn", accuracy=0.9, loss=0.5, train_seconds=12.345),
]


def runs(rows: list[ReportRow]) -> list[str]:
    return [row.values["run"] for row in rows]


def test_collect_rows_reads_a_run_from_its_manifests(trained_run: Path) -> None:
    store = Store()
    (only,) = collect_rows(store)
    values = only.values
    assert values["run"] == "tiny" and values["model"] == "bag"
    assert values["length"] == 12 and values["epochs"] == 2 and values["split"] == "test"
    (evaluation,) = store.artifacts("evaluate")
    assert values["accuracy"] == evaluation.stats["accuracy"]
    assert values["macro_f1"] == pytest.approx(evaluation.stats["macro_f1"])
    assert [record["epoch"] for record in only.history] == [1, 2]
    assert only.label_names == ["neg", "pos"] and len(only.confusion_matrix) == 2
    assert collect_rows(store, ["tiny"]) == [only]
    assert collect_rows(store, [str(evaluation.path)]) == [only]


def test_macro_f1_is_the_field_or_the_mean_of_the_per_class_f1() -> None:
    per_class = {"neg": {"f1": 0.5}, "pos": {"f1": 1.0}}
    assert macro_f1({"macro_f1": 0.7, "per_class": per_class}) == 0.7
    assert macro_f1({"per_class": per_class}) == 0.75  # an evaluation older than the field
    assert macro_f1({}) is None


def test_sort_puts_the_best_first_and_missing_values_last() -> None:
    assert runs(sort_rows(ROWS, "accuracy")) == ["c", "a", "b"]
    assert runs(sort_rows(ROWS, "loss")) == ["a", "c", "b"]  # lower is better
    assert runs(sort_rows(ROWS, "run")) == ["a", "b", "c"]
    assert sort_rows(ROWS, None) == ROWS
    with pytest.raises(ConfigError, match=r"Cannot sort by 'speed'. Columns: run, model"):
        sort_rows(ROWS, "speed")


def test_best_values_are_highlighted_in_markdown() -> None:
    assert best_values(ROWS) == {"accuracy": 0.9, "loss": 0.3}
    lines = to_markdown(ROWS).splitlines()
    assert lines[0] == "| " + " | ".join(COLUMNS) + " |" and len(lines) == 2 + len(ROWS)
    cells = [line.split(" | ") for line in lines[2:]]
    accuracy, loss = COLUMNS.index("accuracy"), COLUMNS.index("loss")
    assert [row[accuracy] for row in cells] == ["0.8000", "", "**0.9000**"]
    assert [row[loss] for row in cells] == ["**0.3000**", "", "0.5000"]


def test_values_are_formatted_by_column() -> None:
    assert format_value("accuracy", 0.91236) == "0.9124"
    assert format_value("train_seconds", 12.345) == "12.3"
    assert format_value("params", 1234567) == "1,234,567"
    assert format_value("model", "bag") == "bag"
    assert format_value("accuracy", None) == ""


def test_csv_and_json_hold_every_column_unformatted() -> None:
    records = list(csv.DictReader(io.StringIO(to_csv(ROWS))))
    assert list(records[0]) == list(COLUMNS)
    assert records[0]["params"] == "1234567" and records[1]["accuracy"] == ""
    assert json.loads(to_json(ROWS)) == [row.values for row in ROWS]


def test_settings_show_a_learning_rate_decay_only_when_there_is_one() -> None:
    from textpipe.report import _settings

    constant = {"embedding_dim": 8, "units": 8, "learning_rate": 0.002, "batch_size": 32}
    assert "decay" not in _settings(constant)
    assert "lr decay 0.5/epoch" in _settings({**constant, "learning_rate_decay": 0.5})


def test_settings_show_a_weight_average_only_when_there_is_one() -> None:
    from textpipe.report import _settings

    plain = {"embedding_dim": 8, "units": 8, "learning_rate": 0.002, "batch_size": 32}
    assert "average" not in _settings({**plain, "ema_momentum": 0.0})
    assert "weight average 0.995" in _settings({**plain, "ema_momentum": 0.995})
