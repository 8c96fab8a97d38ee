"""Reading and writing the split tables inside artifacts (Arrow IPC files), in bounded memory.

A split table has two columns, ``text`` (string) and ``label`` (int64), in one record batch, as
``pyarrow``'s own writer lays out a whole table (a split whose text passes 2 GiB, which one string
array cannot hold, takes more batches). The data stages read and write them in chunks whose size
follows the memory budget (``TEXTPIPE_MEMORY``), so their peak memory does not grow with the
corpus, and the files stay byte for byte what writing the whole table at once gives:

- reading memory-maps the file and hands out row slices of about ``chunk_bytes`` of text; the
  pages of a slice are dropped from the process (``madvise(MADV_DONTNEED)``) once it is done;
- writing keeps only the offsets and labels (12 bytes a row) and puts each chunk's characters
  where the file will hold them, when the row count is known (the offsets before them take 4
  bytes a row; where the writer puts the characters is found by laying the batch out with
  placeholder buffers), else in a scratch file; at the end ``pyarrow`` writes the file through
  a sink that steps over the characters already in place (or copies the spilled ones in) where
  the writer emits the (never touched) placeholder buffer.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textpipe.artifacts import Artifact
from textpipe.errors import ArtifactError, ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

SPLIT_ORDER = ("train", "validation", "test")
TABLE_SUFFIX = ".arrow"
MEMORY_VARIABLE = "TEXTPIPE_MEMORY"
DEFAULT_MEMORY = 1 << 30
# Text per chunk = budget / CHUNK_DIVISOR: a stage's working set is a few copies of the chunk
# (kernel outputs, tokens, ids) beside the interpreter and libraries (about 150 MB).
CHUNK_DIVISOR = 10
MIN_CHUNK_BYTES = 1 << 20
# One string array holds at most 2 GiB of characters (int32 offsets).
MAX_BATCH_BYTES = 2**31 - 1
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def memory_budget() -> int:
    """Bytes the data stages aim to stay within: ``TEXTPIPE_MEMORY`` (``1GB``, ``512MB``...).

    Raises:
        ConfigError: the variable is not a size, or is 0.
    """
    text = os.environ.get(MEMORY_VARIABLE, "").strip().lower()
    if not text:
        return DEFAULT_MEMORY
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", text)
    size = int(float(match.group(1)) * _UNITS[match.group(2)]) if match else 0
    if size < 1:  # not a size, or no memory at all
        raise ConfigError(
            f"{MEMORY_VARIABLE}={text!r}: expected a size above 0, such as 1GB, 512MB or "
            "2000000000."
        )
    return size


def chunk_bytes() -> int:
    """Characters of text a data stage handles at once under the memory budget."""
    return max(MIN_CHUNK_BYTES, min(memory_budget() // CHUNK_DIVISOR, 1 << 30))


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


def split_path(artifact: Artifact, split: str) -> Path:
    """The table file of one split of a download or normalize artifact."""
    names = split_names(artifact)
    if split not in names:
        raise ArtifactError(
            f"{artifact.path}: no split {split!r}. Splits: {', '.join(names) or 'none'}."
        )
    return artifact.file(f"{split}{TABLE_SUFFIX}")


def read_split(artifact: Artifact, split: str) -> pa.Table:
    """One whole split of a download or normalize artifact (memory-mapped)."""
    return read_table(split_path(artifact, split))


def _value_offsets(array: pa.Array) -> np.ndarray:
    """The int32 offsets of a string array's rows into its character buffer (no copy)."""
    import numpy as np

    return np.frombuffer(array.buffers()[1], dtype=np.int32)[
        array.offset : array.offset + len(array) + 1
    ]


def iter_table_chunks(path: Path, *, max_bytes: int | None = None) -> Iterator[pa.RecordBatch]:
    """Row slices of a split table holding about ``max_bytes`` of text each, in order.

    The file is memory-mapped; the pages of a slice are released once the consumer asks for
    the next one, so only about one slice is resident at a time.
    """
    import numpy as np
    import pyarrow as pa

    max_bytes = max_bytes or chunk_bytes()
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        mapping = mmap.mmap(stream.fileno(), size, access=mmap.ACCESS_READ)
    base = pa.py_buffer(mapping)
    reader = pa.ipc.open_file(base)
    start_address = base.address
    page = mmap.PAGESIZE

    def release(begin: int, end: int) -> None:
        begin = (begin - start_address) // page * page
        end = min(size, end - start_address)
        if end > begin and hasattr(mapping, "madvise"):
            mapping.madvise(mmap.MADV_DONTNEED, begin, end - begin)

    try:
        for index in range(reader.num_record_batches):
            batch = reader.get_batch(index)
            text = batch.column(batch.schema.get_field_index("text"))
            offsets = _value_offsets(text).astype(np.int64)
            rows = len(text)
            start = 0
            while start < rows or (rows == 0 and start == 0):
                target = offsets[start] + max_bytes
                end = int(np.searchsorted(offsets, target, side="right")) - 1
                end = min(rows, max(end, start + 1))
                piece = batch.slice(start, end - start)
                yield piece
                values = text.buffers()[2]
                if values is not None and values.size:
                    release(
                        values.address + int(offsets[start]), values.address + int(offsets[end])
                    )
                del piece
                if rows == 0:
                    break
                start = end
            del batch, text
    finally:
        del reader, base
        # a consumer may still hold a slice; the mapping then closes with it
        with contextlib.suppress(BufferError):
            mapping.close()


def iter_split_chunks(
    artifact: Artifact, split: str, *, max_bytes: int | None = None
) -> Iterator[pa.RecordBatch]:
    """Row slices of one split of a download or normalize artifact (see iter_table_chunks)."""
    return iter_table_chunks(split_path(artifact, split), max_bytes=max_bytes)


def table_rows(path: Path) -> int:
    """Rows of an Arrow IPC split table, from its metadata."""
    import pyarrow as pa

    with pa.memory_map(str(path), "r") as source:
        reader = pa.ipc.open_file(source)
        return sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))


class _SubstitutingSink:
    """A file-like sink for ``pyarrow``: writes through, except that a placeholder buffer is
    replaced by the bytes of the scratch file registered for its address, or skipped when they
    are in the file already (``in_place``)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.position = 0
        self.substitutes: dict[int, tuple[Path | None, int]] = {}
        self.closed = False

    def write(self, data: Any) -> int:
        import pyarrow as pa

        if isinstance(data, pa.Buffer) and data.address in self.substitutes:
            scratch, size = self.substitutes.pop(data.address)
            if data.size != size:
                raise RuntimeError(f"placeholder of {size} bytes written as {data.size}")
            if scratch is None:  # written in place: step over them
                self.stream.seek(size, os.SEEK_CUR)
            else:
                with scratch.open("rb") as source:
                    shutil.copyfileobj(source, self.stream, 1 << 22)
            written = data.size
        else:
            written = self.stream.write(data)
        self.position += written
        return written

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True


class _CountingSink:
    """A sink that keeps nothing: it finds where a writer puts one buffer (``target``)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.position = 0
        self.found: int | None = None
        self.closed = False

    def write(self, data: Any) -> int:
        import pyarrow as pa

        if isinstance(data, pa.Buffer) and data.address == self.target:
            self.found = self.position
        size = data.size if isinstance(data, pa.Buffer) else memoryview(data).nbytes
        self.position += size
        return size

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True


def _first_values_position(schema: pa.Schema, rows: int, characters: int) -> int | None:
    """Where ``pyarrow`` writes the characters of a file's first record batch of ``rows`` rows
    and ``characters`` bytes of text (None: not as one buffer), found by writing the batch with
    placeholder buffers (untouched, so using no memory) to a sink that keeps nothing."""
    import pyarrow as pa

    def placeholder(size: int) -> Any:
        return mmap.mmap(-1, size) if size else b""

    values = pa.py_buffer(placeholder(characters))
    offsets = placeholder(4 * (rows + 1))
    # the writer reads the first and last offsets to know how many characters there are
    struct.pack_into("<i", offsets, 4 * rows, characters)
    text = pa.Array.from_buffers(pa.string(), rows, [None, pa.py_buffer(offsets), values])
    label = pa.Array.from_buffers(pa.int64(), rows, [None, pa.py_buffer(placeholder(8 * rows))])
    sink = _CountingSink(values.address)
    with pa.ipc.new_file(pa.PythonFile(sink, mode="w"), schema) as writer:
        writer.write_batch(pa.RecordBatch.from_arrays([text, label], schema=schema))
    return sink.found


class TableWriter:
    """Writes a split table chunk by chunk, in bounded memory, with the bytes ``write_table``
    gives for the whole table (one record batch per 2 GiB of text).

    Given the number of rows (``rows``), the characters are written once, straight to where
    the file holds them (after the header and the offsets, whose size the row count decides);
    otherwise, and for every batch when the text passes 2 GiB (the first batch's rows then
    differ from the count, so what was written in place moves to the scratch file too), they
    are spilled to a scratch file and copied in at the end. Use as a context manager; ``write``
    takes a string array and int64 labels.
    """

    def __init__(self, path: Path, rows: int | None = None) -> None:
        import pyarrow as pa

        self.path = path
        self.schema = pa.schema([("text", pa.string()), ("label", pa.int64())])
        self.scratch = path.with_name(f".{path.name}.characters")
        self.expected_rows = rows
        self._stream: Any = None
        self._sink: _SubstitutingSink | None = None
        self._writer: Any = None
        self._spill: Any = None
        # file position of the first batch's characters while they are written in place
        self._in_place: int | None = None
        self.rows = 0

    def _reset(self) -> None:
        self._characters = 0
        self._offsets: list[np.ndarray] = []
        self._labels: list[np.ndarray] = []
        if self._in_place is None:
            self._spill = self.scratch.open("wb")

    def __enter__(self) -> TableWriter:
        import pyarrow as pa

        self._stream = self.path.open("w+b")
        if self.expected_rows and hasattr(os, "pwrite"):  # (not on Windows: spill instead)
            self._in_place = _first_values_position(self.schema, self.expected_rows, 1)
        self._reset()
        self._sink = _SubstitutingSink(self._stream)
        self._writer = pa.ipc.new_file(pa.PythonFile(self._sink, mode="w"), self.schema)
        return self

    def write(self, text: pa.Array, labels: np.ndarray) -> None:
        """Append rows: normalized texts (string, no nulls) and their labels."""
        import numpy as np
        import pyarrow as pa

        if isinstance(text, pa.ChunkedArray):  # chunk by chunk: joining them would copy
            start = 0
            for chunk in text.chunks:
                self.write(chunk, labels[start : start + len(chunk)])
                start += len(chunk)
            return
        offsets = _value_offsets(text)
        used = int(offsets[-1]) - int(offsets[0])
        if self._characters + used > MAX_BATCH_BYTES and self._offsets:
            self._flush_batch()
        values = text.buffers()[2]
        if used:
            characters = memoryview(values)[int(offsets[0]) : int(offsets[-1])]
            if self._in_place is not None:
                self._write_at(characters, self._in_place + self._characters)
            else:
                self._spill.write(characters)
        self._offsets.append(offsets[1:].astype(np.int64) - int(offsets[0]) + self._characters)
        self._labels.append(np.asarray(labels, dtype=np.int64))
        self._characters += used
        self.rows += len(text)

    def _write_at(self, data: memoryview, position: int) -> None:
        """Write bytes at a file position (the writer's own position does not move)."""
        descriptor = self._stream.fileno()
        while len(data):
            written = os.pwrite(descriptor, data, position)
            data, position = data[written:], position + written

    def _flush_batch(self) -> None:
        import numpy as np
        import pyarrow as pa

        offsets = np.concatenate([np.zeros(1, np.int64), *self._offsets]).astype(np.int32)
        labels = np.concatenate(self._labels) if self._labels else np.zeros(0, np.int64)
        rows = len(labels)
        if self._in_place is not None:
            start, self._in_place = self._in_place, None
            if (
                self._characters
                and _first_values_position(self.schema, rows, self._characters) != start
            ):
                # this batch is laid out otherwise (it is not the whole table): spill after all
                self._move_to_scratch(start)
                source: Path | None = self.scratch
            else:
                source = None
        else:
            self._spill.close()
            source = self.scratch
        placeholder: Any = None
        if self._characters:
            placeholder = mmap.mmap(-1, self._characters)  # never touched: no memory used
            values = pa.py_buffer(placeholder)
            assert self._sink is not None
            self._sink.substitutes[values.address] = (source, self._characters)
        else:
            values = pa.py_buffer(b"")
        text = pa.Array.from_buffers(pa.string(), rows, [None, pa.py_buffer(offsets), values])
        label = pa.Array.from_buffers(pa.int64(), rows, [None, pa.py_buffer(labels)])
        self._writer.write_batch(pa.RecordBatch.from_arrays([text, label], schema=self.schema))
        if placeholder is not None and values.address in self._sink.substitutes:
            # pyarrow wrote the placeholder some other way: the text would be zero bytes
            raise RuntimeError(f"{self.path}: the text of a batch was not written")
        del text, values
        self.scratch.unlink(missing_ok=True)
        self._reset()

    def _move_to_scratch(self, start: int) -> None:
        """Copy the characters written in place to the scratch file; the writer then writes
        the file from its start as usual."""
        self._stream.flush()
        self._stream.seek(start)
        with self.scratch.open("wb") as scratch:
            remaining = self._characters
            while remaining:
                block = self._stream.read(min(remaining, 1 << 22))
                if not block:
                    raise RuntimeError(f"{self.path}: ended before the characters written to it")
                scratch.write(block)
                remaining -= len(block)
        self._stream.seek(self._sink.position if self._sink else 0)
        self._stream.truncate()

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        try:
            if kind is None:
                if self._offsets or self.rows == 0:
                    self._flush_batch()
                self._writer.close()
        finally:
            if self._spill is not None:
                self._spill.close()
            self.scratch.unlink(missing_ok=True)
            self._stream.close()


def patch_labels(path: Path, labels: np.ndarray) -> None:
    """Write a split table's labels in place: the file then holds the bytes the table with
    these labels gives (a table written with placeholder labels before they were known).

    Raises:
        RuntimeError: the file does not have one label per row.
    """
    import numpy as np
    import pyarrow as pa

    labels = np.ascontiguousarray(labels, dtype="<i8")
    if table_rows(path) != len(labels):
        raise RuntimeError(f"{path}: {len(labels)} labels for {table_rows(path)} rows")
    positions = []
    with open(path, "rb") as stream:
        mapping = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        base = pa.py_buffer(mapping)
        reader = pa.ipc.open_file(base)
        start = 0
        column = None
        for index in range(reader.num_record_batches):
            column = reader.get_batch(index).column("label")
            if len(column):
                positions.append((column.buffers()[1].address - base.address, start, len(column)))
            start += len(column)
        del reader, base, column
    finally:
        with contextlib.suppress(BufferError):
            mapping.close()
    with path.open("r+b") as stream:
        for position, start, rows in positions:
            stream.seek(position)
            stream.write(memoryview(labels[start : start + rows]).cast("B"))
