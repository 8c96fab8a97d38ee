"""``textpipe/predict.py``: a run's predictor (its own tokenizer, padding and model) on raw texts,
and batch prediction on files, streamed and written atomically (``predict --input FILE -o OUT``;
the command itself is tested in ``tests/cli/test_predict.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import TrainedStore, copy_store, sentiment_rows, write_csv
from textpipe.artifacts import Store
from textpipe.errors import InputError
from textpipe.predict import load_predictor, predict_file
from textpipe.progress import SilentProgress
from textpipe.textops import OOV_ID, PAD_ID


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_run_store: TrainedStore):
    """The tiny trained run in a store of its own (shared by this module's read-only tests)."""
    folder = tmp_path_factory.mktemp("predict-file")
    store = Store(copy_store(tiny_run_store.root, folder / "store"))
    return store, load_predictor("tiny", store)


def texts(count: int) -> list[str]:
    return [text for text, _ in sentiment_rows(count, seed=7)]


def test_texts_are_encoded_as_the_encode_stage_lays_them_out(trained) -> None:
    store, predictor = trained
    (encoded,) = store.artifacts("encode")
    assert (predictor.length, predictor.padding) == (encoded.params["length"], "post")
    ids = predictor.encode(["Wonderful film zzzunseen", "", " ".join(["good"] * 20)])
    assert ids.shape == (3, predictor.length)
    tokens = predictor.tokenizer.encode("Wonderful film zzzunseen").ids
    assert tokens[-1] == OOV_ID and PAD_ID not in tokens
    assert ids[0].tolist() == tokens + [PAD_ID] * (predictor.length - 3)
    assert ids[1].tolist() == [OOV_ID] + [PAD_ID] * (predictor.length - 1)  # empty: one OOV
    assert PAD_ID not in ids[2]  # truncated to the length


def test_each_text_gets_its_most_probable_label(trained) -> None:
    _, predictor = trained
    rows = texts(10)
    probabilities = predictor.class_probabilities(rows)
    assert probabilities.shape == (10, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    predictions = predictor.predict(rows)
    assert [prediction.text for prediction in predictions] == rows
    for prediction, row in zip(predictions, probabilities, strict=True):
        assert prediction.label == predictor.label_names[row.argmax()]
        assert prediction.probability == pytest.approx(row.max(), abs=1e-6)
        assert list(prediction.probabilities) == predictor.label_names == ["neg", "pos"]
    assert predictor.predict([]) == [] and predictor.class_probabilities([]).shape == (0, 2)


def test_a_run_that_does_not_exist_is_refused(trained) -> None:
    store, _ = trained
    with pytest.raises(InputError, match="nope"):
        load_predictor("nope", store)


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


def test_the_input_file_is_never_the_output(trained, tmp_path: Path) -> None:
    _, predictor = trained
    source = write_csv(tmp_path / "in.csv", [("a good film", "x")], ("text", "y"))
    before = source.read_bytes()
    alias = tmp_path / "alias.csv"
    alias.hardlink_to(source)
    for output in (source, alias):
        with pytest.raises(InputError, match="is the --input file"):
            predict_file(predictor, source=source, output=output, overwrite=True)
    assert source.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["alias.csv", "in.csv"]


def test_the_progress_line_names_the_jsonl_column(trained, tmp_path: Path) -> None:
    _, predictor = trained
    source = tmp_path / "in.jsonl"
    source.write_text('\n{"id": 1, "review": "a good film"}\n{"id": 2, "review": "dull"}\n')
    titles: list[str] = []

    class Recorder(SilentProgress):
        def task(self, description: str, total: int | None = None):
            titles.append(description)
            return super().task(description, total)

    written = predict_file(predictor, source=source, output=tmp_path / "o.csv", progress=Recorder())
    assert written.rows == 2
    assert titles == ["predict: in.jsonl (review)"]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(InputError, match="empty"):
        predict_file(predictor, source=empty, output=tmp_path / "e.csv")
