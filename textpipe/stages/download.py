"""The download stage: a dataset from the hub, a local folder or files, as integer-labelled splits.

Output: ``{split}.arrow`` (columns ``text``: string, ``label``: int64) for train, validation and
test where present, and in the manifest the label names and per-split class counts.

Parquet, csv, tsv and JSON Lines files, and dataset folders of them (the hub's layout, as
``datasets`` resolves it), are read in batches, in bounded memory, with the bytes and the errors
that loading them through ``datasets`` gave; hub datasets, and the sources the batch readers
cannot read exactly as ``datasets`` does, load through it, whole.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import itertools
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textpipe.artifacts import Outcome, Store, file_sha256
from textpipe.config import DownloadParams
from textpipe.errors import ConfigError, InputError
from textpipe.progress import Progress, or_silent
from textpipe.stages.base import KeyParts, Stage
from textpipe.stages.tables import TABLE_SUFFIX, write_table

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


FILE_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "json",
    ".json": "json",
    ".parquet": "parquet",
}
TEXT_COLUMN_CANDIDATES = (
    "text",
    "review",
    "sentence",
    "content",
    "document",
    "body",
    "comment",
    "tweet",
)
LABEL_COLUMN_CANDIDATES = (
    "label",
    "labels",
    "sentiment",
    "class",
    "target",
    "category",
    "polarity",
)
SPLIT_ALIASES = {
    "train": "train",
    "validation": "validation",
    "valid": "validation",
    "dev": "validation",
    "test": "test",
}
MIRROR_VARIABLE = "TEXTPIPE_MIRROR"
# The bytes of csv pyarrow reads at a time: its streaming reader reads up to 32 blocks ahead
# on a thread of its own, so a block is a 32nd of a chunk of text (see tables.chunk_bytes),
# within these bounds.
MIN_BLOCK_BYTES = 1 << 20
MAX_BLOCK_BYTES = 1 << 24
READ_AHEAD_BLOCKS = 32


@dataclass(frozen=True)
class ResolvedSource:
    """Where a source's data is read from, and the fingerprint of its content."""

    kind: str  # "hub", "folder" or "files"
    location: str
    fingerprint: str
    data_files: dict[str, str] | None = None


@lru_cache(maxsize=256)
def _content_digest(path: Path, size: int, modified_ns: int) -> str:
    """sha256 of a file, remembered per process while its size and mtime stay the same.

    `textpipe run` keys the download twice (the plan, then the stage), and a source can be
    tens of megabytes: hash it once. The cache key is only a guard within one process; the
    artifact key itself is the content hash.
    """
    del size, modified_ns
    return file_sha256(path)


def _file_digest(path: Path) -> str:
    status = path.stat()
    return _content_digest(path.resolve(), status.st_size, status.st_mtime_ns)


def _folder_fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            digest.update(f"{relative.as_posix()}\0{_file_digest(path)}\0".encode())
    return "sha256:" + digest.hexdigest()


@lru_cache(maxsize=256)
def _utf8_fault(path: Path, size: int, modified_ns: int) -> tuple[int, int] | None:
    """check_utf8, remembered per process while the file's size and mtime stay the same (a
    download checks its source when it is keyed and again once it is read)."""
    from textpipe.stages.text_sources import check_utf8

    del size, modified_ns
    return check_utf8(path)


def _check_utf8(path: Path) -> None:
    """Raise InputError naming the file and byte offset when a text file is not valid UTF-8."""
    status = path.stat()
    fault = _utf8_fault(path.resolve(), status.st_size, status.st_mtime_ns)
    if fault is not None:
        offset, value = fault
        raise InputError(
            f"{path}: not valid UTF-8 at byte offset {offset} "
            f"(byte 0x{value:02x}). Convert the file to UTF-8."
        )


def _local_file(path_text: str, role: str) -> Path:
    path = Path(path_text)
    if not path.exists():
        if not path.is_absolute():  # say where it looked: the pipeline file may be elsewhere
            raise InputError(
                f"{role} {path_text!r}: no such file or folder ({path.absolute()}: a relative "
                "path is read from the current directory)."
            )
        raise InputError(f"{role} {path_text!r}: no such file or folder.")
    if path.is_file() and path.suffix.lower() not in FILE_FORMATS:
        raise InputError(
            f"{path}: unsupported file type {path.suffix!r}. "
            f"Use one of {', '.join(sorted(FILE_FORMATS))}, or a dataset folder."
        )
    return path


def resolve_source(params: DownloadParams) -> ResolvedSource:
    """Find the source: a local file or folder, a mirrored hub id, or the hub itself.

    Raises:
        InputError: the path does not exist, the hub id is not in the mirror, or the hub is
            unreachable by configuration (offline).
    """
    source = params.source
    local = Path(source)
    looks_like_path = (
        local.exists()
        or local.suffix.lower() in FILE_FORMATS
        or source.startswith((".", "/", "~"))
        or source.count("/") > 1
    )
    if looks_like_path:
        path = _local_file(source, "Source")
        if path.is_dir():
            if params.test_file:
                raise ConfigError("download.test_file takes a file source, not a dataset folder.")
            return ResolvedSource("folder", str(path), _folder_fingerprint(path))
        files = {"train": path}
        if params.test_file:
            files["test"] = _local_file(params.test_file, "Test file")
        digest = hashlib.sha256()
        for split, file_path in files.items():
            if FILE_FORMATS[file_path.suffix.lower()] != "parquet":
                _check_utf8(file_path)
            digest.update(f"{split}\0{_file_digest(file_path)}\0".encode())
        return ResolvedSource(
            "files",
            str(path),
            "sha256:" + digest.hexdigest(),
            {split: str(file_path) for split, file_path in files.items()},
        )
    if params.test_file:
        raise ConfigError("download.test_file takes a file source, not a hub dataset.")
    mirror = os.environ.get(MIRROR_VARIABLE)
    if mirror:
        folder = Path(mirror) / source
        if folder.is_dir():
            return ResolvedSource("folder", str(folder), _folder_fingerprint(folder))
        raise InputError(
            f"Dataset {source!r} is not in the mirror {mirror} ({MIRROR_VARIABLE}); expected a "
            f"folder {folder}. Unset {MIRROR_VARIABLE} to load it from the Hugging Face hub."
        )
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        raise InputError(
            f"Dataset {source!r}: offline (HF_HUB_OFFLINE=1) and no mirror; "
            f"set {MIRROR_VARIABLE} to a folder that holds {source}."
        )
    return ResolvedSource("hub", source, f"hub:{source}@{params.revision or 'default'}")


def _load(resolved: ResolvedSource, params: DownloadParams, cache_dir: Path | None) -> Any:
    """Load a DatasetDict through ``datasets``."""
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:
        if resolved.kind == "files":
            assert resolved.data_files is not None
            suffix = Path(resolved.data_files["train"]).suffix.lower()
            builder = FILE_FORMATS[suffix]
            options: dict[str, Any] = {"delimiter": "\t"} if suffix == ".tsv" else {}
            return datasets.load_dataset(
                builder, data_files=resolved.data_files, cache_dir=cache_dir, **options
            )
        if resolved.kind == "folder":
            return datasets.load_dataset(resolved.location, cache_dir=cache_dir)
        return datasets.load_dataset(resolved.location, revision=params.revision)
    except (FileNotFoundError, ValueError) as error:
        raise InputError(f"Cannot load {params.source!r}: {error}") from None
    except Exception as error:  # datasets wraps parsing and network errors in many types
        name = type(error).__name__
        if "NotFound" in name or "Connection" in name or "HTTP" in name:
            hint = ""
            if resolved.kind == "hub":
                hint = (
                    f" Offline? Set {MIRROR_VARIABLE} to a folder that holds {params.source} "
                    "in the hub's layout."
                )
            raise InputError(f"Cannot load dataset {params.source!r}: {error}.{hint}") from None
        detail = str(error)
        cause = error.__cause__
        if name == "DatasetGenerationError" and cause is not None and str(cause).strip():
            # "An error occurred while generating the dataset": say which
            detail += f": {str(cause).strip().splitlines()[0]}"
        raise InputError(f"Cannot read {params.source!r} ({name}): {detail}") from None


def _pick_column(
    columns: list[str],
    given: str | None,
    candidates: tuple[str, ...],
    role: str,
    option: str,
    split: str,
) -> str:
    if given is not None:
        if given not in columns:
            raise InputError(
                f"Column {given!r} not found in {split} split. Columns: {', '.join(columns)}. "
                f"Pass {option}."
            )
        return given
    found = [name for name in columns if name.lower() in candidates]
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(
            f"No {role} column found in {split} split. Columns: {', '.join(columns)}. "
            f"Pass {option}."
        )
    raise InputError(
        f"Ambiguous {role} column in {split} split: {', '.join(found)}. Pass {option}."
    )


def stratified_sample(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Sorted indices of ``count`` rows drawn per class in proportion (largest remainder)."""
    import numpy as np

    if count >= len(labels):
        return np.arange(len(labels))
    classes, inverse = np.unique(labels, return_inverse=True)
    quota = _class_quotas(inverse, count)
    rng = np.random.default_rng(seed)
    picked = [
        rng.permutation(np.flatnonzero(inverse == index))[: quota[index]]
        for index in range(len(classes))
    ]
    return np.sort(np.concatenate(picked))


def _class_quotas(inverse: np.ndarray, count: int) -> np.ndarray:
    """Rows of each class (ids ``inverse``) in ``count``, in proportion (largest remainder)."""
    import numpy as np

    exact = np.bincount(inverse) * count / len(inverse)
    quota = np.floor(exact).astype(int)
    remainder_order = np.argsort(-(exact - quota), kind="stable")
    quota[remainder_order[: count - quota.sum()]] += 1
    return quota


def stratified_blocks(labels: np.ndarray, count: int, seed: int, block: int) -> np.ndarray:
    """Sorted indices of ``count`` rows per class in proportion, as ``stratified_sample``, but
    drawn as whole runs of ``block`` consecutive rows of a class (the last run cut to fit).

    Where related rows are stored together (IMDB keeps a movie's reviews side by side), a
    validation split of random rows shares nearly every group with the training rows and
    overstates accuracy on unseen groups; runs keep most groups on one side (a group that
    straddles a run's edge, or the run cut to fit, still falls on both). A class of at most
    ``block`` rows is one run, so its share is always its first rows, whatever the seed.
    """
    import numpy as np

    if block <= 1:
        return stratified_sample(labels, count, seed)
    if count >= len(labels):
        return np.arange(len(labels))
    classes, inverse = np.unique(labels, return_inverse=True)
    quota = _class_quotas(inverse, count)
    rng = np.random.default_rng(seed)
    picked = []
    for index in range(len(classes)):
        rows = np.flatnonzero(inverse == index)
        runs = [rows[start : start + block] for start in range(0, len(rows), block)]
        needed = int(quota[index])
        for order in rng.permutation(len(runs)):
            if needed <= 0:
                break
            picked.append(runs[order][:needed])
            needed -= len(picked[-1])
    return np.sort(np.concatenate(picked))


def _row_list(rows: Any, limit: int = 5, total: int | None = None) -> str:
    """The first ``limit`` of ``rows`` (of ``total``, when only the first few are given)."""
    total = len(rows) if total is None else total
    shown = ", ".join(str(int(row)) for row in rows[:limit])
    return shown + (f" and {total - limit:,} more" if total > limit else "")


def _rows_of(count: int, split: str) -> str:
    """How many rows of a split, and the verb: "1 row of the train split has", "2 rows of
    the train split have"."""
    if count == 1:
        return f"1 row of the {split} split has"
    return f"{count:,} rows of the {split} split have"


def _rows_without(what: str, column: str, split: str, rows: Any, total: int) -> InputError:
    """The error for rows with no text or no label: how many, and the first few."""
    option = "download.text_column" if what == "text" else "download.label_column"
    return InputError(
        f"{_rows_of(total, split)} no {what} in column {column!r} "
        f"({'row' if total == 1 else 'rows'} {_row_list(rows, total=total)}, counted from 0). "
        f"Remove {'it' if total == 1 else 'them'} or choose another {option}."
    )


def _is_json(data_type: pa.DataType) -> bool:
    """Whether a column is of JSON text (``datasets``' Json feature: values of several types)."""
    return getattr(data_type, "extension_name", None) == "arrow.json"


def _check_column_type(data_type: pa.DataType | None, column: str, role: str, split: str) -> None:
    """A text column must hold strings (numbers are read as text), a label column names or
    whole numbers: refuse nested values, and values of mixed types (``data_type`` None, or
    JSON text: what ``datasets`` makes of a JSON field whose values are of several types).

    Raises:
        InputError: naming the column, the split and what the column holds.
    """
    import pyarrow as pa

    if data_type is None or _is_json(data_type):
        if role == "label":
            raise InputError(
                f"Column {column!r} holds values of mixed types (e.g. strings and numbers) in "
                f"the {split} split; make every label the same type: all names or all whole "
                "numbers."
            )
        raise InputError(
            f"Column {column!r} holds values of mixed types (e.g. strings and numbers, or "
            f"strings and lists) in the {split} split; make every text a string."
        )
    if pa.types.is_nested(data_type):
        must = (
            "a label must be a name or a whole number"
            if role == "label"
            else "a text must be a string"
        )
        raise InputError(
            f"Column {column!r} holds {data_type} values in the {split} split; {must}."
        )


def _clean_labels(tables: dict[str, pa.Table], column: str) -> dict[str, pa.Table]:
    """Refuse missing labels (null, NaN) and fractional numbers; whole floats become ints.

    Raises:
        InputError: naming the split, the column and the first rows at fault.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    cleaned = {}
    for name, table in tables.items():
        labels = table.column("label")
        missing = labels.is_null()
        if pa.types.is_floating(labels.type):
            missing = pc.or_kleene(missing, pc.is_nan(labels)).fill_null(True)
        bad_rows = np.flatnonzero(np.asarray(missing.to_numpy(zero_copy_only=False), dtype=bool))
        if len(bad_rows):
            raise _rows_without("label", column, name, bad_rows, len(bad_rows))
        _check_column_type(labels.type, column, "label", name)
        if pa.types.is_floating(labels.type):
            values = labels.to_numpy()
            unusable = np.flatnonzero(~np.isfinite(values) | (np.abs(values) > 2**53))
            if len(unusable):
                raise InputError(
                    f"Column {column!r} holds {values[unusable[0]]!r} in row "
                    f"{int(unusable[0])} of the {name} split: a label must be a name or a whole "
                    "number of at most 2**53."
                )
            fractional = np.flatnonzero(values != np.round(values))
            if len(fractional):
                raise InputError(
                    f"Column {column!r} holds fractional numbers (e.g. {values[fractional[0]]!r} "
                    f"in row {int(fractional[0])} of the {name} split): textpipe classifies, a "
                    "label must be a class. Use whole numbers or names, or another "
                    "download.label_column."
                )
            table = table.set_column(
                table.schema.get_field_index("label"), "label", pa.array(values.astype(np.int64))
            )
        cleaned[name] = table
    return cleaned


def _pick_columns(columns: list[str], params: DownloadParams) -> tuple[str, str]:
    """The text and label columns of the train split, as given or found among common names."""
    text_column = _pick_column(
        columns, params.text_column, TEXT_COLUMN_CANDIDATES, "text", "download.text_column", "train"
    )
    label_column = _pick_column(
        columns,
        params.label_column,
        LABEL_COLUMN_CANDIDATES,
        "label",
        "download.label_column",
        "train",
    )
    if text_column == label_column:
        raise InputError(f"Text and label column are both {text_column!r}.")
    return text_column, label_column


def _check_columns(split: str, names: list[str], wanted: tuple[str, ...]) -> None:
    """Every split must have the train split's text and label columns."""
    missing = [column for column in wanted if column not in names]
    if missing:
        raise InputError(
            f"Column {missing[0]!r} not found in {split} split. Columns: {', '.join(names)}."
        )


def _label_mapping(
    tables: dict[str, pa.Table], class_names: list[str] | None
) -> tuple[list[str], dict[Any, int] | None]:
    """Label names, and a value-to-id map (None when the values already are ids).

    Classes are the labels of the train split; a label found only in another split is refused.
    """
    import pyarrow.compute as pc

    if class_names is not None:
        return list(class_names), None
    distinct = pc.unique(tables["train"].column("label")).drop_null().to_pylist()
    try:
        distinct = sorted(distinct)
    except TypeError:
        distinct = sorted(distinct, key=str)
    known = set(distinct)
    for name, table in tables.items():
        if name == "train":
            continue
        unseen = [
            value for value in pc.unique(table.column("label")).to_pylist() if value not in known
        ]
        if unseen:
            shown = ", ".join(repr(str(value)) for value in sorted(unseen, key=str)[:5])
            raise InputError(
                f"The {name} split has labels the train split never has: {shown}. A model "
                "cannot learn a class it never sees; fix the labels or drop those rows."
            )
    return [str(value) for value in distinct], {
        value: index for index, value in enumerate(distinct)
    }


def _prepare(
    dataset_dict: Any, params: DownloadParams
) -> tuple[dict[str, pa.Table], list[str], dict[str, str]]:
    """Select, check and relabel the splits; returns tables, label names and chosen columns."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    raw: dict[str, Any] = {}
    for name, split in dataset_dict.items():
        canonical = SPLIT_ALIASES.get(name.lower())
        if canonical is not None and canonical not in raw:
            raw[canonical] = split
    if "train" not in raw:
        raise InputError(
            f"{params.source!r} has no train split. Splits: {', '.join(dataset_dict.keys())}."
        )
    first = raw["train"]
    columns = list(first.column_names)
    text_column, label_column = _pick_columns(columns, params)
    tables: dict[str, pa.Table] = {}
    for name, split in raw.items():
        _check_columns(name, list(split.column_names), (text_column, label_column))
        table = split.data.table.select([text_column, label_column]).rename_columns(
            ["text", "label"]
        )
        if table.num_rows == 0:
            raise InputError(f"The {name} split of {params.source!r} is empty.")
        text = table.column("text")
        _check_column_type(text.type, text_column, "text", name)
        if text.null_count:
            rows = np.flatnonzero(np.asarray(text.is_null().to_numpy(zero_copy_only=False)))
            raise _rows_without("text", text_column, name, rows, len(rows))
        tables[name] = table
    feature = first.features.get(label_column)
    if feature is None or type(feature).__name__ != "ClassLabel":
        tables = _clean_labels(tables, label_column)
    class_names = (
        list(feature.names)
        if feature is not None and type(feature).__name__ == "ClassLabel"
        else None
    )
    label_names, mapping = _label_mapping(tables, class_names)
    prepared: dict[str, pa.Table] = {}
    for name, table in tables.items():
        ids = _label_ids(table.column("label"), mapping, label_names, name, label_column)
        text = table.column("text")
        if text.type != pa.string():
            text = pc.cast(text, pa.string())
        prepared[name] = pa.table(
            {"text": text.combine_chunks(), "label": pa.array(ids, pa.int64())}
        )
    train_classes = np.unique(prepared["train"].column("label").to_numpy())
    if len(train_classes) < 2:
        raise InputError(
            f"The train split has a single class ({label_names[train_classes[0]]!r}); "
            "a classifier needs at least two."
        )
    return prepared, label_names, {"text": text_column, "label": label_column}


def _check_classes(labels: dict[str, np.ndarray], label_names: list[str]) -> None:
    """After sampling and carving: train needs two classes, and every class another split
    holds must be in train.

    Raises:
        InputError: naming the classes at fault.
    """
    import numpy as np

    in_train = set(np.unique(labels["train"]).tolist())
    if len(in_train) < 2:
        only = ", ".join(repr(label_names[index]) for index in sorted(in_train))
        raise InputError(
            f"The train split has a single class ({only}) after sampling and carving out "
            "validation; a classifier needs at least two. Use a larger download.limit or a smaller "
            "download.validation_size."
        )
    for name, values in labels.items():
        missing = set(np.unique(values).tolist()) - in_train
        if missing:
            shown = ", ".join(repr(label_names[index]) for index in sorted(missing)[:5])
            raise InputError(
                f"The {name} split has classes the train split lacks after sampling and "
                f"carving: {shown}. A model cannot learn a class it never sees; use a larger "
                "download.limit or a smaller download.validation_size."
            )


def _sample_and_carve(tables: dict[str, pa.Table], params: DownloadParams) -> dict[str, pa.Table]:
    import numpy as np

    if params.limit is not None:
        tables = {
            name: table.take(
                stratified_sample(table.column("label").to_numpy(), params.limit, params.seed)
            )
            for name, table in tables.items()
        }
    if params.validation_size > 0:
        if "validation" in tables:
            raise ConfigError(
                f"{params.source!r} already has a validation split; drop download.validation_size."
            )
        train = tables["train"]
        labels = train.column("label").to_numpy()
        count = round(params.validation_size * train.num_rows)
        if count < 1 or count >= train.num_rows:
            raise ConfigError(
                f"download.validation_size={params.validation_size} of {train.num_rows} training "
                "rows leaves an empty split."
            )
        chosen = stratified_blocks(labels, count, params.seed + 1, params.validation_block)
        keep = np.ones(train.num_rows, dtype=bool)
        keep[chosen] = False
        tables = dict(tables)
        tables["validation"] = train.take(chosen)
        tables["train"] = train.filter(keep)
    return tables


@dataclass(frozen=True)
class BatchSource:
    """A source read in batches: its reader ("parquet", "csv" or "json"), each split's files in
    order, the csv delimiter, and the class names of the columns a dataset folder declares as
    class labels (``declared``; None where the folder declares no features: the files' own)."""

    reader: str
    files: dict[str, list[Path]]
    delimiter: str = ","
    declared: dict[str, list[str] | None] | None = None


def batch_source(resolved: ResolvedSource, cache_dir: Path | None) -> BatchSource | None:
    """How to read a source in batches, or None where it loads through ``datasets``: hub
    datasets, files of mixed formats, and folders whose files or options the batch readers do
    not read as ``datasets`` does."""
    if resolved.kind == "folder":
        return _folder_source(Path(resolved.location), cache_dir)
    if resolved.kind != "files" or resolved.data_files is None:
        return None
    files = {split: Path(path) for split, path in resolved.data_files.items()}
    suffix = files["train"].suffix.lower()
    reader = FILE_FORMATS[suffix]
    if any(FILE_FORMATS[path.suffix.lower()] != reader for path in files.values()):
        return None  # as ``datasets`` does, every file is read as the train file's format says
    return BatchSource(
        reader,
        {split: [path] for split, path in files.items()},
        "\t" if suffix == ".tsv" else ",",
    )


# The options of `datasets`' packaged builders that say only where the data is.
_LOCATION_OPTIONS = frozenset({"name", "version", "data_dir", "data_files", "description"})


def _folder_source(folder: Path, cache_dir: Path | None) -> BatchSource | None:
    """A dataset folder's splits and files as ``datasets`` resolves them (the README's
    ``configs``, or the hub's file-name patterns), when its builder is parquet, csv or JSON
    with default options; else None (loading it through ``datasets`` gives its result or its
    error)."""
    import datasets
    from datasets.packaged_modules.csv.csv import Csv
    from datasets.packaged_modules.json.json import Json
    from datasets.packaged_modules.parquet.parquet import Parquet

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:
        builder = datasets.load_dataset_builder(
            str(folder), cache_dir=str(cache_dir) if cache_dir is not None else None
        )
    except Exception:  # the `datasets` route reports it
        return None
    config = builder.config
    _check_inside(folder, config.data_files or {})  # whichever route reads them
    readers = ((Parquet, "parquet"), (Csv, "csv"), (Json, "json"))
    reader = next((name for kind, name in readers if isinstance(builder, kind)), None)
    if reader is None:
        return None
    default = type(config)()
    changed = {
        field.name
        for field in dataclasses.fields(config)
        if field.name not in _LOCATION_OPTIONS
        and getattr(config, field.name) != getattr(default, field.name)
    }
    delimiter = ","
    if reader == "csv" and config.sep == "\t" and config.delimiter is None:
        changed.discard("sep")  # `datasets` reads a folder of .tsv files so
        delimiter = "\t"
    if changed:
        return None
    files: dict[str, list[Path]] = {}
    # `datasets` reads every split, the ones `_prepare` then ignores too
    every_split = {
        str(split): [Path(path) for path in paths]
        for split, paths in (config.data_files or {}).items()
    }
    for split, paths in every_split.items():
        canonical = SPLIT_ALIASES.get(split.lower())
        if canonical is None:
            if reader != "parquet":
                return None  # its rows, read and checked by `datasets` alone
            continue  # as `_prepare` ignores it
        if canonical in files:
            return None  # two splits of one name ("dev" and "validation"): left to `datasets`
        files[canonical] = paths
    if "train" not in files:
        return None
    for paths in every_split.values():
        if not paths or any(
            not path.is_file() or FILE_FORMATS.get(path.suffix.lower()) != reader for path in paths
        ):
            return None  # compressed, remote or other files
        if reader != "parquet" and len(paths) > 1:
            return None
        if reader != "parquet":
            _check_utf8(paths[0])
    features = builder.info.features
    if reader != "parquet":
        # declared types (`datasets` casts to them) or split sizes (it checks them after
        # reading): what only `datasets` does
        return (
            BatchSource(reader, files, delimiter)
            if features is None and not builder.info.splits
            else None
        )
    try:
        footers = {
            split: [pq_metadata(path) for path in paths] for split, paths in every_split.items()
        }
        if features is None:  # the first file's own, as `datasets` infers them
            first = next(iter(footers.values()))[0]
            features = datasets.Features.from_arrow_schema(first.schema.to_arrow_schema())
        # `datasets` casts every file to the features: read here those already cast
        expected = features.arrow_schema.remove_metadata()
        for split, split_footers in footers.items():
            if any(
                footer.schema.to_arrow_schema().remove_metadata() != expected
                for footer in split_footers
            ):
                return None
            # `datasets` fails on a file whose first row group is empty; a split all empty
            # gets `_stream_parquet`'s own error
            if any(_empty_first_group(footer) for footer in split_footers) and (
                split.lower() not in SPLIT_ALIASES
                or any(footer.num_rows for footer in split_footers)
            ):
                return None
        if builder.info.splits:  # sizes the folder declares: `datasets` refuses others
            from datasets.utils.info_utils import verify_splits

            verify_splits(
                builder.info.splits,
                {
                    split: datasets.SplitInfo(
                        name=split, num_examples=sum(footer.num_rows for footer in split_footers)
                    )
                    for split, split_footers in footers.items()
                },
            )
    except Exception:  # a damaged file or metadata, other sizes: `datasets` reports it
        return None
    declared = {
        name: list(feature.names) if isinstance(feature, datasets.ClassLabel) else None
        for name, feature in features.items()
    }
    return BatchSource(reader, files, delimiter, declared)


def _check_inside(folder: Path, data_files: Any) -> None:
    """Refuse a folder whose README names data files outside it or in hidden folders: the
    folder's fingerprint (the cache key) covers its own visible files only.

    Raises:
        InputError: naming the first such file.
    """
    root = os.path.abspath(folder)
    for paths in data_files.values():
        for path in paths:
            relative = Path(os.path.relpath(os.path.abspath(path), root))
            if any(part.startswith(".") for part in relative.parts):
                raise InputError(
                    f"{folder}: its data file {path} lies outside the folder or in a hidden "
                    "folder, which the cache key does not cover; move it into the folder."
                )


def _empty_first_group(footer: Any) -> bool:
    """Whether a parquet file's first row group holds no rows (`datasets` reads a file in
    batches of its first group's rows, and fails on zero)."""
    return footer.num_row_groups > 0 and footer.row_group(0).num_rows == 0


def pq_metadata(path: Path) -> Any:
    """A parquet file's footer."""
    import pyarrow.parquet as pq

    return pq.read_metadata(path)


def _parquet_class_names(schema: pa.Schema, column: str) -> list[str] | None:
    """The class names a ``datasets``-written parquet file declares for a column (ClassLabel),
    where the column is stored as one (nullable int64: else ``datasets`` reads it as stored)."""
    import json

    import pyarrow as pa

    raw = (schema.metadata or {}).get(b"huggingface")
    index = schema.get_field_index(column)  # -1: none, or several of that name
    if raw is None or index < 0:
        return None
    field = schema.field(index)
    if field.type != pa.int64() or not field.nullable:
        return None
    try:
        feature = json.loads(raw)["info"]["features"].get(column)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if isinstance(feature, dict) and feature.get("_type") == "ClassLabel":
        return [str(name) for name in feature["names"]]
    return None


def _selections(
    labels: dict[str, np.ndarray], params: DownloadParams
) -> tuple[dict[str, tuple[str, np.ndarray | None]], dict[str, np.ndarray]]:
    """_sample_and_carve on labels alone: each output split's source split and sorted row
    indices (None: every row), and its labels."""
    import numpy as np

    rows: dict[str, np.ndarray | None] = dict.fromkeys(labels)
    chosen = dict(labels)
    if params.limit is not None:
        for name, values in labels.items():
            if params.limit < len(values):
                rows[name] = stratified_sample(values, params.limit, params.seed)
                chosen[name] = values[rows[name]]
    selections = {name: (name, rows[name]) for name in labels}
    if params.validation_size > 0:
        if "validation" in labels:
            raise ConfigError(
                f"{params.source!r} already has a validation split; drop download.validation_size."
            )
        train = chosen["train"]
        count = round(params.validation_size * len(train))
        if count < 1 or count >= len(train):
            raise ConfigError(
                f"download.validation_size={params.validation_size} of {len(train)} training "
                "rows leaves an empty split."
            )
        picked = stratified_blocks(train, count, params.seed + 1, params.validation_block)
        keep = np.ones(len(train), dtype=bool)
        keep[picked] = False
        base = rows["train"] if rows["train"] is not None else np.arange(len(train))
        selections["validation"] = ("train", base[picked])
        selections["train"] = ("train", base[keep])
        chosen["validation"] = train[picked]
        chosen["train"] = train[keep]
    return selections, chosen


def _label_ids(
    labels: Any, mapping: dict[Any, int] | None, label_names: list[str], split: str, column: str
) -> np.ndarray:
    """A split's labels as class ids; every row must have one."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if mapping is None:
        ids = labels.to_numpy().astype(np.int64)
        bad = int(((ids < 0) | (ids >= len(label_names))).sum())
    else:
        bad = labels.null_count
        ids = np.asarray(
            pc.index_in(labels, value_set=pa.array(list(mapping.keys()), labels.type)).fill_null(-1)
        ).astype(np.int64)
    if bad or labels.null_count:
        count = bad or labels.null_count
        raise InputError(
            f"{_rows_of(count, split)} no label (column {column!r}). Remove "
            f"{'it' if count == 1 else 'them'} or choose another download.label_column."
        )
    return ids


def pa_errors() -> type[Exception]:
    """pyarrow's base exception (imported only when needed)."""
    import pyarrow as pa

    return pa.ArrowException


def _parquet_column(
    path: Path, parquet: Any, index: int, batch_rows: int, *, threads: int | None = None
) -> Iterator[pa.Array]:
    """A column of a parquet file, in order, in bounded memory: its row groups decoded side by
    side on threads (each with a reader of its own), as many at a time as three chunks of text
    hold; batches of ``batch_rows`` rows, one after the other, when a group holds more than a
    chunk."""
    import pyarrow.parquet as pq

    from textpipe.stages.tables import chunk_bytes
    from textpipe.textops import default_threads

    metadata = parquet.metadata
    sizes = [
        metadata.row_group(group).column(index).total_uncompressed_size
        for group in range(metadata.num_row_groups)
    ]
    limit = chunk_bytes()
    largest = max(sizes, default=0)
    threads = min(threads or default_threads(), len(sizes), 3 * limit // max(1, largest))
    # the leaf's own name: a nested column before it (a struct's fields are leaves of their
    # own) shifts the leaf index away from the Arrow field index
    name = metadata.schema.column(index).path
    if threads < 2 or largest > limit:
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=[name]):
            yield batch.column(0)
        return
    readers = threading.local()

    def read(group: int) -> pa.Array:
        if not hasattr(readers, "file"):
            readers.file = pq.ParquetFile(path, pre_buffer=False)
        column = readers.file.read_row_group(group, columns=[name], use_threads=False)
        return column.column(0).combine_chunks()

    with ThreadPoolExecutor(threads) as pool:
        pending: collections.deque[Future[pa.Array]] = collections.deque()
        for group in range(len(sizes)):
            pending.append(pool.submit(read, group))
            if len(pending) >= threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _stream_parquet(
    source: BatchSource, params: DownloadParams, directory: Path
) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """The download of parquet files in bounded memory: labels first (one column), then the
    text in chunks straight into the split tables. Same checks, same bytes as ``_prepare``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    # footers first; a file is open only while it is read (a folder may hold many)
    footers = {
        name: [pq.read_metadata(path) for path in paths] for name, paths in source.files.items()
    }
    schema = footers["train"][0].schema.to_arrow_schema()
    columns = list(schema.names)
    text_column, label_column = _pick_columns(columns, params)
    label_tables: dict[str, pa.Table] = {}
    for name, paths in source.files.items():
        for footer in footers[name]:
            file_schema = footer.schema.to_arrow_schema()
            _check_columns(name, list(file_schema.names), (text_column, label_column))
            _check_column_type(file_schema.field(text_column).type, text_column, "text", name)
        if sum(footer.num_rows for footer in footers[name]) == 0:
            raise InputError(f"The {name} split of {params.source!r} is empty.")
        pieces = []
        for path in paths:
            with pq.ParquetFile(path, pre_buffer=False) as parquet:
                pieces.append(parquet.read(columns=[label_column]).rename_columns(["label"]))
        label_tables[name] = pa.concat_tables(pieces).combine_chunks()
    if source.declared is not None:
        class_names = source.declared.get(label_column)
    else:
        class_names = _parquet_class_names(schema, label_column)
    if class_names is None:
        label_tables = _clean_labels(label_tables, label_column)
    label_names, ids, selections, labels_out = _labelled_selections(
        label_tables, class_names, params, label_column
    )
    for split, paths in source.files.items():
        outputs = {name: rows for name, (origin, rows) in selections.items() if origin == split}
        texts = _parquet_texts(paths, split, text_column)
        _write_selected(directory, outputs, texts, ids[split], len(ids[split]))
    splits = _split_stats(selections, labels_out, label_names)
    return splits, label_names, {"text": text_column, "label": label_column}


def _parquet_texts(paths: list[Path], split: str, text_column: str) -> Iterator[pa.Array]:
    """A parquet split's text column as strings, file after file, in pieces of about a chunk
    of text (tables.chunk_bytes).

    Raises:
        InputError: after the last piece, if some rows had no text (inside the writers of
            `_write_selected`, which then leave nothing behind).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from textpipe.stages.tables import chunk_bytes

    nulls = 0
    null_rows: list[int] = []
    position = 0
    for path in paths:
        with pq.ParquetFile(path, pre_buffer=False) as parquet:
            metadata = parquet.metadata
            # the leaf column's index in the Parquet schema (nested columns have several leaves)
            leaves = [metadata.schema.column(leaf).path for leaf in range(metadata.num_columns)]
            index = leaves.index(text_column)
            stored = sum(
                metadata.row_group(group).column(index).total_uncompressed_size
                for group in range(metadata.num_row_groups)
            )
            per_row = max(1, stored // max(1, metadata.num_rows))
            batch_rows = max(1024, chunk_bytes() // per_row)
            for text in _parquet_column(path, parquet, index, batch_rows):
                if text.null_count:
                    nulls += text.null_count
                    null_rows.extend(_first_nulls(text, position, 5 - len(null_rows)))
                position += len(text)
                yield text if text.type == pa.string() else pc.cast(text, pa.string())
    if nulls:
        raise _rows_without("text", text_column, split, null_rows, nulls)


def _first_nulls(values: Any, start: int, count: int) -> list[int]:
    """The first ``count`` rows of ``values`` that are null, numbered from ``start``."""
    import numpy as np

    if count <= 0:
        return []
    missing = np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return (np.flatnonzero(missing)[:count] + start).tolist()


def _labelled_selections(
    label_tables: dict[str, pa.Table],
    class_names: list[str] | None,
    params: DownloadParams,
    label_column: str,
) -> tuple[list[str], dict[str, np.ndarray], dict[str, Any], dict[str, np.ndarray]]:
    """The label names, each source split's label ids, and the output splits' rows.

    Returns:
        `(label_names, ids, selections, labels_out)`, as `_label_mapping`, `_label_ids` and
        `_selections` give them.

    Raises:
        InputError: a single class in train, or a split without some class (`_check_classes`).
    """
    import numpy as np

    label_names, mapping = _label_mapping(label_tables, class_names)
    ids = {
        name: _label_ids(table.column("label"), mapping, label_names, name, label_column)
        for name, table in label_tables.items()
    }
    train_classes = np.unique(ids["train"])
    if len(train_classes) < 2:
        raise InputError(
            f"The train split has a single class ({label_names[train_classes[0]]!r}); "
            "a classifier needs at least two."
        )
    selections, labels_out = _selections(ids, params)
    _check_classes(labels_out, label_names)
    return label_names, ids, selections, labels_out


def _write_selected(
    directory: Path,
    outputs: dict[str, np.ndarray | None],
    texts: Iterable[pa.Array],
    source_ids: np.ndarray,
    source_rows: int,
) -> None:
    """Writes one source split's text, read in order in pieces, to the output splits drawn
    from it: every row (`None`) or the given sorted row numbers, with their label ids."""
    import numpy as np

    from textpipe.arrays import numpy_array
    from textpipe.stages.tables import TableWriter

    with contextlib.ExitStack() as stack:
        writers = {
            name: stack.enter_context(
                TableWriter(
                    directory / f"{name}{TABLE_SUFFIX}",
                    rows=source_rows if rows is None else len(rows),
                )
            )
            for name, rows in outputs.items()
        }
        position = 0
        for text in texts:
            end = position + len(text)
            for name, rows in outputs.items():
                if rows is None:
                    writers[name].write(text, source_ids[position:end])
                    continue
                local = rows[np.searchsorted(rows, position) : np.searchsorted(rows, end)]
                if len(local):
                    writers[name].write(text.take(numpy_array(local - position)), source_ids[local])
            position = end


def _split_stats(
    selections: dict[str, Any], labels_out: dict[str, np.ndarray], label_names: list[str]
) -> dict[str, Any]:
    """Each output split's row count and class counts."""
    import numpy as np

    return {
        name: {
            "rows": len(labels_out[name]),
            "class_counts": np.bincount(labels_out[name], minlength=len(label_names)).tolist(),
        }
        for name in selections
    }


@dataclass
class _SplitRead:
    """What the read of one source file found: its columns, rows, rows without text, labels
    (as ``datasets`` would type them) and, where text and label columns were found, a split
    table of its text with placeholder labels."""

    columns: list[str]
    rows: int = 0
    text_nulls: int = 0
    text_null_rows: list[int] = dataclasses.field(default_factory=list)
    labels: Any = None
    table: Path | None = None
    types: dict[str, str] = dataclasses.field(default_factory=dict)


def _read_text_file(
    path: Path,
    builder: str,
    delimiter: str,
    pick: Callable[[list[str]], tuple[str, str] | None],
    table: Path,
) -> _SplitRead:
    """Read a csv or JSON Lines file in batches; the text column of the text and label columns
    ``pick`` chooses among the file's goes to a split table at ``table`` as it is read, and the
    labels are kept.

    Raises:
        Unstreamable: the file must be read through ``datasets`` to give its bytes.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from textpipe.stages.tables import TableWriter, chunk_bytes
    from textpipe.stages.text_sources import (
        ColumnKinds,
        Unstreamable,
        csv_batches,
        csv_columns,
        json_batches,
    )
    from textpipe.textops import default_threads

    kinds: dict[str, ColumnKinds] = {}
    if builder == "csv":
        columns = csv_columns(path, delimiter)
        kinds = {name: ColumnKinds() for name in columns}
        block = min(chunk_bytes() // READ_AHEAD_BLOCKS, MAX_BLOCK_BYTES)
        batches: Iterator[Any] = csv_batches(path, delimiter, columns, max(MIN_BLOCK_BYTES, block))
        first = None
        schema = None
    else:
        batches = json_batches(path, threads=default_threads())
        first = next(batches, None)
        columns = list(first.schema.names) if first is not None else []
        schema = first.schema if first is not None else None
    read = _SplitRead(columns)
    wanted = pick(columns)
    labels: list[Any] = []
    with contextlib.ExitStack() as stack:
        writer = None
        if wanted is not None:
            writer = stack.enter_context(TableWriter(table))
            read.table = table
        pending = [first] if first is not None else []
        for batch in itertools.chain(pending, batches):
            for name, counts in kinds.items():
                counts.add(batch.column(name), read.rows)
            start = read.rows
            read.rows += batch.num_rows
            if writer is None:
                continue
            text = batch.column(wanted[0])
            if text.null_count:
                read.text_nulls += text.null_count
                read.text_null_rows += _first_nulls(text, start, 5 - len(read.text_null_rows))
            if text.type != pa.string():
                text = pc.cast(text, pa.string())
            if text.null_count:
                text = text.fill_null("")
            writer.write(text, np.zeros(len(text), np.int64))
            column = batch.column(wanted[1])
            labels.extend(column.chunks if isinstance(column, pa.ChunkedArray) else [column])
    if read.rows == 0:
        raise Unstreamable("no rows")  # `datasets` has its own ways with an empty file
    for name, counts in kinds.items():
        # the one type pandas gives the column in every chunk (datasets casts the other
        # chunks, and the test file, to the first chunk's types)
        if counts.all_text():
            read.types[name] = "text"
        elif counts.all_integers(allow_missing=wanted is not None and name == wanted[1]):
            read.types[name] = "integer"  # (float with missing labels: refused all the same)
        elif counts.all_missing() and (wanted is None or name != wanted[0]):
            read.types[name] = "missing"
        else:
            raise Unstreamable(f"column {name!r} is not read as one type by pandas")
    if wanted is not None:
        if builder == "csv" and read.types[wanted[0]] != "text":
            raise Unstreamable(f"column {wanted[0]!r} is not read as text by pandas")
        read.labels = pa.chunked_array(labels, labels[0].type)
        if builder == "csv" and read.types[wanted[1]] == "integer":
            read.labels = pc.cast(read.labels, pa.int64())
    if schema is not None:
        read.types = {field.name: str(field.type) for field in schema}
    return read


def _stream_text_files(
    source: BatchSource, params: DownloadParams, directory: Path, resolved: ResolvedSource
) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """The download of csv, tsv or JSON Lines files (one a split) in bounded memory (see
    _write_text_splits).

    Raises:
        Unstreamable: a file must be read through ``datasets``; nothing is left behind.
    """
    from textpipe.stages.text_sources import Unstreamable

    files = {split: paths[0] for split, paths in source.files.items()}
    try:
        return _write_text_splits(
            files, source.reader, source.delimiter, params, directory, resolved
        )
    except Unstreamable:
        for name in files:
            (directory / f".{name}.rows{TABLE_SUFFIX}").unlink(missing_ok=True)
        raise


def _write_text_splits(
    files: dict[str, Path],
    builder: str,
    delimiter: str,
    params: DownloadParams,
    directory: Path,
    resolved: ResolvedSource,
) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """The download of csv, tsv or JSON Lines files in bounded memory: each file read once in
    batches, its text written as it comes and its labels kept; then the checks of ``_prepare``,
    in its order, and the labels and samples written. Same bytes, same errors.

    Raises:
        Unstreamable: a file must be read through ``datasets``.
    """
    import pyarrow as pa

    from textpipe.stages.tables import iter_table_chunks, patch_labels
    from textpipe.stages.text_sources import ColumnTypes, Unstreamable

    reads: dict[str, _SplitRead] = {}
    wanted: tuple[str, str] | None = None

    def pick(columns: list[str]) -> tuple[str, str] | None:
        nonlocal wanted
        if not reads:  # the train split's; an error is raised below, in _prepare's order
            with contextlib.suppress(InputError):
                wanted = _pick_columns(columns, params)
            return wanted
        if wanted is None or not all(name in columns for name in wanted):
            return None
        return wanted

    for name, path in files.items():
        try:
            reads[name] = _read_text_file(
                path, builder, delimiter, pick, directory / f".{name}.rows{TABLE_SUFFIX}"
            )
        except ColumnTypes as fault:
            # `datasets` casts the values of every file but the train file's first batch to
            # that batch's types (or fails): a text or label column of nested values or of
            # mixed types it would hide is refused here. One in the train file's first batch
            # (the columns are not picked yet) goes to `datasets`, whose types `_prepare` checks.
            if wanted is not None:
                for role, column in zip(("text", "label"), wanted, strict=True):
                    if fault.holds(column):
                        _check_column_type(fault.nested.get(column), column, role, name)
            raise
    train_types = reads["train"].types
    if any(read.types != train_types for read in reads.values()):
        # `datasets` casts the test split to the train split's columns and types, or fails
        raise Unstreamable("the files' columns or types differ")
    if resolve_source(params) != resolved:
        raise _changed_while_read(params)
    text_column, label_column = _pick_columns(reads["train"].columns, params)
    for name, read in reads.items():
        _check_columns(name, read.columns, (text_column, label_column))
        if read.rows == 0:
            raise InputError(f"The {name} split of {params.source!r} is empty.")
        if read.text_nulls:
            raise _rows_without("text", text_column, name, read.text_null_rows, read.text_nulls)
    label_tables = _clean_labels(
        {name: pa.table({"label": read.labels}) for name, read in reads.items()}, label_column
    )
    label_names, ids, selections, labels_out = _labelled_selections(
        label_tables, None, params, label_column
    )
    for source, read in reads.items():
        assert read.table is not None
        outputs = {name: rows for name, (origin, rows) in selections.items() if origin == source}
        if list(outputs) == [source] and outputs[source] is None:
            final = directory / f"{source}{TABLE_SUFFIX}"
            read.table.rename(final)
            patch_labels(final, ids[source])
            continue
        texts = (piece.column("text") for piece in iter_table_chunks(read.table))
        _write_selected(directory, outputs, texts, ids[source], read.rows)
        read.table.unlink()
    splits = _split_stats(selections, labels_out, label_names)
    return splits, label_names, {"text": text_column, "label": label_column}


def source_key_parts(params: DownloadParams) -> KeyParts:
    """The keyed parameters (file names, not paths), the source's content fingerprint as an
    input, and the resolved source for the build."""
    if params.validation_block != 1 and params.validation_size == 0:
        raise ConfigError(
            "download.validation_block applies to the validation split carved from train: "
            "set download.validation_size too."
        )
    resolved = resolve_source(params)
    keyed = params.key_params()
    if params.validation_block == 1:  # added later: random rows keep the keys they had
        del keyed["validation_block"]
    if resolved.kind != "hub":
        keyed["source"] = Path(params.source).name
        if params.test_file:
            keyed["test_file"] = Path(params.test_file).name
    return keyed, {"source": resolved.fingerprint}, resolved


STAGE = Stage(
    name="download",
    version=1,
    params=DownloadParams,
    inputs={},
    function="download",
    key_parts=source_key_parts,
)


def _changed_while_read(params: DownloadParams) -> InputError:
    return InputError(
        f"{params.source}: changed while it was being read; run again once nothing writes to it."
    )


def _stats(
    splits: dict[str, Any], label_names: list[str], columns: Any, resolved: ResolvedSource
) -> dict[str, Any]:
    """The download artifact's statistics."""
    return {
        "splits": splits,
        "label_names": label_names,
        "num_classes": len(label_names),
        "columns": columns,
        "source_kind": resolved.kind,
        "source_location": resolved.location,
    }


def download(
    *,
    params: DownloadParams,
    store: Store,
    output: str | Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Outcome:
    """Load a dataset and write its train/validation/test splits with integer labels.

    Args:
        params: what to load and how to sample it.
        store: the artifact store.
        output: an explicit artifact directory, in addition to the store.
        force: rebuild even when cached.
        progress: where to report progress.

    Returns:
        The cache outcome; the artifact's stats hold splits, label names and columns.

    Raises:
        InputError: the source, a column or the labels are missing or unusable.
    """
    import numpy as np

    progress = or_silent(progress)
    identity = STAGE.identity(params, {})
    resolved: ResolvedSource = identity.context

    def build(directory: Path) -> dict[str, Any]:
        hf_cache = directory / ".hf-cache" if resolved.kind != "hub" else None
        try:
            with progress.task(f"download: reading {params.source}", total=None):
                source = batch_source(resolved, hf_cache)
                if source is not None and source.reader == "parquet":
                    try:
                        splits, label_names, columns = _stream_parquet(source, params, directory)
                    except (ValueError, pa_errors()) as error:  # ArrowInvalid is a ValueError
                        raise InputError(
                            f"Cannot load {params.source!r}: {str(error).splitlines()[0]}"
                        ) from None
                    if resolve_source(params) != resolved:
                        raise _changed_while_read(params)
                    return _stats(splits, label_names, columns, resolved)
                if source is not None:
                    from textpipe.stages.text_sources import Unstreamable

                    with contextlib.suppress(Unstreamable):  # else through `datasets`, below
                        splits, label_names, columns = _stream_text_files(
                            source, params, directory, resolved
                        )
                        return _stats(splits, label_names, columns, resolved)
        finally:
            if hf_cache is not None:
                shutil.rmtree(hf_cache, ignore_errors=True)
        try:
            with progress.task(f"download: loading {params.source}", total=None):
                dataset_dict = _load(resolved, params, hf_cache)
                if resolved.kind != "hub" and resolve_source(params) != resolved:
                    raise _changed_while_read(params)
                tables, label_names, columns = _prepare(dataset_dict, params)
                tables = _sample_and_carve(tables, params)
                _check_classes(
                    {name: table.column("label").to_numpy() for name, table in tables.items()},
                    label_names,
                )
            splits = {}
            for name, table in tables.items():
                write_table(table, directory / f"{name}{TABLE_SUFFIX}")
                counts = np.bincount(table.column("label").to_numpy(), minlength=len(label_names))
                splits[name] = {"rows": table.num_rows, "class_counts": counts.tolist()}
        finally:
            if hf_cache is not None:
                shutil.rmtree(hf_cache, ignore_errors=True)
        return _stats(splits, label_names, columns, resolved)

    return store.produce(
        identity,
        build=build,
        output=output,
        force=force,
        notice=progress.note,
    )
