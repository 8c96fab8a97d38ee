"""``predict --input FILE -o OUT``: batch prediction on files, streamed and written atomically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from tests.conftest import sentiment_rows, tiny_pipeline_toml, write_csv
from textpipe.artifacts import Store
from textpipe.cli.main import cli
from textpipe.errors import InputError
from textpipe.predict import load_predictor, predict_file


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """A tiny trained run in a store of its own (shared by this module's read-only tests)."""
    from textpipe.pipeline import run_pipeline
    from textpipe.presets import load_config

    folder = tmp_path_factory.mktemp("predict-file")
    train_csv = write_csv(folder / "train.csv", sentiment_rows(64))
    test_csv = write_csv(folder / "test.csv", sentiment_rows(24, seed=1))
    preset = tiny_pipeline_toml(folder / "tiny.toml", train_csv, test_csv)
    store = Store(folder / "store")
    run_pipeline(load_config(str(preset)), store)
    return store, load_predictor("tiny", store)


def texts(count: int) -> list[str]:
    return [text for text, _ in sentiment_rows(count, seed=7)]


def test_every_format_gives_the_same_predictions_as_predict(trained, tmp_path: Path) -> None:
    _, predictor = trained
    rows = texts(50)
    expected = predictor.class_probabilities(rows)
    inputs = {
        ".csv": write_csv(tmp_path / "in.csv", [(text, "x") for text in rows], ("review", "y")),
        ".parquet": tmp_path / "in.parquet",
        ".jsonl": tmp_path / "in.jsonl",
    }
    pq.write_table(pa.table({"text": rows}), inputs[".parquet"])
    inputs[".jsonl"].write_text("".join(json.dumps({"text": text}) + "\n" for text in rows))
    for suffix, source in inputs.items():
        for output_suffix in (".parquet", ".csv", ".jsonl"):
            output = tmp_path / f"out{suffix}{output_suffix}"
            written = predict_file(predictor, source=source, output=output, batch_size=16)
            assert written.rows == 50
            if output_suffix == ".parquet":
                table = pq.read_table(output).to_pydict()
            elif output_suffix == ".csv":
                import pyarrow.csv as pcsv

                table = pcsv.read_csv(output).to_pydict()
            else:
                records = [json.loads(line) for line in output.read_text().splitlines()]
                table = {name: [record[name] for record in records] for name in records[0]}
            got = np.stack([table[f"probability_{name}"] for name in predictor.label_names], axis=1)
            np.testing.assert_allclose(got, expected, atol=1e-5)
            assert table["label"] == [
                predictor.label_names[index] for index in expected.argmax(axis=1)
            ]
            assert sum(written.label_counts.values()) == 50


def test_download_artifact_split_as_input(trained, tmp_path: Path) -> None:
    store, predictor = trained
    (download_dir,) = (store.root / "download").iterdir()
    written = predict_file(
        predictor, source=download_dir, output=tmp_path / "p.parquet", split="test"
    )
    assert written.rows == 24 == pq.read_metadata(tmp_path / "p.parquet").num_rows


def test_bad_inputs_are_refused_and_nothing_is_left(trained, tmp_path: Path) -> None:
    _, predictor = trained
    source = write_csv(tmp_path / "in.csv", [("a good film", "x")], ("body", "y"))
    with pytest.raises(InputError, match="no column 'missing'"):
        predict_file(predictor, source=source, output=tmp_path / "o.csv", text_column="missing")
    with pytest.raises(InputError, match="unknown output format"):
        predict_file(predictor, source=source, output=tmp_path / "o.xlsx")
    existing = tmp_path / "mine.csv"
    existing.write_text("my data")
    with pytest.raises(InputError, match="--overwrite"):
        predict_file(predictor, source=source, output=existing)
    assert existing.read_text() == "my data"
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "fine"}\nnot json\n')
    with pytest.raises(InputError, match=r"broken\.jsonl:2"):
        predict_file(predictor, source=broken, output=tmp_path / "o.parquet", batch_size=1)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "broken.jsonl",
        "in.csv",
        "mine.csv",
    ]


def test_cli_predict_input(trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, _ = trained
    monkeypatch.setenv("TEXTPIPE_HOME", str(store.root))
    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"review": texts(30)}), source)
    output = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["predict", "tiny", "--input", str(source), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "predicted 30 rows" in result.output
    assert len(output.read_text().splitlines()) == 30
    result = CliRunner().invoke(cli, ["predict", "tiny", "--input", str(source)])
    assert result.exit_code == 1 and "go together" in result.output
