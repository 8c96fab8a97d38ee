"""Comparing evaluated runs side by side, from manifests only (no model is loaded)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textpipe.artifacts import Artifact, Notice, Store, check_replaceable
from textpipe.errors import ArtifactError, InputError
from textpipe.runs import run_name_of, run_records
from textpipe.stages.train import HISTORY_FILE

# metric -> True when higher is better
METRIC_COLUMNS = {"accuracy": True, "f1": True, "macro_f1": True, "roc_auc": True, "loss": False}
COLUMNS = (
    "run",
    "model",
    "params",
    "settings",
    "vocab",
    "length",
    "epochs",
    "train_seconds",
    "seconds_per_epoch",
    "accuracy",
    "f1",
    "macro_f1",
    "roc_auc",
    "loss",
    "split",
    "data",
)


@dataclass(frozen=True)
class ReportRow:
    values: dict[str, Any]
    history: list[dict[str, Any]]
    confusion_matrix: list[list[int]] | None = None
    label_names: list[str] | None = None


def macro_f1(metrics: dict[str, Any]) -> float | None:
    """The macro F1 of an evaluation; computed from its per-class F1 when it predates the field."""
    if metrics.get("macro_f1") is not None:
        return metrics["macro_f1"]
    per_class = metrics.get("per_class")
    if not per_class:
        return None
    return sum(values["f1"] for values in per_class.values()) / len(per_class)


def _settings(train_params: dict[str, Any]) -> str:
    parts = [
        f"emb {train_params.get('embedding_dim')}",
        f"units {train_params.get('units')}",
        f"lr {train_params.get('learning_rate')}",
        *(
            [f"lr decay {train_params['learning_rate_decay']}/epoch"]
            if train_params.get("learning_rate_decay") not in (None, 1, 1.0)
            else []
        ),
        f"batch {train_params.get('batch_size')}",
    ]
    if train_params.get("ema_momentum"):
        parts.append(f"weight average {train_params['ema_momentum']}")
    if train_params.get("dropout"):
        parts.append(f"dropout {train_params['dropout']}")
    if train_params.get("early_stopping"):
        parts.append(f"early stop {train_params['early_stopping']}")
    return ", ".join(parts)


def collect_rows(
    store: Store, names: list[str] | tuple[str, ...] = (), notice: Notice | None = None
) -> list[ReportRow]:
    """One row per evaluated run under the store (or per named run / evaluate directory).

    Read-only: a damaged artifact is reported through ``notice`` (or raised, when named) and
    never removed.

    Raises:
        InputError: a named run does not exist or has not been evaluated.
        ArtifactError: a named run's evaluation is damaged.
    """
    from textpipe.artifacts import open_artifact

    records = run_records(store)
    name_of = {}
    for record in records:
        evaluated = record.get("stages", {}).get("evaluate")
        if evaluated:
            name_of.setdefault(evaluated["key"], record["name"])
    if names:
        evaluations: list[Artifact] = []
        by_name = {record["name"]: record for record in records}
        for name in names:
            if Path(name).is_dir():
                evaluations.append(open_artifact(name, stage="evaluate", store=store))
                continue
            name = run_name_of(name, store)
            record = by_name.get(name)
            entry = (record or {}).get("stages", {}).get("evaluate")
            artifact = store.find("evaluate", entry["key"]) if entry else None
            if artifact is None:
                known = ", ".join(sorted(by_name)) or "none"
                raise InputError(f"No evaluated run named {name!r}. Runs: {known}.")
            evaluations.append(artifact)
    else:
        evaluations = store.artifacts("evaluate", notice=notice)

    def upstream(stage: str, key: str | None) -> Artifact | None:
        if key is None:
            return None
        try:
            return store.get(stage, key)
        except ArtifactError as error:
            if notice:
                notice(f"{error}; its columns are left empty.")
            return None

    rows = []
    for evaluation in evaluations:
        members = evaluation.stats.get("ensemble")
        if members:
            rows.append(_ensemble_row(evaluation, members, name_of))
            continue
        trained = upstream("train", evaluation.input_key("model"))
        encoded = upstream("encode", evaluation.input_key("encoded"))
        train_stats = trained.stats if trained else {}
        train_params = trained.params if trained else {}
        history: list[dict[str, Any]] = []
        if trained and trained.has_file(HISTORY_FILE):
            history = json.loads(trained.file(HISTORY_FILE).read_text())
        metrics = evaluation.stats
        rows.append(
            ReportRow(
                values={
                    "run": name_of.get(evaluation.key, f"eval-{evaluation.short_key}"),
                    "model": train_stats.get("model", "?"),
                    "params": train_stats.get("params_count"),
                    "settings": _settings(train_params),
                    "vocab": (
                        encoded.stats.get("vocab_size")
                        if encoded
                        else train_stats.get("vocab_size")
                    ),
                    "length": encoded.stats.get("length") if encoded else train_stats.get("length"),
                    "epochs": train_stats.get("epochs_run"),
                    "train_seconds": train_stats.get("train_seconds"),
                    "seconds_per_epoch": train_stats.get("seconds_per_epoch"),
                    "accuracy": metrics.get("accuracy"),
                    "f1": metrics.get("f1"),
                    "macro_f1": macro_f1(metrics),
                    "roc_auc": metrics.get("roc_auc"),
                    "loss": metrics.get("loss"),
                    "split": metrics.get("split"),
                    "data": (
                        encoded.short_key if encoded else evaluation.inputs.get("encoded", "")[:6]
                    ),
                },
                history=history,
                confusion_matrix=metrics.get("confusion_matrix"),
                label_names=metrics.get("label_names"),
            )
        )
    return rows


def _ensemble_row(
    evaluation: Artifact, members: list[dict[str, Any]], name_of: dict[str, str]
) -> ReportRow:
    metrics = evaluation.stats
    weights = {member["weight"] for member in members}
    parts = [
        member["name"] if len(weights) == 1 else f"{member['name']}×{member['weight']:.2g}"
        for member in members
    ]
    values = dict.fromkeys(COLUMNS)
    values.update(
        run=name_of.get(evaluation.key, "ensemble: " + " + ".join(parts)),
        model="ensemble",
        settings=f"{len(members)} runs, " + ("equal weights" if len(weights) == 1 else "weighted"),
        accuracy=metrics.get("accuracy"),
        f1=metrics.get("f1"),
        macro_f1=macro_f1(metrics),
        roc_auc=metrics.get("roc_auc"),
        loss=metrics.get("loss"),
        split=metrics.get("split"),
        data="",
    )
    return ReportRow(
        values=values,
        history=[],
        confusion_matrix=metrics.get("confusion_matrix"),
        label_names=metrics.get("label_names"),
    )


def sort_rows(rows: list[ReportRow], metric: str | None) -> list[ReportRow]:
    if metric is None:
        return rows
    if metric not in COLUMNS:
        from textpipe.errors import ConfigError

        raise ConfigError(f"Cannot sort by {metric!r}. Columns: {', '.join(COLUMNS)}.")
    descending = METRIC_COLUMNS.get(metric, False)
    present = [row for row in rows if row.values.get(metric) is not None]
    missing = [row for row in rows if row.values.get(metric) is None]
    return sorted(present, key=lambda row: row.values[metric], reverse=descending) + missing


def best_values(rows: list[ReportRow]) -> dict[str, Any]:
    """The best value of each metric column."""
    best = {}
    for metric, higher in METRIC_COLUMNS.items():
        values = [row.values[metric] for row in rows if row.values.get(metric) is not None]
        if values:
            best[metric] = max(values) if higher else min(values)
    return best


def format_value(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name in METRIC_COLUMNS:
        return f"{value:.4f}"
    if name in ("train_seconds", "seconds_per_epoch"):
        return f"{value:.1f}"
    if name == "params":
        return f"{value:,}"
    return str(value)


def to_json(rows: list[ReportRow]) -> str:
    return json.dumps([row.values for row in rows], indent=2)


def to_csv(rows: list[ReportRow]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {name: "" if row.values[name] is None else row.values[name] for name in COLUMNS}
        )
    return buffer.getvalue()


def formatted_cells(
    rows: list[ReportRow], columns: tuple[str, ...], highlight: Callable[[str], str]
) -> list[list[str]]:
    """Each row's cells as text, the best value of every metric column passed to ``highlight``."""
    best = best_values(rows)
    table = []
    for row in rows:
        cells = []
        for name in columns:
            text = format_value(name, row.values[name])
            if name in best and row.values[name] == best[name]:
                text = highlight(text)
            cells.append(text)
        table.append(cells)
    return table


def to_markdown(rows: list[ReportRow]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for cells in formatted_cells(rows, COLUMNS, lambda text: f"**{text}**"):
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# Confusion matrices with more classes than this are drawn without a count in each cell.
MAX_ANNOTATED_CLASSES = 12


def check_plot_path(path: Path, *, overwrite: bool = False) -> None:
    """Refuse a plot name with another suffix than .png, .pdf or .svg, or one that exists
    (unless ``overwrite``, and then only a file): InputError."""
    if path.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise InputError(f"--plot {path}: use a name ending in .png, .pdf or .svg.")
    check_replaceable(path, option="--plot", overwrite=overwrite)


def plot(rows: list[ReportRow], path: Path, *, overwrite: bool = False) -> None:
    """Learning curves, test accuracy and one confusion matrix per run, in one PNG.

    Top row: validation accuracy and loss per epoch of every run (training values where a run
    had no validation split), from `history.json`, and a bar chart of test accuracy. Below, the
    confusion matrix of each run, rows normalized to the true class (with counts written in
    the cells up to `MAX_ANNOTATED_CLASSES` classes).

    The image is replaced only with ``overwrite``: it may be a file of the user's.

    Raises:
        InputError: matplotlib is not installed, or ``path`` exists (without ``overwrite``,
            or as something other than a file).
    """
    check_plot_path(path, overwrite=overwrite)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise InputError(
            "--plot needs matplotlib: pip install 'textpipe[plot]' (or pip install matplotlib)."
        ) from None
    with_matrix = [row for row in rows if row.confusion_matrix and row.label_names]
    matrix_columns = 3
    matrix_rows = -(-len(with_matrix) // matrix_columns)
    figure = plt.figure(figsize=(15, 4.5 + 4.2 * matrix_rows))
    grid = figure.add_gridspec(
        1 + matrix_rows, matrix_columns, height_ratios=[1.0] * (1 + matrix_rows)
    )
    accuracy_axes = figure.add_subplot(grid[0, 0])
    loss_axes = figure.add_subplot(grid[0, 1])
    bars = figure.add_subplot(grid[0, 2])
    for axes, metric in ((accuracy_axes, "accuracy"), (loss_axes, "loss")):
        for row in rows:
            validation = f"val_{metric}"
            key = validation if any(validation in epoch for epoch in row.history) else metric
            points = [(epoch["epoch"], epoch[key]) for epoch in row.history if key in epoch]
            if points:
                axes.plot(
                    *zip(*points, strict=True), marker="o", label=f"{row.values['run']} ({key})"
                )
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("epoch")
        axes.set_ylabel(f"validation {metric}")
        axes.set_title(f"Learning curves: validation {metric}")
        axes.grid(alpha=0.3)
        if any(row.history for row in rows):
            axes.legend(fontsize=7)
    names = [row.values["run"] for row in rows]
    accuracies = [row.values["accuracy"] or 0 for row in rows]
    bars.barh(names, accuracies, color="tab:blue")
    for index, value in enumerate(accuracies):
        bars.text(value, index, f" {value:.4f}", va="center", fontsize=8)
    bars.set_xlim(min([*accuracies, 0.5]) - 0.05, 1.0)
    bars.set_xlabel("test accuracy")
    bars.set_title("Test accuracy")
    for index, row in enumerate(with_matrix):
        axes = figure.add_subplot(grid[1 + index // matrix_columns, index % matrix_columns])
        counts = np.asarray(row.confusion_matrix, dtype=np.float64)
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        labels = list(row.label_names or [])
        ticks = range(len(labels))
        axes.set_xticks(ticks, labels, rotation=45, ha="right", fontsize=7)
        axes.set_yticks(ticks, labels, fontsize=7)
        axes.set_xlabel("predicted")
        axes.set_ylabel("true")
        split = row.values.get("split") or "test"
        axes.set_title(
            f"{row.values['run']}: confusion ({split}; counts, shaded by share of the row)",
            fontsize=9,
        )
        if len(labels) <= MAX_ANNOTATED_CLASSES:
            for (true, predicted), count in np.ndenumerate(counts):
                color = "white" if shares[true, predicted] > 0.5 else "black"
                axes.text(
                    predicted,
                    true,
                    f"{int(count):,}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=color,
                )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside its name and renamed into place: no half-written image is ever left.
    temporary = path.with_name(f".{path.stem}.incomplete-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        figure.savefig(temporary, dpi=110)
        os.replace(temporary, path)
    finally:
        plt.close(figure)
        temporary.unlink(missing_ok=True)
