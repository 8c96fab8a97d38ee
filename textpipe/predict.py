"""Classifying raw text with a trained run: its own tokenizer, padding and model."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textpipe.artifacts import Store, check_replaceable
from textpipe.errors import InputError
from textpipe.progress import Progress, or_silent
from textpipe.runs import resolve_run_artifacts


@dataclass(frozen=True)
class Prediction:
    text: str
    label: str
    probability: float
    probabilities: dict[str, float]


@dataclass
class Predictor:
    """Everything needed to go from raw text to a label."""

    tokenizer: Any
    model: Any
    length: int
    padding: str
    truncation: str
    label_names: list[str]
    run: str
    bucketing: bool = False
    """Batch rows of similar length, trimmed to their longest row (the model ignores padding)."""

    def encode(self, texts: list[str]) -> Any:
        """Raw texts to the padded id matrix, exactly as the encode stage lays it out."""
        return self._padded(texts).ids

    def _padded(self, texts: list[str]) -> Any:
        import numpy as np

        from textpipe.stages.encode import pad_ids

        encodings = self.tokenizer.encode_batch(texts)
        lengths = [len(encoding.ids) for encoding in encodings]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        flat = np.fromiter(
            (token for encoding in encodings for token in encoding.ids),
            dtype=np.int32,
            count=int(offsets[-1]),
        )
        return pad_ids(
            flat, offsets, length=self.length, padding=self.padding, truncation=self.truncation
        )

    def class_probabilities(self, texts: list[str], batch_size: int = 256) -> Any:
        """Class probabilities of raw texts: [N, C], one column per label name."""
        import numpy as np

        from textpipe.stages.evaluate import predict_probabilities

        if not texts:
            return np.zeros((0, len(self.label_names)))
        padded = self._padded(texts)
        probabilities = predict_probabilities(
            self.model,
            padded.ids,
            batch_size=batch_size,
            lengths=padded.lengths if self.bucketing else None,
            padding=self.padding,
            streaming=True,
        )
        if probabilities.ndim == 1:
            return np.stack([1.0 - probabilities, probabilities], axis=1)
        return probabilities

    def predict(self, texts: list[str]) -> list[Prediction]:
        """One Prediction per text: its label, that label's probability, every probability."""
        if not texts:
            return []
        probabilities = self.class_probabilities(texts)
        results = []
        for text, row in zip(texts, probabilities, strict=True):
            scores = {name: float(value) for name, value in zip(self.label_names, row, strict=True)}
            label = max(scores, key=scores.__getitem__)
            results.append(
                Prediction(text=text, label=label, probability=scores[label], probabilities=scores)
            )
        return results


def load_predictor(
    name_or_path: str,
    store: Store,
    *,
    model_code: str | None = None,
    trust_code: bool = False,
) -> Predictor:
    """The predictor of a run (by run/preset name) or of a train/evaluate artifact directory.

    The tokenizer and the encoding are the ones the model was trained with (checked by key).

    Raises:
        InputError: the run has no trained model, its vocabulary is gone, or its artifacts
            do not belong together.
        ArtifactError: an artifact is damaged, or the model needs custom code nobody named.
    """
    from tokenizers import Tokenizer

    from textpipe.stages.encode import Encoded
    from textpipe.stages.train import Trained, load_trained_model
    from textpipe.stages.vocab import TOKENIZER_FILE

    artifacts = resolve_run_artifacts(name_or_path, store)
    trained = artifacts.get("train")
    if trained is None:
        raise InputError(f"{name_or_path!r} has no trained model yet; run its train stage first.")
    encoded, vocab = artifacts.get("encode"), artifacts.get("vocab")
    if encoded is None or vocab is None:
        raise InputError(
            f"The encode or vocab artifact of {name_or_path!r} is not in the store {store.root}; "
            "rebuild them (textpipe run ... --until encode)."
        )
    if trained.input_key("encoded") != encoded.key or encoded.input_key("vocab") != vocab.key:
        raise InputError(
            f"The model of {name_or_path!r} was trained on another encoding or vocabulary than "
            f"the run's latest; run `textpipe run {name_or_path}` to retrain it."
        )
    model = load_trained_model(trained, model_code=model_code, trust_code=trust_code)
    data = Encoded(encoded)
    typed = Trained(trained)
    return Predictor(
        tokenizer=Tokenizer.from_file(str(vocab.file(TOKENIZER_FILE))),
        model=model,
        length=data.length,
        padding=data.padding,
        truncation=data.truncation,
        label_names=typed.label_names,
        run=name_or_path,
        bucketing=typed.bucketing,
    )


INPUT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
OUTPUT_SUFFIXES = (".parquet", ".csv", ".jsonl")


@dataclass(frozen=True)
class FilePrediction:
    """What ``predict_file`` wrote."""

    output: Path
    rows: int
    seconds: float
    label_counts: dict[str, int]


def _rebatched(
    arrays: Iterator[Any], batch_size: int, convert: Callable[[Any], Any]
) -> Iterator[Any]:
    """Slices of at most `batch_size` rows of each Arrow array in turn, each converted."""
    for array in arrays:
        for start in range(0, len(array), batch_size):
            yield convert(array.slice(start, batch_size))


def _text_batches(
    source: Path, *, text_column: str | None, split: str, batch_size: int
) -> tuple[Iterator[Any], int | None, str]:
    """Batches (pyarrow string arrays) of a file's or a download artifact's text column.

    Returns the batches, the row count when known up front, and the column read.
    """
    import pyarrow as pa

    from textpipe.stages.download import TEXT_COLUMN_CANDIDATES

    def pick(columns: list[str]) -> str:
        if not columns:
            raise InputError(f"{source}: empty (no header or record).")
        if text_column is not None:
            if text_column not in columns:
                raise InputError(
                    f"{source}: no column {text_column!r}. Columns: {', '.join(columns)}."
                )
            return text_column
        for candidate in TEXT_COLUMN_CANDIDATES:
            if candidate in columns:
                return candidate
        raise InputError(
            f"{source}: no text column found among {', '.join(columns)}; pass --text-column."
        )

    def strings(array: Any) -> Any:
        if array.null_count:
            count = array.null_count
            raise InputError(f"{source}: {count} row{' has' if count == 1 else 's have'} no text.")
        return array if array.type == pa.string() else array.cast(pa.string())

    if source.is_dir():
        from textpipe.artifacts import open_artifact
        from textpipe.stages.tables import TABLE_SUFFIX, split_names

        artifact = open_artifact(source, stage="download")
        if split not in split_names(artifact):
            raise InputError(
                f"{source}: no split {split!r}. Splits: {', '.join(split_names(artifact))}."
            )
        memory = pa.memory_map(str(artifact.file(f"{split}{TABLE_SUFFIX}")), "r")
        reader = pa.ipc.open_file(memory)
        column = pick(reader.schema.names)
        rows = sum(reader.get_batch(index).num_rows for index in range(reader.num_record_batches))

        columns = (
            reader.get_batch(index).column(column) for index in range(reader.num_record_batches)
        )
        return _rebatched(columns, batch_size, strings), rows, column
    suffix = source.suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise InputError(
            f"{source}: unknown input format {suffix or '(none)'!r}. Use "
            f"{', '.join(INPUT_SUFFIXES)} or a download artifact folder."
        )
    if not source.is_file():
        raise InputError(f"{source}: no such file.")
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        # Buffered reads, no pre-buffering: otherwise memory grows with the file (measured).
        parquet = pq.ParquetFile(source, pre_buffer=False, buffer_size=1 << 22)
        column = pick(parquet.schema_arrow.names)
        batches = (
            strings(batch.column(0))
            for batch in parquet.iter_batches(batch_size=batch_size, columns=[column])
        )
        return batches, parquet.metadata.num_rows, column
    if suffix in (".csv", ".tsv"):
        import pyarrow.csv as pcsv

        delimiter = "\t" if suffix == ".tsv" else ","
        import csv

        with source.open("r", encoding="utf-8", newline="") as stream:
            header = next(csv.reader(stream, delimiter=delimiter), [])
        column = pick(header)
        reader = pcsv.open_csv(
            source,
            read_options=pcsv.ReadOptions(block_size=1 << 22),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                include_columns=[column], column_types={column: pa.string()}
            ),
        )
        return _rebatched((batch.column(0) for batch in reader), batch_size, strings), None, column

    def records() -> Iterator[tuple[int, dict[str, Any]]]:
        import json

        with source.open(encoding="utf-8") as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    raise InputError(f"{source}:{number}: not a JSON object.") from None
                if not isinstance(record, dict):
                    raise InputError(f"{source}:{number}: not a JSON object.")
                yield number, record

    # The column is picked from the first record, read here so the progress line can name it.
    column = pick(list(next(records(), (0, {}))[1]))

    def from_jsonl() -> Iterator[Any]:
        texts: list[str] = []
        for number, record in records():
            value = record.get(column)
            if not isinstance(value, str):
                raise InputError(f"{source}:{number}: {column!r} is not a string.")
            texts.append(value)
            if len(texts) == batch_size:
                yield pa.array(texts, pa.string())
                texts = []
        if texts:
            yield pa.array(texts, pa.string())

    return from_jsonl(), None, column


class _Writer:
    """Writes prediction batches to parquet, csv or jsonl."""

    def __init__(self, path: Path, suffix: str, label_names: list[str]) -> None:
        import pyarrow as pa

        self.path, self.suffix = path, suffix
        self.schema = pa.schema(
            [("label", pa.string()), ("probability", pa.float32())]
            + [(f"probability_{name}", pa.float32()) for name in label_names]
        )
        self.stream: Any = None
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            self.writer: Any = pq.ParquetWriter(str(path), self.schema)
        elif suffix == ".csv":
            import pyarrow.csv as pcsv

            self.writer = pcsv.CSVWriter(str(path), self.schema)
        else:
            self.writer = None
            self.stream = path.open("w", encoding="utf-8")

    def write(self, labels: list[str], probabilities: Any) -> None:
        import numpy as np
        import pyarrow as pa

        best = probabilities.max(axis=1).astype(np.float32)
        columns = [pa.array(labels, pa.string()), pa.array(best)] + [
            pa.array(probabilities[:, index].astype(np.float32))
            for index in range(probabilities.shape[1])
        ]
        batch = pa.record_batch(columns, schema=self.schema)
        if self.writer is not None:
            self.writer.write_batch(batch)
            return
        import json

        names = self.schema.names
        for row in batch.to_pylist():
            self.stream.write(json.dumps({name: row[name] for name in names}) + "\n")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.stream is not None:
            self.stream.close()


def predict_file(
    predictor: Predictor,
    *,
    source: str | Path,
    output: str | Path,
    text_column: str | None = None,
    split: str = "test",
    batch_size: int = 4096,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> FilePrediction:
    """Classify every row of a file (csv, tsv, jsonl, parquet) or a download artifact's split.

    Rows stream through in batches of ``batch_size``, so memory stays bounded whatever the
    file's size. The output (parquet, csv or jsonl, by its suffix) has one row per input row,
    in order: the label, its probability, and one probability column per class. It is written
    beside its final name and renamed into place when complete.

    Raises:
        InputError: unknown formats, a missing text column, empty texts, or an existing output
            without ``overwrite``.
    """
    import uuid

    import numpy as np

    progress = or_silent(progress)
    source, output = Path(source), Path(output)
    suffix = output.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(
            f"-o {output}: unknown output format; use a name ending in "
            f"{', '.join(OUTPUT_SUFFIXES)}."
        )
    if output.exists() and source.exists() and output.samefile(source):
        raise InputError(f"-o {output} is the --input file; write the predictions to another file.")
    check_replaceable(output, option="-o", overwrite=overwrite)
    batches, rows, column = _text_batches(
        source, text_column=text_column, split=split, batch_size=batch_size
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(f".{output.name}.incomplete-{uuid.uuid4().hex[:8]}")
    start = time.perf_counter()
    counts = np.zeros(len(predictor.label_names), dtype=np.int64)
    written = 0
    writer = _Writer(temporary, suffix, predictor.label_names)
    try:
        with progress.task(f"predict: {source.name} ({column})", total=rows) as advance:
            for texts in batches:
                probabilities = predictor.class_probabilities(texts.to_pylist())
                winners = probabilities.argmax(axis=1)
                counts += np.bincount(winners, minlength=len(counts))
                writer.write([predictor.label_names[index] for index in winners], probabilities)
                written += len(texts)
                advance(len(texts))
        writer.close()
        os.replace(temporary, output)
    except BaseException:
        writer.close()
        temporary.unlink(missing_ok=True)
        raise
    return FilePrediction(
        output=output,
        rows=written,
        seconds=time.perf_counter() - start,
        label_counts={
            name: int(count) for name, count in zip(predictor.label_names, counts, strict=True)
        },
    )
