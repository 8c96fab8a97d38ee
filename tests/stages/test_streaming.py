"""Streaming data stages: chunked reads and writes give the bytes of whole-table ones."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO_ROOT, sentiment_rows
from textpipe.artifacts import Store
from textpipe.config import DownloadParams, EncodeParams, NormalizeParams, VocabParams
from textpipe.errors import ConfigError
from textpipe.stages import download as download_module
from textpipe.stages import tables
from textpipe.stages.download import download
from textpipe.stages.encode import NpyWriter, encode
from textpipe.stages.normalize import normalize
from textpipe.stages.vocab import build_vocab

TEXTS = ["", "Hello, World!", "héllo wörld ✓ 漢字", " spaced   out ", "<br />tag", "x" * 300]


def whole_table_bytes(texts: list[str], labels: list[int], path: Path) -> bytes:
    tables.write_table(
        pa.table({"text": pa.array(texts, pa.string()), "label": pa.array(labels, pa.int64())}),
        path,
    )
    return path.read_bytes()


def write_chunked(
    path: Path, texts: list[str], labels: list[int], chunk: int, rows: int | None
) -> bool:
    """Write through a TableWriter in chunks; whether a scratch file was ever in use."""
    spilled = False
    with tables.TableWriter(path, rows=rows) as writer:
        for start in range(0, len(texts), chunk):
            part = pa.array(texts, pa.string()).slice(start, chunk)
            writer.write(part, np.array(labels[start : start + chunk], dtype=np.int64))
            spilled = spilled or writer.scratch.exists()
    return spilled


@pytest.mark.parametrize("chunk", [1, 2, 5, 100])
@pytest.mark.parametrize("rows", ["none", "exact", "fewer", "more"])
def test_table_writer_gives_write_table_bytes(tmp_path: Path, chunk: int, rows: str) -> None:
    texts = TEXTS * 7
    labels = list(range(len(texts)))
    expected = whole_table_bytes(texts, labels, tmp_path / "whole.arrow")
    path = tmp_path / "chunked.arrow"
    hint = {"none": None, "exact": len(texts), "fewer": 3, "more": 1000}[rows]
    spilled = write_chunked(path, texts, labels, chunk, hint)
    assert path.read_bytes() == expected
    assert not list(tmp_path.glob(".*")), "the scratch file is removed"
    # told the row count, the writer puts the characters where they belong, once
    assert spilled == (rows == "none")


@pytest.mark.parametrize("rows", [None, 42])
def test_table_writer_starts_a_batch_per_max_batch_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int | None
) -> None:
    """Past MAX_BATCH_BYTES of text, a new record batch: what write_table gives for a table
    whose column has those chunks (as pyarrow lays out text beyond 2 GiB)."""
    monkeypatch.setattr(tables, "MAX_BATCH_BYTES", 100)
    texts = TEXTS * 7
    labels = list(range(len(texts)))
    batches, current, size = [], [], 0
    for index, text in enumerate(texts):  # the writer's rule, with chunks of one row
        used = len(text.encode())
        if size + used > 100 and current:
            batches.append(current)
            current, size = [], 0
        current.append(index)
        size += used
    batches.append(current)
    assert len(batches) > 3
    expected_path = tmp_path / "whole.arrow"
    schema = pa.schema([("text", pa.string()), ("label", pa.int64())])
    with pa.OSFile(str(expected_path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(
                pa.record_batch(
                    [pa.array([texts[i] for i in batch]), pa.array(batch, pa.int64())],
                    schema=schema,
                )
            )
    path = tmp_path / "chunked.arrow"
    write_chunked(path, texts, labels, 1, rows)
    assert path.read_bytes() == expected_path.read_bytes()
    assert not list(tmp_path.glob(".*"))


def test_table_writer_leaves_no_scratch_on_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), tables.TableWriter(tmp_path / "t.arrow") as writer:
        writer.write(pa.array(["a"]), np.zeros(1, np.int64))
        raise RuntimeError("stop")
    assert not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("max_bytes", [1, 7, 50, 10_000])
def test_chunks_cover_the_table_in_order(tmp_path: Path, max_bytes: int) -> None:
    texts = TEXTS * 5
    path = tmp_path / "t.arrow"
    whole_table_bytes(texts, list(range(len(texts))), path)
    chunks = list(tables.iter_table_chunks(path, max_bytes=max_bytes))
    assert [text for chunk in chunks for text in chunk.column("text").to_pylist()] == texts
    assert [label for chunk in chunks for label in chunk.column("label").to_pylist()] == list(
        range(len(texts))
    )
    if max_bytes == 1:
        assert len(chunks) == len(texts)


def test_npy_writer_gives_np_save_bytes(tmp_path: Path) -> None:
    matrix = np.arange(7 * 5, dtype=np.int32).reshape(7, 5)
    np.save(tmp_path / "whole.npy", matrix)
    writer = NpyWriter(tmp_path / "blocks.npy", matrix.shape, np.int32)
    for start in range(0, 7, 3):
        writer.write(matrix[start : start + 3])
    writer.close()
    assert (tmp_path / "blocks.npy").read_bytes() == (tmp_path / "whole.npy").read_bytes()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 1 << 30),
        ("512MB", 512 << 20),
        ("2g", 2 << 30),
        ("1.5GiB", int(1.5 * (1 << 30))),
        ("1000", 1000),
    ],
)
def test_memory_budget(monkeypatch: pytest.MonkeyPatch, text: str, expected: int) -> None:
    monkeypatch.setenv(tables.MEMORY_VARIABLE, text)
    assert tables.memory_budget() == expected


@pytest.mark.parametrize("text", ["lots", "0", "0GB", "0.0001"])
def test_memory_budget_refuses_nonsense(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(tables.MEMORY_VARIABLE, text)
    with pytest.raises(ConfigError, match=r"TEXTPIPE_MEMORY=.*: expected a size above 0"):
        tables.memory_budget()


def write_parquet(tmp_path: Path) -> tuple[Path, Path]:
    rows = sentiment_rows(300, seed=4, classes=3)
    rows[5] = ("héllo <b>wörld</b> ✓ 漢字!", rows[5][1])
    rows[9] = ("", rows[9][1])
    train, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    for path, part in ((train, rows[:240]), (test, rows[240:])):
        pq.write_table(
            pa.table(
                {"review": [text for text, _ in part], "sentiment": [label for _, label in part]}
            ),
            path,
            row_group_size=50,
        )
    return train, test


def file_digests(path: Path) -> dict[str, str]:
    return {
        item.name: hashlib.sha256(item.read_bytes()).hexdigest()
        for item in sorted(path.iterdir())
        if item.name != "manifest.json"
    }


def run_stages(root: Path, train: Path, test: Path) -> list[dict[str, str]]:
    store = Store(root)
    dataset = download(
        params=DownloadParams(
            source=str(train), test_file=str(test), validation_size=0.2, limit=200
        ),
        store=store,
    ).artifact
    normalized = normalize(
        dataset=dataset, params=NormalizeParams(strip_html=True), store=store
    ).artifact
    vocab = build_vocab(normalized=normalized, params=VocabParams(size=30), store=store).artifact
    encoded = encode(
        normalized=normalized, vocab=vocab, params=EncodeParams(length=6), store=store
    ).artifact
    return [file_digests(artifact.path) for artifact in (dataset, normalized, vocab, encoded)]


def test_stages_give_the_same_bytes_in_tiny_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, test = write_parquet(tmp_path)
    whole = run_stages(tmp_path / "whole", train, test)
    monkeypatch.setattr(tables, "MIN_CHUNK_BYTES", 1)
    monkeypatch.setenv(tables.MEMORY_VARIABLE, "300")  # 30 bytes of text a chunk
    assert tables.chunk_bytes() == 30
    assert run_stages(tmp_path / "chunked", train, test) == whole


def test_parquet_download_matches_the_datasets_route(tmp_path: Path) -> None:
    """The pyarrow path writes what `datasets` + the whole-table writer wrote before it."""
    train, test = write_parquet(tmp_path)
    params = DownloadParams(source=str(train), test_file=str(test), validation_size=0.2, limit=200)
    streamed = download(params=params, store=Store(tmp_path / "store")).artifact
    resolved = download_module.resolve_source(params)
    loaded = download_module._load(resolved, params, tmp_path / "hf")
    prepared, label_names, _ = download_module._prepare(loaded, params)
    carved = download_module._sample_and_carve(prepared, params)
    assert streamed.stats["label_names"] == label_names
    assert set(carved) == set(streamed.stats["splits"])
    for name, table in carved.items():
        buffer = io.BytesIO()
        with pa.ipc.new_file(buffer, table.schema) as writer:
            writer.write_table(table)
        assert streamed.file(f"{name}.arrow").read_bytes() == buffer.getvalue(), name


def test_data_stages_do_not_import_pandas(tmp_path: Path) -> None:
    """pandas (through pa.array and friends) costs each stage process 0.2 s of start-up."""
    train, test = write_parquet(tmp_path)
    store_root = tmp_path / "store"
    dataset_path = download(
        params=DownloadParams(source=str(train), test_file=str(test)), store=Store(store_root)
    ).artifact.path
    script = f"""
import sys
from textpipe.artifacts import Store, open_artifact
from textpipe.config import DownloadParams, EncodeParams, NormalizeParams, VocabParams
from textpipe.stages.encode import encode
from textpipe.stages.normalize import normalize
from textpipe.stages.vocab import build_vocab
store = Store({str(store_root)!r})
dataset = open_artifact({str(dataset_path)!r}, stage=("download",))
normalized = normalize(dataset=dataset, params=NormalizeParams(strip_html=True),
                       store=store).artifact
vocab = build_vocab(normalized=normalized, params=VocabParams(size=30), store=store).artifact
encode(normalized=normalized, vocab=vocab, params=EncodeParams(length=6), store=store)
assert "pandas" not in sys.modules, "normalize, vocab or encode"
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_damaged_parquet_source_is_one_input_error(tmp_path) -> None:
    from textpipe.artifacts import Store
    from textpipe.config import DownloadParams
    from textpipe.errors import InputError
    from textpipe.stages.download import download

    damaged = tmp_path / "reviews.parquet"
    damaged.write_bytes(b"PAR1 this is not a parquet file PAR1")
    with pytest.raises(InputError, match="Cannot load"):
        download(params=DownloadParams(source=str(damaged)), store=Store(tmp_path / "store"))
