"""Presets: pipeline TOML files found by name, and the run name each is recorded under.

A preset is ``<name>.toml`` in ``$TEXTPIPE_PIPELINES``, ``./pipelines`` or the checkout's
``pipelines/`` (first found wins). Any other TOML file can be run by path; its run is named
after the file's stem, unless that name belongs to a preset or to the recorded run of another
file: then ``<stem>-<8 hex digits of its resolved path>``, so that ``run exp/imdb-lstm.toml``
never overwrites the record of the ``imdb-lstm`` preset, nor that of another file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from textpipe.artifacts import Store, is_run_name
from textpipe.config import PipelineConfig, load_pipeline_file
from textpipe.errors import ConfigError

PRESET_SUFFIX = ".toml"


def preset_dirs() -> list[Path]:
    """Where presets are looked up: $TEXTPIPE_PIPELINES, ./pipelines, then the checkout's."""
    dirs = []
    if os.environ.get("TEXTPIPE_PIPELINES"):
        dirs.append(Path(os.environ["TEXTPIPE_PIPELINES"]))
    dirs.append(Path("pipelines"))
    dirs.append(Path(__file__).resolve().parents[1] / "pipelines")
    unique: list[Path] = []
    for directory in dirs:
        if directory.is_dir() and all(directory.resolve() != seen.resolve() for seen in unique):
            unique.append(directory)
    return unique


def available_presets() -> dict[str, Path]:
    """Preset name to file, first directory winning."""
    found: dict[str, Path] = {}
    for directory in preset_dirs():
        for path in sorted(directory.glob(f"*{PRESET_SUFFIX}")):
            found.setdefault(path.stem, path)
    return dict(sorted(found.items()))


def is_pipeline_file(name_or_path: str) -> bool:
    """Whether an argument names a pipeline file rather than a preset or run."""
    path = Path(name_or_path)
    return path.suffix == PRESET_SUFFIX or path.is_file()


def recorded_file(record: object) -> Path | None:
    """The resolved pipeline file a run record names, if it names one."""
    recorded = record.get("pipeline_file") if isinstance(record, dict) else None
    return Path(recorded).resolve() if isinstance(recorded, str) and recorded else None


def run_name_for(path: Path, store: Store | None = None) -> str:
    """The run name of a pipeline file (see the module's docstring): never a preset's name
    unless the file is that preset, and never the name of another file's recorded run."""
    store = store if store is not None else Store()
    resolved = path.resolve()
    presets = available_presets()
    preset = presets.get(path.stem)
    if preset is not None and preset.resolve() == resolved:
        return path.stem
    stem = path.stem[:100]  # room for the digest within a run name's 128 characters
    digest = hashlib.sha256(str(resolved).encode("utf-8")).hexdigest()
    candidates = [f"{stem}-{digest[:8]}", f"{stem}-{digest[:16]}", f"{stem}-{digest[:27]}"]
    if preset is None:
        candidates.insert(0, stem)
    for name in candidates:
        if not is_run_name(name) or name in presets:
            continue
        record = store.read_run_record(name)
        if record is None or recorded_file(record) == resolved:
            return name
    return candidates[-1]


def load_config(
    name_or_path: str, overrides: list[str] | tuple[str, ...] = (), store: Store | None = None
) -> PipelineConfig:
    """A preset by name, or a TOML file by path, with ``stage.key=value`` overrides; named as
    its run is recorded in ``store`` (default: the store under TEXTPIPE_HOME).

    Raises:
        ConfigError: unknown preset (listing the available ones) or invalid content.
    """
    if is_pipeline_file(name_or_path):
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such pipeline file.")
        return load_pipeline_file(path, overrides, name=run_name_for(path, store))
    presets = available_presets()
    if name_or_path not in presets:
        import difflib

        close = difflib.get_close_matches(name_or_path, presets, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"Unknown preset {name_or_path!r}.{hint} Available presets: "
            f"{', '.join(presets) or 'none'}. Or pass a path to a .toml file."
        )
    return load_pipeline_file(presets[name_or_path], overrides, name=name_or_path)
