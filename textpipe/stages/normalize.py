"""The normalize stage: lowercase, strip punctuation/symbols and HTML, collapse whitespace.

Input: a download artifact. Output: the same splits with normalized ``text``. The semantics are
defined in ``textpipe.textops`` and carried into ``tokenizer.json`` by the vocab stage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textpipe.arrays import compute, to_numpy
from textpipe.artifacts import Artifact, Outcome, Store
from textpipe.config import NormalizeParams
from textpipe.progress import Progress, or_silent
from textpipe.stages.base import Stage
from textpipe.stages.tables import (
    TABLE_SUFFIX,
    TableWriter,
    iter_split_chunks,
    split_names,
)
from textpipe.textops import normalize_parts

STAGE = Stage(
    name="normalize",
    version=1,
    params=NormalizeParams,
    inputs={"dataset": "download"},
    function="normalize",
)


def normalize(
    *,
    dataset: Artifact,
    params: NormalizeParams,
    store: Store,
    output: str | Path | None = None,
    force: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
) -> Outcome:
    """Normalize the text of every split of a download artifact.

    Args:
        dataset: the download artifact.
        params: which normalization steps to apply.
        store: the artifact store.
        output: an explicit artifact directory, in addition to the store.
        force: rebuild even when cached.
        threads: threads for the text kernels (default: the usable cores).
        progress: where to report progress.

    Returns:
        The cache outcome; stats hold per split the rows and texts left empty.
    """
    progress = or_silent(progress)

    def build(directory: Path) -> dict[str, Any]:
        splits: dict[str, Any] = {}
        names = split_names(dataset)
        with progress.task("normalize", total=len(names)) as advance:
            for name in names:
                rows = empty = characters = 0
                expected = dataset.stats["splits"][name].get("rows")
                with TableWriter(directory / f"{name}{TABLE_SUFFIX}", rows=expected) as writer:
                    for chunk in iter_split_chunks(dataset, name):
                        labels = to_numpy(chunk.column("label"))
                        start = 0
                        for normalized in normalize_parts(
                            chunk.column("text"), params, threads=threads
                        ):
                            end = start + len(normalized)
                            writer.write(normalized, labels[start:end])
                            start = end
                            lengths = to_numpy(compute("utf8_length", normalized))
                            rows += len(lengths)
                            empty += int((lengths == 0).sum())
                            characters += int(lengths.sum())
                splits[name] = {
                    "rows": rows,
                    "empty_texts": empty,
                    "mean_characters": round(characters / rows, 1) if rows else 0.0,
                }
                advance(1)
        return {
            "splits": splits,
            "label_names": dataset.stats["label_names"],
            "num_classes": dataset.stats["num_classes"],
        }

    return store.produce(
        STAGE.identity_of(params, {"dataset": dataset}),
        build=build,
        output=output,
        force=force,
        notice=progress.note,
    )
