"""The download stage on small files written here, and every bad input it must reject."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import review_rows, write_csv
from textpipe.artifacts import Store
from textpipe.config import DownloadParams
from textpipe.errors import ConfigError, InputError
from textpipe.stages.download import (
    download,
    source_key_parts,
    stratified_blocks,
    stratified_sample,
)
from textpipe.stages.tables import read_split


def run(source: Path | str, **options) -> object:
    return download(params=DownloadParams(source=str(source), **options), store=Store())


def test_csv_with_string_labels_and_a_test_file(reviews_csv: Path, reviews_test_csv: Path) -> None:
    artifact = run(reviews_csv, test_file=str(reviews_test_csv)).artifact
    assert artifact.stats["label_names"] == ["neg", "pos"]
    train = read_split(artifact, "train")
    assert train.column_names == ["text", "label"]
    assert train.num_rows == 12 and train.column("label").type == pa.int64()
    first = train.slice(0, 1).to_pylist()[0]
    assert first == {"text": "A wonderful, moving film. Loved it!", "label": 1}
    assert read_split(artifact, "test").num_rows == 4


def test_jsonl_columns_are_found_among_common_names(reviews_jsonl: Path) -> None:
    artifact = run(reviews_jsonl).artifact
    assert artifact.stats["columns"] == {"text": "review", "label": "sentiment"}


def test_tsv_and_parquet_and_integer_labels(tmp_path: Path) -> None:
    tsv = tmp_path / "data.tsv"
    tsv.write_text(
        "sentence\tclass\n" + "".join(f"row {i}, with comma\t{i % 3 + 5}\n" for i in range(9))
    )
    artifact = run(tsv).artifact
    assert artifact.stats["label_names"] == ["5", "6", "7"]
    assert read_split(artifact, "train").column("label").to_pylist()[:3] == [0, 1, 2]
    parquet = tmp_path / "data.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c", "d"], "label": [0, 1, 0, 1]}), parquet)
    assert run(parquet).artifact.stats["splits"]["train"]["class_counts"] == [2, 2]


def test_hub_layout_folder_and_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "mirror" / "someone" / "tiny"
    (folder / "plain_text").mkdir(parents=True)
    for split in ("train", "test"):
        pq.write_table(
            pa.table({"text": ["good", "bad", "fine", "poor"], "label": [1, 0, 1, 0]}),
            folder / "plain_text" / f"{split}-00000-of-00001.parquet",
        )
    by_path = run(folder).artifact
    monkeypatch.setenv("TEXTPIPE_MIRROR", str(tmp_path / "mirror"))
    by_id = run("someone/tiny").artifact
    assert by_id.stats["splits"] == by_path.stats["splits"]
    assert by_id.stats["source_kind"] == "folder"
    with pytest.raises(InputError, match="not in the mirror"):
        run("someone/missing")


def test_hub_id_offline_without_mirror_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="offline"):
        run("someone/tiny")


def test_limit_is_a_seeded_stratified_sample(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "many.csv", review_rows(repeat=10))
    first = run(path, limit=10, seed=3).artifact
    counts = first.stats["splits"]["train"]["class_counts"]
    assert counts == [5, 5]
    again = read_split(run(path, limit=10, seed=3).artifact, "train")
    assert again.equals(read_split(first, "train"))
    other = read_split(run(path, limit=10, seed=4).artifact, "train")
    assert not other.equals(read_split(first, "train"))


def test_validation_carve_out_is_stratified(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "many.csv", review_rows(repeat=10))
    stats = run(path, validation_size=0.2).artifact.stats["splits"]
    assert stats["validation"]["class_counts"] == [12, 12]
    assert stats["train"]["class_counts"] == [48, 48]


def test_stratified_sample_keeps_proportions() -> None:
    labels = np.array([0] * 80 + [1] * 20)
    chosen = stratified_sample(labels, 10, seed=0)
    assert len(chosen) == 10 and np.bincount(labels[chosen]).tolist() == [8, 2]
    assert (np.diff(chosen) > 0).all()


def test_stratified_blocks_draws_whole_runs_of_each_class() -> None:
    labels = np.array([0] * 600 + [1] * 300)  # sorted by label, as IMDB's train split
    chosen = stratified_blocks(labels, 90, seed=1, block=25)
    assert np.bincount(labels[chosen]).tolist() == [60, 30]
    assert (np.diff(chosen) > 0).all()
    # every chosen row lies in a run of its class's rows that starts at a multiple of 25
    for label, offset in ((0, 0), (1, 600)):
        runs = (chosen[labels[chosen] == label] - offset) // 25
        assert len(set(runs.tolist())) == -(-len(runs) // 25)  # 60 rows: 3 runs; 30: 2 runs
    assert np.array_equal(chosen, stratified_blocks(labels, 90, seed=1, block=25))
    assert not np.array_equal(chosen, stratified_blocks(labels, 90, seed=2, block=25))
    assert np.array_equal(
        stratified_blocks(labels, 90, 1, block=1), stratified_sample(labels, 90, 1)
    )


def test_stratified_blocks_counts_runs_within_each_class() -> None:
    labels = np.tile([0, 1, 2], 40)  # interleaved: a class's run is its own consecutive rows
    chosen = stratified_blocks(labels, 30, seed=0, block=5)
    assert np.bincount(labels[chosen]).tolist() == [10, 10, 10]
    for label in range(3):
        positions = chosen[labels[chosen] == label] // 3  # rank among the class's rows
        assert len(set((positions // 5).tolist())) == 2


def test_validation_block_carves_runs_and_keys_only_when_set(tmp_path: Path) -> None:
    rows = [[f"review {i} of movie {i // 10}", "pos" if i < 100 else "neg"] for i in range(200)]
    path = write_csv(tmp_path / "grouped.csv", rows)
    carved = run(path, validation_size=0.2, validation_block=10).artifact
    texts = read_split(carved, "validation").column("text").to_pylist()
    movies = {text.rsplit(" ", 1)[1] for text in texts}
    assert len(texts) == 40 and len(movies) == 4  # four whole movies, none split
    trained = {t.rsplit(" ", 1)[1] for t in read_split(carved, "train").column("text").to_pylist()}
    assert not movies & trained
    random_rows = read_split(run(path, validation_size=0.2).artifact, "validation")
    assert len({t.rsplit(" ", 1)[1] for t in random_rows.column("text").to_pylist()}) > 4
    plain = source_key_parts(DownloadParams(source=str(path), validation_size=0.2))[0]
    assert "validation_block" not in plain  # the default keeps the keys made before it existed
    blocks = DownloadParams(source=str(path), validation_size=0.2, validation_block=10)
    assert source_key_parts(blocks)[0]["validation_block"] == 10
    with pytest.raises(ConfigError, match="validation_block applies to the validation split"):
        run(path, validation_block=10)


@pytest.mark.parametrize(
    ("header", "options", "message"),
    [
        (
            ("text", "label"),
            {"text_column": "review"},
            "Column 'review' not found in train split. Columns: text, label. "
            "Pass download.text_column.",
        ),
        (("body", "stars"), {}, "No label column found"),
        (("text", "stars"), {"label_column": "label"}, "Column 'label' not found"),
    ],
)
def test_missing_columns(tmp_path: Path, header, options, message) -> None:
    path = write_csv(tmp_path / "d.csv", [("x", "1"), ("y", "0")], header=header)
    with pytest.raises(InputError, match=message.replace(".", r"\.")):
        run(path, **options)


def test_ambiguous_column_lists_the_candidates(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,review,label\na,b,1\nc,d,0\n")
    with pytest.raises(
        InputError,
        match=r"Ambiguous text column in train split: text, review\. Pass download.text_column",
    ):
        run(path)
    assert run(path, text_column="review").artifact.stats["columns"]["text"] == "review"


def test_missing_labels_single_class_and_empty(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"
    missing.write_text("text,label\na,pos\nb,\nc,neg\n")
    with pytest.raises(InputError, match="1 row of the train split has no label"):
        run(missing)
    single = write_csv(tmp_path / "single.csv", [("a", "pos"), ("b", "pos")])
    with pytest.raises(InputError, match="single class"):
        run(single)
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    with pytest.raises(InputError, match="empty"):
        run(empty)


def test_invalid_utf8_names_the_file_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"text,label\ncaf" + b"\xe9,pos\nok,neg\n")
    with pytest.raises(InputError, match=r"latin1.csv: not valid UTF-8 at byte offset 14"):
        run(path)


def test_missing_path_and_unsupported_type(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        run(tmp_path / "nothing.csv")
    other = tmp_path / "data.xlsx"
    other.write_text("x")
    with pytest.raises(InputError, match="unsupported file type"):
        run(other)


def test_a_missing_relative_path_is_shown_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as raised:
        run("train.jsonl")
    assert str(raised.value) == (
        f"Source 'train.jsonl': no such file or folder ({tmp_path / 'train.jsonl'}: a relative "
        "path is read from the current directory)."
    )
    write_csv(tmp_path / "train.csv", review_rows())
    with pytest.raises(InputError) as raised:
        run("train.csv", test_file="data/test.csv")
    assert str(raised.value) == (
        f"Test file 'data/test.csv': no such file or folder ({tmp_path / 'data' / 'test.csv'}: "
        "a relative path is read from the current directory)."
    )
    with pytest.raises(InputError) as raised:  # an absolute path is shown as it is
        run(tmp_path / "nothing.csv")
    assert str(raised.value) == f"Source '{tmp_path / 'nothing.csv'}': no such file or folder."


def test_bad_option_values(reviews_csv: Path) -> None:
    with pytest.raises(ConfigError, match="validation_size"):
        run(reviews_csv, validation_size=1.5)
    with pytest.raises(ConfigError, match="limit"):
        run(reviews_csv, limit=0)


def test_key_ignores_the_path_but_follows_the_content(tmp_path: Path, reviews_csv: Path) -> None:
    first = run(reviews_csv).artifact
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    copy = moved / reviews_csv.name
    copy.write_bytes(reviews_csv.read_bytes())
    assert run(copy).status == "cached"
    copy.write_text(copy.read_text().replace("wonderful", "marvellous"))
    assert run(copy).artifact.key != first.key
