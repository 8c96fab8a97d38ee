"""The normalize stage: every split written, statistics, caching, and its input checked.

The normalization itself (the definition and the fast path) is tested in
``tests/test_textops.py``."""

from __future__ import annotations

import pytest

from textpipe.artifacts import Store
from textpipe.config import DownloadParams, NormalizeParams
from textpipe.errors import ArtifactError
from textpipe.stages.download import download
from textpipe.stages.normalize import normalize
from textpipe.stages.tables import read_split


def test_stage_writes_every_split_and_counts_empty_texts(
    tmp_path, reviews_csv, reviews_test_csv
) -> None:
    store = Store()
    dataset = download(
        params=DownloadParams(source=str(reviews_csv), test_file=str(reviews_test_csv)), store=store
    ).artifact
    outcome = normalize(dataset=dataset, params=NormalizeParams(strip_html=True), store=store)
    train = read_split(outcome.artifact, "train")
    assert train.column("text")[0].as_py() == "a wonderful moving film loved it"
    assert (
        train.column("label").to_pylist()
        == read_split(dataset, "train").column("label").to_pylist()
    )
    assert set(outcome.artifact.stats["splits"]) == {"train", "test"}
    assert outcome.artifact.stats["label_names"] == ["neg", "pos"]
    again = normalize(dataset=dataset, params=NormalizeParams(strip_html=True), store=store)
    assert again.status == "cached"
    changed = normalize(dataset=dataset, params=NormalizeParams(), store=store)
    assert changed.status == "built" and changed.artifact.key != outcome.artifact.key


def test_wrong_input_stage_is_rejected(reviews_csv) -> None:
    from textpipe.artifacts import open_artifact

    store = Store()
    dataset = download(params=DownloadParams(source=str(reviews_csv)), store=store).artifact
    normalized = normalize(dataset=dataset, params=NormalizeParams(), store=store).artifact
    with pytest.raises(ArtifactError, match="expected an artifact of stage download"):
        open_artifact(normalized.path, stage=("download",))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_rows_and_labels_stay_aligned_across_threads_and_spliced_rows(
    tmp_path, monkeypatch, threads
) -> None:
    """Each thread's share is written as it is, with the rows beyond Latin-1 (normalized by
    the definition) spliced in: every text keeps its own label, in order, chunk after chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from textpipe.stages import tables
    from textpipe.textops import build_normalizer

    texts = [
        f"Row {index}: " + ("naïve ✓ 漢字 “quoted”" if index % 97 == 0 else "Plain <b>text</b>!")
        for index in range(5000)
    ]
    labels = [index % 7 for index in range(5000)]
    source = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"text": texts, "label": labels}), source)
    store = Store()
    dataset = download(params=DownloadParams(source=str(source)), store=store).artifact
    params = NormalizeParams(strip_html=True)
    monkeypatch.setattr(tables, "MIN_CHUNK_BYTES", 1)
    monkeypatch.setenv(tables.MEMORY_VARIABLE, "800KB")  # chunks of about 3,000 rows
    assert len(list(tables.iter_split_chunks(dataset, "train"))) == 2
    outcome = normalize(dataset=dataset, params=params, store=store, threads=threads)
    train = read_split(outcome.artifact, "train")
    definition = build_normalizer(params)
    assert train.column("text").to_pylist() == [definition.normalize_str(text) for text in texts]
    assert (
        train.column("label").to_pylist()
        == read_split(dataset, "train").column("label").to_pylist()
    )
    assert len(set(train.column("label").to_pylist())) == 7
