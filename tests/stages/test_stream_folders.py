"""Dataset folders (the hub's layout) read in batches give what `datasets` gave: same key,
files, statistics and errors; what the batch readers do not read as `datasets` does goes
through it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.stages.test_stream_formats import (
    assert_same,
    csv_field,
    reviews,
    write_csv,
    write_jsonl,
)
from textpipe.artifacts import Store
from textpipe.config import DownloadParams
from textpipe.errors import InputError
from textpipe.stages import download as download_module
from textpipe.stages.download import download

CLASS_LABEL_README = """---
configs:
- config_name: plain_text
  data_files:
  - split: train
    path: plain_text/train-*
  - split: test
    path: plain_text/test-*
  - split: unsupervised
    path: plain_text/unsupervised-*
  default: true
dataset_info:
  config_name: plain_text
  features:
  - name: text
    dtype: string
  - name: label
    dtype:
      class_label:
        names:
          '0': neg
          '1': pos
---
# a tiny dataset in the hub's layout
"""


def review_table(count: int, seed: int = 0, *, labels: str = "ids") -> pa.Table:
    rows = reviews(count, seed)
    label_values: list[Any] = [
        (1 if label == "pos" else 0) if labels == "ids" else label for _, label in rows
    ]
    return pa.table({"text": [text for text, _ in rows], "label": label_values})


def imdb_like(folder: Path, *, readme: str | None = CLASS_LABEL_README) -> Path:
    """A folder laid out as the hub's stanfordnlp/imdb: train in two files, test, and an
    unlabelled split (-1) that textpipe leaves out."""
    (folder / "plain_text").mkdir(parents=True)
    pq.write_table(review_table(40), folder / "plain_text" / "train-00000-of-00002.parquet")
    pq.write_table(review_table(30, 1), folder / "plain_text" / "train-00001-of-00002.parquet")
    pq.write_table(review_table(30, 2), folder / "plain_text" / "test-00000-of-00001.parquet")
    unlabelled = review_table(10, 3).set_column(1, "label", pa.array([-1] * 10, pa.int64()))
    pq.write_table(unlabelled, folder / "plain_text" / "unsupervised-00000-of-00001.parquet")
    if readme is not None:
        (folder / "README.md").write_text(readme)
    return folder


def routes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the reader each download's batch plan chose ("datasets" when none)."""
    chosen: list[str] = []
    plan = download_module.batch_source

    def recording(resolved: Any, cache_dir: Any) -> Any:
        source = plan(resolved, cache_dir)
        chosen.append("datasets" if source is None else source.reader)
        return source

    monkeypatch.setattr(download_module, "batch_source", recording)
    return chosen


@pytest.mark.parametrize(
    "carve",
    [
        {},
        {"validation_size": 0.25},
        {"validation_size": 0.25, "validation_block": 4},
        {"limit": 12, "seed": 3},
    ],
)
def test_hub_layout_parquet_folder_matches_datasets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, carve: dict[str, Any]
) -> None:
    folder = imdb_like(tmp_path / "imdb")
    chosen = routes(monkeypatch)
    result = assert_same(tmp_path, monkeypatch, source=str(folder), **carve)
    assert chosen[0] == "parquet"
    assert result[0] == "ok"
    stats = result[3]
    assert stats["label_names"] == ["neg", "pos"]  # the README's class names
    carved = {"validation"} if "validation_size" in carve else set()
    assert set(stats["splits"]) == {"train", "test"} | carved
    assert sum(split["rows"] for split in stats["splits"].values()) == (
        (12 + 12) if "limit" in carve else 100
    )


def test_folder_without_readme_uses_the_files_class_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    folder = tmp_path / "plain"
    (folder / "data").mkdir(parents=True)
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["bad", "good"])}
    )
    for split, seed in (("train", 0), ("validation", 1), ("test", 2)):
        table = review_table(24, seed)
        datasets.Dataset(table).cast(features).to_parquet(
            folder / "data" / f"{split}-00000-of-00001.parquet"
        )
    chosen = routes(monkeypatch)
    result = assert_same(tmp_path, monkeypatch, source=str(folder))
    assert chosen[0] == "parquet"
    assert result[0] == "ok" and result[3]["label_names"] == ["bad", "good"]
    assert set(result[3]["splits"]) == {"train", "validation", "test"}


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_text_folders_match_datasets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    folder = tmp_path / "text"
    folder.mkdir()
    for split, seed, count in (("train", 0, 50), ("dev", 1, 12), ("test", 2, 20)):
        rows = [list(row) for row in reviews(count, seed)]
        if suffix == ".jsonl":
            write_jsonl(folder / f"{split}.jsonl", [{"text": t, "label": lab} for t, lab in rows])
        else:
            write_csv(
                folder / f"{split}{suffix}", ["text", "label"], rows, suffix_delimiter(suffix)
            )
    chosen = routes(monkeypatch)
    result = assert_same(tmp_path, monkeypatch, source=str(folder))
    assert chosen[0] == ("json" if suffix == ".jsonl" else "csv")
    assert result[0] == "ok"
    assert {name: split["rows"] for name, split in result[3]["splits"].items()} == {
        "train": 50,
        "validation": 12,  # "dev", as `datasets` names it
        "test": 20,
    }


def suffix_delimiter(suffix: str) -> str:
    return "\t" if suffix == ".tsv" else ","


def write_folder(folder: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return folder


CSV_OPTIONS_README = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: train.csv
  sep: ";"
---
"""


SWAPPED_NAMES_README = """---
dataset_info:
  features:
  - name: text
    dtype: string
  - name: label
    dtype:
      class_label:
        names:
          '0': pos
          '1': neg
---
"""
SIZES_README = """---
dataset_info:
  splits:
  - name: train
    num_examples: {train}
  - name: test
    num_examples: {test}
---
"""
DEV_AND_VALIDATION_README = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: train.csv
  - split: dev
    path: dev.csv
  - split: validation
    path: valid.csv
---
"""


def with_split_sizes(**sizes: int) -> str:
    """CLASS_LABEL_README with the split sizes its `dataset_info` declares."""
    declared = "  splits:\n" + "".join(
        f"  - name: {name}\n    num_examples: {rows}\n" for name, rows in sizes.items()
    )
    return CLASS_LABEL_README.replace("---\n# a tiny", declared + "---\n# a tiny")


def test_declared_split_sizes_that_hold_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = imdb_like(
        tmp_path / "imdb", readme=with_split_sizes(train=70, test=30, unsupervised=10)
    )
    chosen = routes(monkeypatch)
    result = assert_same(tmp_path, monkeypatch, source=str(folder))
    assert chosen[0] == "parquet" and result[0] == "ok"


def test_what_datasets_alone_reads_goes_through_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Folders the batch readers would read differently: `datasets` reads them, whole."""
    two_files = "".join(f"{text},{label}\n" for text, label in reviews(10))
    cases: dict[str, Path] = {
        # the README declares other types than the files hold: `datasets` casts them
        "declared types differ": imdb_like(
            tmp_path / "declared",
            readme=CLASS_LABEL_README.replace("dtype: string", "dtype: large_string"),
        ),
        "csv options": write_folder(
            tmp_path / "options",
            {
                "README.md": CSV_OPTIONS_README,
                "train.csv": "text;label\n" + "".join(f"{t};{lab}\n" for t, lab in reviews(10)),
            },
        ),
        "two csv files a split": write_folder(
            tmp_path / "two",
            {
                "train/a.csv": "text,label\n" + two_files,
                "train/b.csv": "text,label\n" + two_files,
            },
        ),
    }
    csv_rows = "text,label\n" + "".join(
        f"{csv_field(text)},{label}\n" for text, label in reviews(12)
    )
    # a csv folder declaring class names in another order: `datasets` casts the names to them
    cases["csv with declared class names"] = write_folder(
        tmp_path / "csv-declared",
        {"README.md": SWAPPED_NAMES_README, "train.csv": csv_rows, "test.csv": csv_rows},
    )
    # split sizes the folder declares: `datasets` checks them after reading every row
    cases["csv with declared split sizes"] = write_folder(
        tmp_path / "csv-sizes",
        {"README.md": SIZES_README.format(train=12, test=12), "train.csv": csv_rows},
    )
    cases["parquet of other sizes than declared"] = imdb_like(
        tmp_path / "sizes", readme=with_split_sizes(train=25000, test=30, unsupervised=10)
    )
    cases["dev and validation"] = write_folder(
        tmp_path / "dev-and-validation",
        {
            "README.md": DEV_AND_VALIDATION_README,
            "train.csv": csv_rows,
            "dev.csv": csv_rows,
            "valid.csv": csv_rows,
        },
    )
    mixed = tmp_path / "mixed"
    (mixed / "data").mkdir(parents=True)
    pq.write_table(review_table(20), mixed / "data" / "train-00000-of-00002.parquet")
    pq.write_table(
        review_table(20, 1, labels="names"), mixed / "data" / "train-00001-of-00002.parquet"
    )
    cases["files of other schemas"] = mixed
    results = {}
    for name, folder in cases.items():
        chosen = routes(monkeypatch)
        results[name] = assert_same(
            tmp_path / name, monkeypatch, through_datasets=True, source=str(folder)
        )
        assert chosen[0] == "datasets", name
    assert results["csv with declared class names"][3]["label_names"] == ["pos", "neg"]
    assert "NonMatchingSplitsSizesError" in results["parquet of other sizes than declared"][2]
    assert "ExpectedMoreSplitsError" in results["csv with declared split sizes"][2]


def test_data_files_outside_the_folder_are_refused(tmp_path: Path) -> None:
    """The cache key covers the folder's own visible files: a README naming others is refused
    in one line, before anything is read."""
    rows = "text,label\n" + "".join(f"{csv_field(text)},{label}\n" for text, label in reviews(12))
    write_folder(tmp_path / "elsewhere", {"train.csv": rows})
    for name, path in (("outside", "../elsewhere/train.csv"), ("hidden", ".cache/train.csv")):
        readme = (
            "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
            f"    path: {path}\n---\n"
        )
        folder = write_folder(tmp_path / name, {"README.md": readme, ".cache/train.csv": rows})
        with pytest.raises(InputError, match="outside the folder or in a hidden folder") as err:
            download(params=DownloadParams(source=str(folder)), store=Store(tmp_path / "store"))
        assert "\n" not in str(err.value)


def test_folder_faults_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty_train = imdb_like(tmp_path / "empty")
    pq.write_table(
        review_table(1).slice(0, 0), empty_train / "plain_text" / "train-00001-of-00002.parquet"
    )
    pq.write_table(
        review_table(1).slice(0, 0), empty_train / "plain_text" / "train-00000-of-00002.parquet"
    )
    # (`datasets` fails on the empty files with "An error occurred while generating the dataset")
    with pytest.raises(InputError, match=r"The train split of .* is empty\.$"):
        download(params=DownloadParams(source=str(empty_train)), store=Store(tmp_path / "a"))

    no_train = write_folder(
        tmp_path / "no-train", {"test.csv": "text,label\n" + "good,pos\nbad,neg\n"}
    )
    outcome = assert_same(tmp_path / "b", monkeypatch, through_datasets=True, source=str(no_train))
    assert outcome[:2] == ("error", "InputError") and "no train split" in outcome[2]

    latin1 = write_folder(
        tmp_path / "latin1", {"train.csv": "text,label\ncafé,pos\nbad,neg\n".encode("latin-1")}
    )
    with pytest.raises(InputError, match=r"train.csv: not valid UTF-8 at byte offset 14 ") as err:
        download(params=DownloadParams(source=str(latin1)), store=Store(tmp_path / "c"))
    assert "\n" not in str(err.value)


def test_folder_text_is_read_file_after_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parquet folder's text is read in pieces, each split's files in order, never a split
    concatenated whole."""
    folder = imdb_like(tmp_path / "imdb")
    pieces: list[int] = []
    column = download_module._parquet_column

    def counting(*args: Any, **kwargs: Any) -> Any:
        for piece in column(*args, **kwargs):
            pieces.append(len(piece))
            yield piece

    monkeypatch.setattr(download_module, "_parquet_column", counting)
    result = assert_same(tmp_path, monkeypatch, source=str(folder), validation_size=0.2)
    assert result[0] == "ok"
    assert pieces == [40, 30, 30]  # train's two files, then test's; not the unlabelled split


def test_a_nested_column_before_the_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A struct's fields are Parquet leaves of their own: the text is still the text column's
    (not the column at the text's leaf index: here the labels)."""
    folder = tmp_path / "nested"
    (folder / "data").mkdir(parents=True)
    for split, seed, count in (("train", 0, 20), ("test", 1, 10)):
        base = review_table(count, seed)
        meta = pa.array([{"id": index, "note": str(index)} for index in range(count)])
        table = pa.table({"meta": meta, "text": base.column("text"), "label": base.column("label")})
        pq.write_table(table, folder / "data" / f"{split}-00000-of-00001.parquet")
    chosen = routes(monkeypatch)
    result = assert_same(tmp_path / "folder", monkeypatch, source=str(folder))
    assert chosen[0] == "parquet" and result[0] == "ok"
    train = str(folder / "data" / "train-00000-of-00001.parquet")
    assert assert_same(tmp_path / "file", monkeypatch, source=train)[0] == "ok"


def hf_metadata(table: pa.Table, names: list[str]) -> pa.Table:
    """The table with the schema metadata `datasets` writes: its label a ClassLabel."""
    features = {
        "text": {"dtype": "string", "_type": "Value"},
        "label": {"names": names, "_type": "ClassLabel"},
    }
    return table.replace_schema_metadata(
        {"huggingface": json.dumps({"info": {"features": features}})}
    )


def test_class_names_are_those_datasets_infers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without declared features, `datasets` takes them from the first file of the first split
    listed, and a ClassLabel only where the column is stored as one (int64)."""
    test_first = write_folder(
        tmp_path / "test-first",
        {
            "README.md": "---\nconfigs:\n- config_name: default\n  data_files:\n"
            "  - split: test\n    path: data/test-*\n"
            "  - split: train\n    path: data/train-*\n---\n"
        },
    )
    (test_first / "data").mkdir()
    pq.write_table(
        hf_metadata(review_table(20), ["bad", "good"]), test_first / "data" / "train-0.parquet"
    )
    pq.write_table(
        hf_metadata(review_table(10, 1), ["neg", "pos"]), test_first / "data" / "test-0.parquet"
    )
    int32 = tmp_path / "int32" / "data"
    int32.mkdir(parents=True)
    table = review_table(20)
    table = table.set_column(1, "label", table.column("label").cast(pa.int32()))
    pq.write_table(hf_metadata(table, ["bad", "good"]), int32 / "train-00000-of-00001.parquet")
    names = tmp_path / "names" / "data"
    names.mkdir(parents=True)
    pq.write_table(
        hf_metadata(review_table(20, labels="names"), ["neg", "pos"]),
        names / "train-00000-of-00001.parquet",
    )
    for folder, label_names in (
        (test_first, ["neg", "pos"]),
        (int32.parent, ["0", "1"]),
        (names.parent, ["neg", "pos"]),
    ):
        chosen = routes(monkeypatch)
        result = assert_same(tmp_path / f"{folder.name}-out", monkeypatch, source=str(folder))
        assert chosen[0] == "parquet" and result[0] == "ok", folder.name
        assert result[3]["label_names"] == label_names, folder.name
    required = tmp_path / "required" / "data"  # a ClassLabel stored as a non-nullable int64
    required.mkdir(parents=True)
    schema = pa.schema([pa.field("text", pa.string()), pa.field("label", pa.int64(), False)])
    pq.write_table(
        hf_metadata(review_table(20).cast(schema), ["bad", "good"]),
        required / "train-00000-of-00001.parquet",
    )
    for folder, label_names in (
        (int32, ["0", "1"]),
        (names, ["neg", "pos"]),
        (required, ["0", "1"]),
    ):
        file = str(folder / "train-00000-of-00001.parquet")  # one file: the same
        result = assert_same(tmp_path / f"{folder.parent.name}-file", monkeypatch, source=file)
        assert result[0] == "ok" and result[3]["label_names"] == label_names, folder.name


def test_what_datasets_reads_otherwise_goes_through_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A split textpipe leaves out is read by `datasets` all the same (and can fail it); a file
    with an empty first row group fails it; dictionary columns and non-nullable ones are cast:
    all through `datasets`."""
    cases: dict[str, Path] = {}
    corrupt = imdb_like(tmp_path / "corrupt")
    (corrupt / "plain_text" / "unsupervised-00000-of-00001.parquet").write_bytes(b"PAR1 no")
    cases["a left-out split's damaged file"] = corrupt
    other = imdb_like(tmp_path / "other")
    pq.write_table(
        pa.table({"id": [1, 2]}), other / "plain_text" / "unsupervised-00000-of-00001.parquet"
    )
    cases["a left-out split's other schema"] = other
    config = "- split: {0}\n    path: {0}.csv\n  "
    cases["a left-out csv split"] = write_folder(
        tmp_path / "csv",
        {
            "README.md": "---\nconfigs:\n- config_name: default\n  data_files:\n  "
            + "".join(config.format(split) for split in ("train", "test", "extra"))
            + "\n---\n",
            "train.csv": "text,label\ngood,pos\nbad,neg\n",
            "test.csv": "text,label\nfine,pos\n",
            "extra.csv": 'text,label\n"unterminated\n',
        },
    )
    empty = tmp_path / "empty-file" / "data"
    empty.mkdir(parents=True)
    pq.write_table(review_table(20), empty / "train-00000-of-00002.parquet")
    pq.write_table(review_table(1).slice(0, 0), empty / "train-00001-of-00002.parquet")
    cases["an empty file among others"] = empty.parent
    dictionary = tmp_path / "dictionary" / "data"
    dictionary.mkdir(parents=True)
    table = review_table(20, labels="names")
    pq.write_table(
        table.set_column(1, "label", table.column("label").dictionary_encode()),
        dictionary / "train-00000-of-00001.parquet",
    )
    cases["dictionary labels"] = dictionary.parent
    required = tmp_path / "required" / "data"
    required.mkdir(parents=True)
    schema = pa.schema(
        [pa.field("text", pa.string()), pa.field("label", pa.int64(), nullable=False)]
    )
    pq.write_table(
        hf_metadata(review_table(20).cast(schema), ["bad", "good"]),
        required / "train-00000-of-00001.parquet",
    )
    cases["a ClassLabel stored non-nullable"] = required.parent
    for name, folder in cases.items():
        chosen = routes(monkeypatch)
        assert_same(tmp_path / name, monkeypatch, through_datasets=True, source=str(folder))
        assert chosen[0] == "datasets", name
