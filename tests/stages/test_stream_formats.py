"""csv, tsv and JSON Lines sources read in batches give what `datasets` gave: same key, files,
statistics and errors; what only `datasets` reads as before goes through it."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from textpipe.artifacts import Store
from textpipe.config import DownloadParams
from textpipe.stages import download as download_module
from textpipe.stages import tables, text_sources
from textpipe.stages.download import download

QUOTED = [
    'She said "wow", then left.',
    "Two\nlines, with a comma",
    "Windows\r\nline break",
    "héllo wörld ✓ 漢字",
    "  spaced  ",
    'ends with a quote"',
    "'single quotes'",
    "tab\tinside",
    "#not a comment",
]


def csv_field(value: str, delimiter: str = ",") -> str:
    if any(mark in value for mark in (delimiter, '"', "\n", "\r")) or value.strip() != value:
        return '"' + value.replace('"', '""') + '"'
    return value


def write_csv(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",") -> Path:
    lines = [delimiter.join(csv_field(cell, delimiter) for cell in row) for row in [header, *rows]]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8", newline="")
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]], *, bom: bool = False) -> Path:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def reviews(count: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    words = ["good", "bad", "film", "plot", "the", "acting", "superb", "dull", "a", "it"]
    rows = []
    for index in range(count):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        if index % 7 == 3:
            text = QUOTED[index % len(QUOTED)] + " " + text
        rows.append((text, "pos" if index % 2 else "neg"))
    return rows


def outcome(
    root: Path, params: DownloadParams, *, streamed: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, ...]:
    """What a download gives (key, file digests, statistics; or the error) and whether it
    went through `datasets`."""
    loads = []
    original_load = download_module._load

    def counting_load(*args: Any, **kwargs: Any) -> Any:
        loads.append(1)
        return original_load(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(download_module, "_load", counting_load)
        if not streamed:
            patch.setattr(download_module, "batch_source", lambda resolved, cache_dir: None)
        try:
            artifact = download(params=params, store=Store(root)).artifact
        except Exception as error:
            return ("error", type(error).__name__, str(error)), bool(loads)
    digests = {
        item.name: hashlib.sha256(item.read_bytes()).hexdigest()
        for item in sorted(artifact.path.iterdir())
        if item.name != "manifest.json"
    }
    return ("ok", artifact.key, digests, artifact.stats), bool(loads)


def assert_same(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    through_datasets: bool = False,
    **options: Any,
) -> tuple[Any, ...]:
    """The streamed download equals the `datasets` one; it read through `datasets` only when
    ``through_datasets``."""
    params = DownloadParams(**options)
    streamed, fell_back = outcome(
        tmp_path / "streamed", params, streamed=True, monkeypatch=monkeypatch
    )
    loaded, used_datasets = outcome(
        tmp_path / "loaded", params, streamed=False, monkeypatch=monkeypatch
    )
    assert used_datasets or loaded[0] == "error"
    assert streamed == loaded
    assert fell_back == through_datasets, streamed
    return streamed


CSV_CASES: dict[str, tuple[list[str], list[list[str]], dict[str, Any], str]] = {
    # name: header, rows, download options, "streamed" / "datasets" (the reader used)
    "string labels": (["text", "label"], [list(row) for row in reviews(40)], {}, "streamed"),
    "integer labels": (
        ["review", "sentiment"],
        [[text, str(index % 3 + 5)] for index, (text, _) in enumerate(reviews(30))],
        {},
        "streamed",
    ),
    "quoting and newlines": (
        ["text", "label"],
        [[text, "pos" if index % 2 else "neg"] for index, text in enumerate(QUOTED * 3)],
        {},
        "streamed",
    ),
    "labels chosen by name": (
        ["id", "body", "review", "stars", "label"],
        [
            [str(index), text, f"other {index}", str(index % 2 + 1), "x"]
            for index, (text, _) in enumerate(reviews(20))
        ],
        {"text_column": "body", "label_column": "stars"},
        "streamed",
    ),
    "empty text": (["text", "label"], [["good", "pos"], ["", "neg"], ["bad", "neg"]], {}, "s"),
    "NA as text": (["text", "label"], [["good", "pos"], ["NA", "neg"], ["bad", "neg"]], {}, "s"),
    "missing label": (
        ["text", "label"],
        [["good", "pos"], ["fine", ""], ["bad", "neg"], ["poor", "null"]],
        {},
        "streamed",
    ),
    "missing integer label": (
        ["text", "label"],
        [["good", "1"], ["fine", ""], ["bad", "0"]],
        {},
        "streamed",
    ),
    "single class": (["text", "label"], [["good", "pos"], ["fine", "pos"]], {}, "streamed"),
    "no label column": (["text", "score"], [["good", "1"], ["bad", "0"]], {}, "streamed"),
    "unknown label column": (
        ["text", "label"],
        [["good", "1"], ["bad", "0"]],
        {"label_column": "stars"},
        "streamed",
    ),
    "header only": (["text", "label"], [], {}, "datasets"),
    "short row": (["text", "label"], [["good", "pos"], ["bad"], ["fine", "pos"]], {}, "datasets"),
    "long row": (["text", "label"], [["good", "pos", "x"], ["bad", "neg"]], {}, "datasets"),
    "repeated column name": (
        ["text", "text", "label"],
        [["a", "b", "pos"], ["c", "d", "neg"]],
        {},
        "datasets",
    ),
    "fractional labels": (["text", "label"], [["a", "1.5"], ["b", "0.0"]], {}, "datasets"),
    "whole float labels": (["text", "label"], [["a", "1.0"], ["b", "0.0"]], {}, "datasets"),
    "boolean labels": (["text", "label"], [["a", "True"], ["b", "False"]], {}, "datasets"),
    "numbers as text": (["text", "label"], [["12", "pos"], ["3.5", "neg"]], {}, "datasets"),
    "an extra number column": (
        ["text", "label", "score"],
        [["good", "pos", "1"], ["bad", "neg", "2"]],
        {},
        "streamed",
    ),
    "an extra empty column": (
        ["text", "label", "note"],
        [["good", "pos", ""], ["bad", "neg", ""]],
        {},
        "streamed",
    ),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_csv_matches_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    header, rows, options, reader = CSV_CASES[case]
    path = write_csv(tmp_path / "data.csv", header, rows)
    assert_same(
        tmp_path, monkeypatch, through_datasets=reader == "datasets", source=str(path), **options
    )


@pytest.mark.parametrize(
    "carve",
    [
        {},
        {"validation_size": 0.25},
        {"validation_size": 0.25, "validation_block": 4},
        {"limit": 12, "seed": 3},
    ],
)
def test_csv_and_tsv_with_a_test_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, carve: dict[str, Any]
) -> None:
    for suffix, delimiter in ((".csv", ","), (".tsv", "\t")):
        folder = tmp_path / suffix[1:]
        folder.mkdir()
        train = write_csv(
            folder / f"train{suffix}", ["text", "label"], [list(r) for r in reviews(60)], delimiter
        )
        test = write_csv(
            folder / f"test{suffix}",
            ["text", "label"],
            [list(r) for r in reviews(20, 1)],
            delimiter,
        )
        result = assert_same(folder, monkeypatch, source=str(train), test_file=str(test), **carve)
        assert result[0] == "ok"


def test_csv_test_file_faults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train = write_csv(tmp_path / "train.csv", ["text", "label"], [list(r) for r in reviews(20)])
    faults = {
        "unseen label": (["text", "label"], [["good", "pos"], ["meh", "mid"]], "streamed"),
        "missing column": (["text", "stars"], [["good", "1"]], "datasets"),
        "extra column": (["text", "label", "x"], [["good", "pos", "y"]], "datasets"),
        "integer labels": (["text", "label"], [["good", "1"], ["bad", "0"]], "datasets"),
        "no text": (["text", "label"], [["good", "pos"], ["", "neg"]], "streamed"),
        "ragged": (["text", "label"], [["good", "pos"], ["bad"]], "datasets"),
    }
    for name, (header, rows, reader) in faults.items():
        folder = tmp_path / name.replace(" ", "-")
        folder.mkdir()
        test = write_csv(folder / "test.csv", header, rows)
        result = assert_same(
            folder,
            monkeypatch,
            through_datasets=reader == "datasets",
            source=str(train),
            test_file=str(test),
        )
        assert result[0] == "error", name


def test_csv_byte_order_mark_blank_lines_and_carriage_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(
        b'\xef\xbb\xbftext,label\r\n"a ""quoted""\r\nvalue",pos\r\n\r\nplain,neg\r\n\n'
        b'"x, y",pos\rlast,neg'
    )
    result = assert_same(tmp_path, monkeypatch, source=str(path))
    assert result[0] == "ok" and result[3]["splits"]["train"]["rows"] == 4


def test_non_utf8_is_one_line_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("text,label\ncafé,pos\nbad,neg\n".encode("latin-1"))
    result = assert_same(tmp_path, monkeypatch, source=str(path))
    assert result == (
        "error",
        "InputError",
        f"{path}: not valid UTF-8 at byte offset 14 (byte 0xe9). Convert the file to UTF-8.",
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"abc",
        b"\xc3",
        b"ab\xc3",
        b"\xe2\x82",
        b"\xe2\x82\xac\xff",
        b"ok\xc3(",
        b"\xed\xa0\x80",
    ],
)
@pytest.mark.parametrize("block", [1, 2, 3, 1 << 20])
def test_utf8_check_in_blocks_reports_what_whole_decoding_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, block: int
) -> None:
    monkeypatch.setattr(text_sources, "UTF8_BLOCK_BYTES", block)
    path = tmp_path / "f.csv"
    for prefix in (b"", b"x" * 5):
        path.write_bytes(prefix + data)
        try:
            (prefix + data).decode("utf-8")
            expected = None
        except UnicodeDecodeError as error:
            expected = (error.start, error.object[error.start])
        assert text_sources.check_utf8(path) == expected


def chunked_rows(second: str) -> list[list[str]]:
    """Two of pandas' 10,000-row chunks; the second chunk's texts or labels vary."""
    rows = [[f"review {index}", "pos" if index % 2 else "neg"] for index in range(10_000)]
    for index in range(10_000, 12_000):
        text, label = f"more {index}", "pos" if index % 2 else "neg"
        if second == "numeric text":
            text = str(index)
        elif second == "numeric labels":
            label = str(index % 2)
        rows.append([text, label])
    return rows


@pytest.mark.parametrize(
    ("second", "reader"),
    [("plain", "streamed"), ("numeric text", "datasets"), ("numeric labels", "datasets")],
)
def test_csv_pandas_chunks_of_other_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, second: str, reader: str
) -> None:
    """pandas types each 10,000-row chunk on its own, and datasets casts the later chunks to
    the first one's types: a chunk read otherwise goes through datasets."""
    path = write_csv(tmp_path / "data.csv", ["text", "label"], chunked_rows(second))
    assert_same(tmp_path, monkeypatch, through_datasets=reader == "datasets", source=str(path))


JSON_CASES: dict[str, tuple[list[dict[str, Any]], dict[str, Any], str]] = {
    "string labels": (
        [{"review": text, "sentiment": label} for text, label in reviews(40)],
        {},
        "streamed",
    ),
    "integer labels and extra keys": (
        [
            {"id": index, "text": text, "label": index % 3, "meta": "x"}
            for index, (text, _) in enumerate(reviews(30))
        ],
        {},
        "streamed",
    ),
    "quoting and unicode": (
        [{"text": text, "label": index % 2} for index, text in enumerate(QUOTED * 3)],
        {},
        "streamed",
    ),
    "empty text": ([{"text": "", "label": 0}, {"text": "a", "label": 1}], {}, "streamed"),
    "null text": ([{"text": None, "label": 0}, {"text": "a", "label": 1}], {}, "streamed"),
    "missing label": (
        [{"text": "a", "label": 0}, {"text": "b"}, {"text": "c", "label": 1}],
        {},
        "streamed",
    ),
    "whole float labels": ([{"text": "a", "label": 1.0}, {"text": "b", "label": 0.0}], {}, "s"),
    "fractional labels": ([{"text": "a", "label": 1.5}, {"text": "b", "label": 0.0}], {}, "s"),
    "labels chosen by name": (
        [
            {"body": text, "title": "t", "stars": index % 5, "label": "x"}
            for index, (text, _) in enumerate(reviews(25))
        ],
        {"text_column": "body", "label_column": "stars"},
        "streamed",
    ),
    "numbers as text": ([{"text": 12, "label": 0}, {"text": 3, "label": 1}], {}, "streamed"),
    "nested value": (
        [{"text": "a", "label": 0, "meta": {"k": 1}}, {"text": "b", "label": 1, "meta": {}}],
        {},
        "datasets",
    ),
    "mixed label types": ([{"text": "a", "label": 0}, {"text": "b", "label": "pos"}], {}, "d"),
    "single class": ([{"text": "a", "label": 0}, {"text": "b", "label": 0}], {}, "streamed"),
}


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_jsonl_matches_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    rows, options, reader = JSON_CASES[case]
    path = write_jsonl(tmp_path / "data.jsonl", rows)
    assert_same(
        tmp_path,
        monkeypatch,
        through_datasets=reader == "d" or reader == "datasets",
        source=str(path),
        **options,
    )


def test_jsonl_bom_empty_file_array_and_test_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"text": text, "label": label} for text, label in reviews(30)]
    bom = write_jsonl(tmp_path / "bom.jsonl", rows, bom=True)
    test = write_jsonl(tmp_path / "test.jsonl", rows[:10])
    for name, options, reader in (
        ("bom", {"source": str(bom), "test_file": str(test), "validation_size": 0.2}, "streamed"),
        ("empty", {"source": str(write_jsonl(tmp_path / "empty.jsonl", []))}, "datasets"),
        ("array", {"source": str(tmp_path / "array.json")}, "datasets"),
    ):
        if name == "array":
            (tmp_path / "array.json").write_text(json.dumps(rows))
        folder = tmp_path / name
        folder.mkdir()
        assert_same(folder, monkeypatch, through_datasets=reader == "datasets", **options)


def test_many_batches_give_the_same_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory is bounded by the batch: small batches (many of them) give the same bytes."""
    rows = reviews(3000, seed=5)
    csv_path = write_csv(tmp_path / "data.csv", ["text", "label"], [list(r) for r in rows])
    jsonl_path = write_jsonl(
        tmp_path / "data.jsonl", [{"text": text, "label": label} for text, label in rows]
    )
    batches: list[int] = []
    for name in ("csv_batches", "json_batches"):
        original = getattr(text_sources, name)

        def counting(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            for batch in _original(*args, **kwargs):
                batches.append(batch.num_rows)
                yield batch

        monkeypatch.setattr(text_sources, name, counting)
    monkeypatch.setattr(tables, "MIN_CHUNK_BYTES", 1)
    monkeypatch.setattr(download_module, "MIN_BLOCK_BYTES", 4096)
    monkeypatch.setenv(tables.MEMORY_VARIABLE, "40000")  # 4,000 bytes of text a chunk
    monkeypatch.setattr(text_sources, "JSON_CHUNK_BYTES", 4096)
    for path in (csv_path, jsonl_path):
        folder = tmp_path / path.suffix[1:]
        folder.mkdir()
        batches.clear()
        assert_same(folder, monkeypatch, source=str(path), validation_size=0.1)
        assert len(batches) > 10, path.name
        assert sum(batches) == len(rows)


LABELS_OF_MIXED_TYPES = (
    "Column 'label' holds values of mixed types (e.g. strings and numbers) in the {split} "
    "split; make every label the same type: all names or all whole numbers."
)
TEXT_OF_MIXED_TYPES = (
    "Column 'text' holds values of mixed types (e.g. strings and numbers, or strings and lists) "
    "in the {split} split; make every text a string."
)
COLUMN_TYPE_CASES: dict[str, tuple[list[dict[str, Any]], str]] = {
    # name: rows, the error (`datasets` stores a field of several JSON types as JSON text)
    "string and integer labels": (
        [{"text": "a", "label": "0"}, {"text": "b", "label": 1}, {"text": "c", "label": 0}],
        LABELS_OF_MIXED_TYPES,
    ),
    "float and string labels": (
        [{"text": "a", "label": 1.0}, {"text": "b", "label": "b"}],
        LABELS_OF_MIXED_TYPES,
    ),
    "boolean and integer labels": (
        [{"text": "a", "label": True}, {"text": "b", "label": 0}],
        LABELS_OF_MIXED_TYPES,
    ),
    "list and string labels": (
        [{"text": "a", "label": "x"}, {"text": "b", "label": ["y"]}],
        LABELS_OF_MIXED_TYPES,
    ),
    "list text": (
        [{"text": ["a", "b"], "label": 0}, {"text": ["c"], "label": 1}],
        "Column 'text' holds list<item: string> values in the {split} split; a text must be a "
        "string.",
    ),
    "list and string text": (
        [{"text": ["a", "b"], "label": 0}, {"text": "c", "label": 1}],
        TEXT_OF_MIXED_TYPES,
    ),
    "number and string text": (
        [{"text": 12, "label": 0}, {"text": "twelve", "label": 1}],
        TEXT_OF_MIXED_TYPES,
    ),
}


@pytest.mark.parametrize("case", sorted(COLUMN_TYPE_CASES))
def test_jsonl_columns_of_mixed_or_nested_types_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """A text or label column whose values are nested or of several JSON types is refused with
    one line naming it, in a train file (through `datasets`, which stores such a field as JSON
    text) and in a test file (read in batches: `datasets` would cast it to the train file's
    types, or fail)."""
    rows, message = COLUMN_TYPE_CASES[case]
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    (tmp_path / "train").mkdir()
    result = assert_same(tmp_path / "train", monkeypatch, through_datasets=True, source=str(bad))
    assert result == ("error", "InputError", message.format(split="train"))
    clean = write_jsonl(
        tmp_path / "clean.jsonl",
        [{"text": "a", "label": 0}, {"text": "b", "label": 1}, {"text": "c", "label": 0}],
    )
    params = DownloadParams(source=str(clean), test_file=str(bad))
    result, through_datasets = outcome(
        tmp_path / "test", params, streamed=True, monkeypatch=monkeypatch
    )
    assert result == ("error", "InputError", message.format(split="test"))
    assert not through_datasets


def test_mixed_types_in_a_later_batch_of_the_train_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the train file's first batch (its columns picked), the batch reader refuses them."""
    monkeypatch.setattr(text_sources, "JSON_CHUNK_BYTES", 256)
    rows = [{"text": text, "label": index % 2} for index, (text, _) in enumerate(reviews(40))]
    rows[-1]["label"] = "1"
    path = write_jsonl(tmp_path / "data.jsonl", rows)
    result, through_datasets = outcome(
        tmp_path, DownloadParams(source=str(path)), streamed=True, monkeypatch=monkeypatch
    )
    assert result == ("error", "InputError", LABELS_OF_MIXED_TYPES.format(split="train"))
    assert not through_datasets


def test_csv_labels_of_mixed_looks_are_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """csv has no types: labels that look like numbers, booleans and names are all names."""
    path = write_csv(
        tmp_path / "data.csv",
        ["text", "label"],
        [["a", "0"], ["b", "1"], ["c", "pos"], ["d", "1.0"], ["e", "true"]],
    )
    result = assert_same(tmp_path, monkeypatch, source=str(path))
    assert result[0] == "ok"
    assert result[3]["label_names"] == ["0", "1", "1.0", "pos", "true"]


def test_csv_test_file_of_other_label_types_is_one_line(tmp_path: Path) -> None:
    """`datasets` casts a test file to the train file's types; where it cannot, it says why."""
    train = write_csv(tmp_path / "train.csv", ["text", "label"], [["a", "0"], ["b", "1"]])
    test = write_csv(tmp_path / "test.csv", ["text", "label"], [["c", "1"], ["d", "pos"]])
    params = DownloadParams(source=str(train), test_file=str(test))
    with pytest.raises(download_module.InputError) as raised:
        download(params=params, store=Store(tmp_path / "store"))
    assert str(raised.value) == (
        f"Cannot read {str(train)!r} (DatasetGenerationError): An error occurred while "
        "generating the dataset: Failed to parse string: 'pos' as a scalar of type int64"
    )


@pytest.mark.parametrize("reader", ["csv", "jsonl", "parquet"])
def test_rows_without_text_are_counted_and_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    expected = {
        1: "1 row of the train split has no text in column 'text' (row 1, counted from 0). "
        "Remove it or choose another download.text_column.",
        2: "2 rows of the train split have no text in column 'text' (rows 1, 3, counted from 0). "
        "Remove them or choose another download.text_column.",
        7: "7 rows of the train split have no text in column 'text' (rows 1, 3, 4, 5, 6 and 2 "
        "more, counted from 0). Remove them or choose another download.text_column.",
    }
    for count, message in expected.items():
        texts = ["good", None, "bad", None, None, None, None, None, None, "fine"]
        missing = [index for index, text in enumerate(texts) if text is None][:count]
        texts = [None if index in missing else text or "so so" for index, text in enumerate(texts)]
        labels = ["pos" if index % 2 else "neg" for index in range(len(texts))]
        folder = tmp_path / f"{reader}-{count}"
        folder.mkdir()
        if reader == "csv":
            rows = [
                ["" if text is None else text, label]
                for text, label in zip(texts, labels, strict=True)
            ]
            path = write_csv(folder / "data.csv", ["text", "label"], rows)
        elif reader == "jsonl":
            rows_json = [
                {"text": text, "label": label} for text, label in zip(texts, labels, strict=True)
            ]
            path = write_jsonl(folder / "data.jsonl", rows_json)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            path = folder / "data.parquet"
            pq.write_table(pa.table({"text": texts, "label": labels}), path)
        result = assert_same(folder, monkeypatch, source=str(path))
        assert result == ("error", "InputError", message), reader
