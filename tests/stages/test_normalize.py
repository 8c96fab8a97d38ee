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
