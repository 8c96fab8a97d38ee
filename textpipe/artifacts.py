"""The artifact cache: keys, atomic writes, manifests, locks; the only code touching the cache.

An artifact is a directory holding a stage's files and a ``manifest.json`` written last. Its key is
the sha256 of the canonical JSON of ``{stage, version, params, inputs}``, where ``inputs`` maps each
input's name to that input's key, so keys chain through the pipeline. Artifacts are built under the
store root (``TEXTPIPE_HOME``, default ``./data``) in ``<stage>/<key[:16]>``; an explicit output
directory receives a hard-linked copy of the stored artifact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from textpipe import __version__
from textpipe.errors import ArtifactError, ConfigError

MANIFEST_NAME = "manifest.json"
KEY_DIR_LENGTH = 16
INCOMPLETE_MARKER = ".incomplete-"

Status = Literal["built", "cached"]
Notice = Callable[[str], None]


def default_root() -> Path:
    """The artifact root: ``$TEXTPIPE_HOME`` or ``./data``."""
    return Path(os.environ.get("TEXTPIPE_HOME") or "data")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace; raises ConfigError for non-JSON values."""

    def reject(obj: Any) -> Any:
        raise ConfigError(f"Cache keys take JSON values only, got {type(obj).__name__}: {obj!r}")

    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), allow_nan=False, default=reject
        )
    except ValueError as error:  # NaN or infinity
        raise ConfigError(f"Cache keys take finite numbers only: {error}") from None


def compute_key(
    *, stage: str, version: int, params: Mapping[str, Any], inputs: Mapping[str, str]
) -> str:
    """The cache key of an artifact: sha256 of its stage, version, parameters and inputs' keys."""
    payload = {"stage": stage, "version": version, "params": dict(params), "inputs": dict(inputs)}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """The sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Artifact:
    """A complete artifact directory and its parsed manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def stage(self) -> str:
        return self.manifest["stage"]

    @property
    def key(self) -> str:
        return self.manifest["key"]

    @property
    def short_key(self) -> str:
        return self.key[:6]

    @property
    def params(self) -> dict[str, Any]:
        return self.manifest["params"]

    @property
    def inputs(self) -> dict[str, str]:
        return self.manifest["inputs"]

    @property
    def stats(self) -> dict[str, Any]:
        return self.manifest.get("stats", {})

    def file(self, name: str) -> Path:
        """The path of one of the artifact's files; ArtifactError when it is missing."""
        path = self.path / name
        if not path.is_file():
            raise ArtifactError(f"{self.path}: file {name!r} is missing; rebuild the artifact.")
        return path

    def has_file(self, name: str) -> bool:
        return (self.path / name).is_file()


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The manifest of a directory, or None when it is absent, unreadable or inconsistent."""
    try:
        manifest = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    required = ("stage", "version", "key", "params", "inputs", "files")
    if not isinstance(manifest, dict) or any(name not in manifest for name in required):
        return None
    for entry in manifest["files"]:
        try:
            if (directory / entry["name"]).stat().st_size != entry["size"]:
                return None
        except (OSError, KeyError, TypeError):
            return None
    return manifest


def open_artifact(path: str | Path, *, stage: str | tuple[str, ...] | None = None) -> Artifact:
    """Open an artifact directory given by a user, checking that it comes from ``stage``.

    Raises:
        ArtifactError: the directory is missing, has no readable manifest, or is another stage's.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise ArtifactError(f"{directory}: no such artifact directory.")
    manifest = read_manifest(directory)
    if manifest is None:
        raise ArtifactError(
            f"{directory}: not a textpipe artifact (no complete {MANIFEST_NAME}); "
            "it may be unfinished or corrupt, so rebuild it."
        )
    expected = (stage,) if isinstance(stage, str) else stage
    if expected and manifest["stage"] not in expected:
        raise ArtifactError(
            f"{directory}: expected an artifact of stage {' or '.join(expected)!s}, "
            f"got one of stage {manifest['stage']!r}."
        )
    return Artifact(path=directory, manifest=manifest)


@dataclass(frozen=True)
class Outcome:
    """What the cache did for one stage."""

    artifact: Artifact
    status: Status
    seconds: float

    def line(self) -> str:
        """One line such as ``vocab     built   3fa2c1  12.4 s``."""
        timing = "skipped" if self.status == "cached" else f"{self.seconds:.1f} s"
        return f"{self.artifact.stage:<10}{self.status:<8}{self.artifact.short_key}  {timing}"


@contextlib.contextmanager
def _lock(path: Path, timeout: float = 24 * 3600) -> Iterator[None]:
    from filelock import FileLock  # light, but only needed when something is built

    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path), timeout=timeout):
        yield


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _replace_directory(source: Path, target: Path) -> None:
    """Move a complete directory into place, replacing ``target`` if it exists."""
    if target.exists() or target.is_symlink():
        retired = target.with_name(f"{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, retired)
        os.replace(source, target)
        _remove_tree(retired)
    else:
        os.replace(source, target)


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    temporary = directory / f".{MANIFEST_NAME}.tmp"
    temporary.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(temporary, directory / MANIFEST_NAME)


class Store:
    """The content-addressed artifact store under one root directory."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()

    def path_for(self, stage: str, key: str) -> Path:
        return self.root / stage / key[:KEY_DIR_LENGTH]

    def find(self, stage: str, key: str, notice: Notice | None = None) -> Artifact | None:
        """The stored artifact of ``key``; a corrupt one is reported, removed and not returned."""
        directory = self.path_for(stage, key)
        if not directory.exists():
            return None
        manifest = read_manifest(directory)
        if manifest is not None and manifest["key"] == key:
            return Artifact(path=directory, manifest=manifest)
        if notice:
            notice(f"{directory}: incomplete or corrupt artifact, removing it and rebuilding")
        _remove_tree(directory)
        return None

    def artifacts(self, stage: str) -> list[Artifact]:
        """Every complete artifact of a stage under the root, oldest first."""
        found = []
        for directory in sorted((self.root / stage).glob("*")):
            if INCOMPLETE_MARKER in directory.name or not directory.is_dir():
                continue
            manifest = read_manifest(directory)
            if manifest is not None:
                found.append(Artifact(path=directory, manifest=manifest))
        return sorted(found, key=lambda artifact: artifact.manifest.get("created", ""))

    def produce(
        self,
        *,
        stage: str,
        version: int,
        params: Mapping[str, Any],
        inputs: Mapping[str, str],
        build: Callable[[Path], Mapping[str, Any]],
        output: str | Path | None = None,
        force: bool = False,
        notice: Notice | None = None,
    ) -> Outcome:
        """Return the artifact of these parameters and inputs, building it only when needed.

        Args:
            stage: the stage name.
            version: the stage's format version, part of the key.
            params: the stage's parameters (JSON values only).
            inputs: input name to input key (or content fingerprint).
            build: writes the stage's files into the directory it is given and returns the
                stage's statistics; it runs only on a cache miss.
            output: an explicit directory that receives the artifact as well.
            force: rebuild even when a stored artifact exists.
            notice: receives one-line messages about corrupt artifacts.

        Returns:
            The artifact, whether it was built or found, and the seconds spent building.
        """
        key = compute_key(stage=stage, version=version, params=params, inputs=inputs)
        output_path = Path(output) if output is not None else None
        if output_path is not None and not force:
            existing = read_manifest(output_path) if output_path.is_dir() else None
            if existing is not None and existing["key"] == key:
                return Outcome(Artifact(output_path, existing), "cached", 0.0)

        start = time.perf_counter()
        target = self.path_for(stage, key)
        with _lock(self.root / ".locks" / f"{key}.lock"):
            artifact = None if force else self.find(stage, key, notice)
            status: Status = "cached"
            if artifact is None:
                artifact = self._build(
                    stage=stage,
                    version=version,
                    key=key,
                    params=params,
                    inputs=inputs,
                    build=build,
                    target=target,
                )
                status = "built"
            if output_path is not None:
                artifact = self._materialize(artifact, output_path)
        seconds = time.perf_counter() - start if status == "built" else 0.0
        return Outcome(artifact, status, seconds)

    def _build(
        self,
        *,
        stage: str,
        version: int,
        key: str,
        params: Mapping[str, Any],
        inputs: Mapping[str, str],
        build: Callable[[Path], Mapping[str, Any]],
        target: Path,
    ) -> Artifact:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f"{target.name}{INCOMPLETE_MARKER}{uuid.uuid4().hex[:8]}")
        temporary.mkdir()
        try:
            start = time.perf_counter()
            stats = dict(build(temporary))
            paths = [
                path
                for path in sorted(temporary.iterdir())
                if path.is_file() and path.name != MANIFEST_NAME
            ]
            # hashlib releases the GIL on large buffers: hash the files side by side.
            with ThreadPoolExecutor(max(1, min(4, len(paths)))) as pool:
                digests = list(pool.map(file_sha256, paths))
            files = [
                {"name": path.name, "size": path.stat().st_size, "sha256": digest}
                for path, digest in zip(paths, digests, strict=True)
            ]
            manifest = {
                "stage": stage,
                "version": version,
                "key": key,
                "params": dict(params),
                "inputs": dict(inputs),
                "textpipe_version": __version__,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "build_seconds": round(time.perf_counter() - start, 3),
                "files": files,
                "stats": stats,
            }
            canonical_json(manifest)  # statistics must be JSON too
            _write_manifest(temporary, manifest)
            _replace_directory(temporary, target)
        except BaseException:
            _remove_tree(temporary)
            raise
        return Artifact(path=target, manifest=manifest)

    def _materialize(self, artifact: Artifact, output: Path) -> Artifact:
        """Copy a stored artifact to ``output`` (hard links where possible), atomically."""
        if output.resolve() == artifact.path.resolve():
            return artifact
        output.parent.mkdir(parents=True, exist_ok=True)
        with _lock(output.with_name(f".{output.name}.lock")):
            temporary = output.with_name(f"{output.name}{INCOMPLETE_MARKER}{uuid.uuid4().hex[:8]}")
            temporary.mkdir()
            try:
                for entry in artifact.manifest["files"]:
                    source = artifact.path / entry["name"]
                    try:
                        os.link(source, temporary / entry["name"])
                    except OSError:
                        shutil.copyfile(source, temporary / entry["name"])
                # written anew, so that make sees a fresh target when the key changed
                _write_manifest(temporary, artifact.manifest)
                _replace_directory(temporary, output)
            except BaseException:
                _remove_tree(temporary)
                raise
        return Artifact(path=output, manifest=artifact.manifest)
