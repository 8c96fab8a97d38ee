"""Reading and writing the split tables inside artifacts (Arrow IPC files, memory-mapped)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textpipe.artifacts import Artifact
from textpipe.errors import ArtifactError

if TYPE_CHECKING:
    import pyarrow as pa

SPLIT_ORDER = ("train", "validation", "test")
TABLE_SUFFIX = ".arrow"


def write_table(table: pa.Table, path: Path) -> None:
    """Write an uncompressed Arrow IPC file: the fastest format to read back."""
    import pyarrow as pa

    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def read_table(path: Path) -> pa.Table:
    """Read an Arrow IPC file, memory-mapped."""
    import pyarrow as pa

    with pa.memory_map(str(path), "r") as source:
        return pa.ipc.open_file(source).read_all()


def split_names(artifact: Artifact) -> list[str]:
    """The splits of a table artifact, in train, validation, test order."""
    names = artifact.stats.get("splits", {}).keys()
    return sorted(
        names, key=lambda name: (SPLIT_ORDER.index(name) if name in SPLIT_ORDER else 9, name)
    )


def read_split(artifact: Artifact, split: str) -> pa.Table:
    """One split of a download or normalize artifact."""
    names = split_names(artifact)
    if split not in names:
        raise ArtifactError(
            f"{artifact.path}: no split {split!r}. Splits: {', '.join(names) or 'none'}."
        )
    return read_table(artifact.file(f"{split}{TABLE_SUFFIX}"))
