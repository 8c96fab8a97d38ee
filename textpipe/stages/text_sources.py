"""Reading csv, tsv and JSON Lines sources in record batches, as ``datasets`` reads them.

The download stage used to load these files whole through ``datasets`` (pandas for csv, one
``pyarrow.json`` call per 10 MB for JSON Lines). These readers give the same rows and the same
values in batches, so the stage's memory does not grow with the file. Where a file holds
something they cannot read exactly as ``datasets`` would (a row with missing or extra fields, a
column pandas would turn into numbers in one of its 10,000-row chunks and not in another, a
JSON field whose type changes between batches...), they raise ``Unstreamable`` and the stage
loads the file through ``datasets`` as before: same artifact, same errors, only slower.
"""

from __future__ import annotations

import codecs
import collections
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

# pandas.read_csv's default missing values (pandas._libs.parsers.STR_NA_VALUES), which
# `datasets` keeps: a field holding exactly one of them is missing, quoted or not.
PANDAS_NA_VALUES = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)
# `datasets` reads a csv with pandas in chunks of this many rows, and pandas decides each
# column's type in each chunk on its own.
PANDAS_CHUNK_ROWS = 10_000
# Values pandas might read as a number or a boolean (a superset: a false alarm only costs the
# fallback). A chunk of a column none of whose values is outside it may not stay text.
MAYBE_NOT_TEXT = (
    r"(?i)^\s*[+-]?(?:[0-9_.#]*(?:e[+-]?[0-9]*)?|inf|infinity|nan|ind|qnan|true|false)\s*$"
)
# Whole numbers that pandas and pyarrow both read as the same int64.
PLAIN_INTEGER = r"^-?[0-9]{1,18}$"
# `datasets`' JSON reader: 10 MB (JsonConfig.chunksize), then the rest of the line, parsed with
# one pyarrow.json call whose block size it derives from the batch's length.
JSON_CHUNK_BYTES = 10 << 20
UTF8_BLOCK_BYTES = 1 << 24
# pyarrow.json's error on a field whose values are of several JSON types ("Column(/label)
# changed from string to number in row 1"): the field's path.
MIXED_JSON_TYPES = re.compile(r"Column\((/.*)\) changed from \w+ to \w+")


class Unstreamable(Exception):
    """The file holds something the streamed readers cannot read exactly as ``datasets``."""


class ColumnTypes(Unstreamable):
    """A JSON Lines file holds nested values (``nested``: the columns and their types) or a
    field whose values are of several JSON types (``mixed``: its path, "label" or
    "meta/[]"). ``datasets`` stores the first as they are and the second as JSON text, or
    casts them to the types of the first file it read."""

    def __init__(
        self,
        message: str,
        *,
        nested: dict[str, pa.DataType] | None = None,
        mixed: str | None = None,
    ) -> None:
        super().__init__(message)
        self.nested = nested or {}
        self.mixed = mixed

    def holds(self, column: str) -> bool:
        """Whether ``column`` is nested, or holds values of several types (at any depth)."""
        mixed = self.mixed is not None and (
            self.mixed == column or self.mixed.startswith(column + "/")
        )
        return mixed or column in self.nested


def check_utf8(path: Path) -> tuple[int, int] | None:
    """The offset and value of the first byte that is not valid UTF-8, or None; read in blocks
    (the offset is the one decoding the whole file reports)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as stream:
        while True:
            block = stream.read(UTF8_BLOCK_BYTES)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as error:
                return offset - pending + error.start, error.object[error.start]
            if not block:
                return None
            offset += len(block)


@dataclass
class ColumnKinds:
    """Per 10,000-row pandas chunk of one csv column: rows, missing values, values that are
    surely text, and present values that are not plain integers."""

    rows: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    text: list[int] = field(default_factory=list)
    not_integer: list[int] = field(default_factory=list)

    def add(self, column: pa.Array, start: int) -> None:
        """Count a batch of string values whose first row is row ``start`` of the file."""
        import numpy as np
        import pyarrow.compute as pc

        present = np.asarray(column.is_valid())
        surely_text = present & ~np.asarray(
            pc.match_substring_regex(column, MAYBE_NOT_TEXT).fill_null(True)
        )
        integer = np.asarray(pc.match_substring_regex(column, PLAIN_INTEGER).fill_null(False))
        chunk = (start + np.arange(len(column))) // PANDAS_CHUNK_ROWS
        first = start // PANDAS_CHUNK_ROWS
        chunk -= first
        size = int(chunk[-1]) + 1 if len(chunk) else 0
        for counts, weights in (
            (self.rows, None),
            (self.missing, ~present),
            (self.text, surely_text),
            (self.not_integer, present & ~integer),
        ):
            added = np.bincount(chunk, weights=weights, minlength=size).astype(np.int64)
            while len(counts) < first + size:
                counts.append(0)
            for index, value in enumerate(added.tolist()):
                counts[first + index] += value

    def all_text(self) -> bool:
        """pandas keeps every chunk as strings (each has a value it cannot read otherwise)."""
        return all(count > 0 for count in self.text)

    def all_integers(self, *, allow_missing: bool) -> bool:
        """pandas reads every chunk as integers (or as floats, where values are missing)."""
        return all(count == 0 for count in self.not_integer) and (
            allow_missing or all(count == 0 for count in self.missing)
        )

    def all_missing(self) -> bool:
        """Every value is missing (pandas: a float column of NaN in every chunk)."""
        return all(missing == rows for missing, rows in zip(self.missing, self.rows, strict=True))


def csv_columns(path: Path, delimiter: str) -> list[str]:
    """A csv file's column names, as its header gives them.

    Raises:
        Unstreamable: pyarrow cannot read the header, or pandas would rename a column (an
            empty or repeated name).
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=1 << 20, use_threads=False),
            parse_options=_csv_parse_options(delimiter),
            convert_options=pcsv.ConvertOptions(include_columns=[]),
        )
        names = list(reader.schema.names)
    except (pa.ArrowException, ValueError) as error:
        raise Unstreamable(str(error)) from None
    if not names or len(set(names)) != len(names) or "" in names:
        raise Unstreamable("empty or repeated column names")
    return names


def _csv_parse_options(delimiter: str) -> Any:
    import pyarrow.csv as pcsv

    return pcsv.ParseOptions(
        delimiter=delimiter,
        quote_char='"',
        double_quote=True,
        escape_char=False,
        newlines_in_values=True,
        ignore_empty_lines=True,
    )


def csv_batches(
    path: Path, delimiter: str, columns: list[str], block_bytes: int
) -> Iterator[pa.RecordBatch]:
    """A csv file's rows in batches of about ``block_bytes``, every column as strings, null
    where pandas sees a missing value.

    Raises:
        Unstreamable: a row pyarrow cannot read (pandas may still read it: fewer fields than
            the header, a blank-looking line...).
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=block_bytes, use_threads=True),
            parse_options=_csv_parse_options(delimiter),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(columns, pa.string()),
                null_values=list(PANDAS_NA_VALUES),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        if list(reader.schema.names) != columns:
            raise Unstreamable("the header changed")
        yield from reader
    except (pa.ArrowException, ValueError) as error:
        raise Unstreamable(str(error)) from None


def _json_batch_bytes(path: Path) -> Iterator[bytes]:
    """The byte batches ``datasets`` cuts a JSON Lines file into (a leading BOM dropped)."""
    with path.open("rb") as stream:
        first = True
        while True:
            batch = stream.read(JSON_CHUNK_BYTES)
            if not batch:
                return
            if first and batch.startswith(codecs.BOM_UTF8):
                batch = batch[len(codecs.BOM_UTF8) :]
            if first and batch.startswith(b"["):
                raise Unstreamable("a JSON array, not JSON Lines")
            first = False
            yield batch + stream.readline()


def _parse_json(batch: bytes) -> pa.Table:
    import io

    import pyarrow.json as paj

    block_size = max(JSON_CHUNK_BYTES // 32, 16 << 10)
    if len(batch) // 8 > block_size:
        block_size = len(batch)
    table = paj.read_json(io.BytesIO(batch), read_options=paj.ReadOptions(block_size=block_size))
    table.validate()
    return table


def json_batches(path: Path, *, threads: int = 2) -> Iterator[pa.Table]:
    """A JSON Lines file's rows as ``datasets`` reads them, batch by batch (``threads``
    batches parsed side by side).

    Raises:
        Unstreamable: a batch pyarrow cannot parse in one go (``datasets`` then retries with
            other settings or reads the file whole), or batches whose columns or types differ
            (``datasets`` casts them to the first batch's, or fails).
        ColumnTypes: a nested value, or a field of values of several types in one batch
            (``datasets`` may store them as JSON text).
    """
    import pyarrow as pa

    schema: pa.Schema | None = None
    try:
        with ThreadPoolExecutor(max(1, threads)) as pool:
            pending: collections.deque[Future[pa.Table]] = collections.deque()
            batches = _json_batch_bytes(path)
            exhausted = False
            while pending or not exhausted:
                while not exhausted and len(pending) < max(1, threads):
                    batch = next(batches, None)
                    if batch is None:
                        exhausted = True
                    else:
                        pending.append(pool.submit(_parse_json, batch))
                if not pending:
                    break
                table = pending.popleft().result()
                if schema is None:
                    schema = table.schema
                    nested = {
                        field.name: field.type for field in schema if pa.types.is_nested(field.type)
                    }
                    if nested:
                        raise ColumnTypes("a nested value", nested=nested)
                elif table.schema != schema:
                    raise Unstreamable("batches of different types")
                yield table
    except (pa.ArrowException, ValueError) as error:
        mixed = MIXED_JSON_TYPES.search(str(error))
        if mixed is not None:
            raise ColumnTypes(str(error), mixed=mixed.group(1)[1:]) from None
        raise Unstreamable(str(error)) from None
