"""The artifact store: keys, layout, atomic writes, manifests, verification, locks.

This is the only module that knows where things live on disk. Under the store root
(``TEXTPIPE_HOME``, default ``./data``)::

    <stage>/<key[:16]>/          an artifact: its files and manifest.json (written last)
    partial/<stage>/<key[:16]>/  an interrupted training's last checkpoint
    runs/<name>.json             what a pipeline run used
    .locks/                      one lock file per key and per -o folder
    .verified/                   file size, mtime, inode and ctime of each verified artifact

An artifact's key is the sha256 of the canonical JSON of ``{stage, version, params, inputs}``,
where ``inputs`` maps each input's name to that input's key, so keys chain through the pipeline.
An artifact exists only if its manifest parses, carries its own checksum, and every file matches
its recorded sha256. Hashing a file again is skipped while its size, mtime, inode and ctime are
those recorded when it was last hashed (as DVC does), so a cached run stays fast; ``verify``
re-hashes everything. Stored files are read-only; ``-o`` receives real copies, so editing a copy
cannot change the store.

textpipe deletes or replaces only what it created: store entries, and ``-o`` folders that hold a
textpipe artifact and nothing else. Every path built from a key, a stage or a run name is checked
to resolve inside the store.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from textpipe import __version__
from textpipe.config import STAGE_NAMES
from textpipe.errors import ArtifactError, ConfigError, InputError

MANIFEST_NAME = "manifest.json"
KEY_DIR_LENGTH = 16
INCOMPLETE_MARKER = ".incomplete-"
RETIRED_MARKER = ".old-"
RUNS_DIR = "runs"
PARTIAL_DIR = "partial"
LOCKS_DIR = ".locks"
VERIFIED_DIR = ".verified"
CHECKSUM_FIELD = "checksum"
REQUIRED_FIELDS = ("stage", "version", "key", "params", "inputs", "files")

KEY_PATTERN = re.compile(r"[0-9a-f]{64}")
ENTRY_NAME = re.compile(r"[0-9a-f]{16}")  # a store entry is named by its key's first 16 digits
RUN_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
FILE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
# Leftovers of an interrupted build or replacement in the store: <entry>.incomplete-<hex>.
STORE_LEFTOVER = re.compile(r"[0-9a-f]{16}\.(?:incomplete|old)-[0-9a-f]{8}")
# Beside an -o folder NAME, textpipe's temporaries are .NAME.textpipe-incomplete-<hex>.
OUTPUT_TEMPORARY = ".textpipe-incomplete-"
OUTPUT_RETIRED = ".textpipe-old-"

# Seconds to wait for another process that builds the same key before giving up.
DEFAULT_LOCK_TIMEOUT = 6 * 3600.0
STORED_FILE_MODE = 0o444

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


@dataclass(frozen=True)
class Identity:
    """What an artifact is: its stage, format version, keyed parameters and inputs' keys.

    Its key names it in the store. ``context`` carries what computing the identity found out
    (a resolved source, for instance) to the build; it is not part of the key.
    """

    stage: str
    version: int
    params: Mapping[str, Any]
    inputs: Mapping[str, str]
    context: Any = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        return compute_key(
            stage=self.stage, version=self.version, params=self.params, inputs=self.inputs
        )


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """The sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def is_key(value: Any) -> bool:
    """Whether a value has the one format of a cache key (64 lowercase hex digits)."""
    return isinstance(value, str) and KEY_PATTERN.fullmatch(value) is not None


def check_key(value: Any, *, where: str) -> str:
    """A cache key read from a file or an argument; ArtifactError for anything else."""
    if not is_key(value):
        raise ArtifactError(f"{where}: {value!r} is not a textpipe key (64 hex digits).")
    return value


def check_stage(stage: Any, *, where: str = "stage") -> str:
    """A stage name read from a file or an argument; ArtifactError for an unknown one."""
    if stage not in STAGE_NAMES:
        raise ArtifactError(f"{where}: unknown stage {stage!r}. Stages: {', '.join(STAGE_NAMES)}.")
    return stage


def is_run_name(name: Any) -> bool:
    """Whether a value is a run name: letters, digits, '.', '_' and '-', no '/' or '..'."""
    return isinstance(name, str) and bool(RUN_NAME_PATTERN.fullmatch(name)) and ".." not in name


def check_run_name(name: Any) -> str:
    """A run name (see ``is_run_name``); InputError for anything else."""
    if not is_run_name(name):
        raise InputError(
            f"Invalid run name {name!r}: use letters, digits, '.', '_' and '-' (no '/' or '..')."
        )
    return name


def manifest_checksum(manifest: Mapping[str, Any]) -> str:
    """The sha256 of a manifest's canonical JSON without its checksum field."""
    body = {name: value for name, value in manifest.items() if name != CHECKSUM_FIELD}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def _manifest_problem(manifest: Any) -> str | None:
    """Why a parsed manifest cannot be trusted, or None."""
    if not isinstance(manifest, dict) or any(name not in manifest for name in REQUIRED_FIELDS):
        return "its manifest lacks required fields"
    if manifest.get(CHECKSUM_FIELD) is None:
        return "its manifest has no checksum (written by an older textpipe?)"
    try:
        if manifest_checksum(manifest) != manifest[CHECKSUM_FIELD]:
            return "its manifest does not match its checksum"
    except ConfigError:
        return "its manifest holds non-JSON values"
    if not is_key(manifest["key"]) or manifest["stage"] not in STAGE_NAMES:
        return "its manifest names an invalid key or stage"
    if (
        not isinstance(manifest["inputs"], dict)
        or not isinstance(manifest["params"], dict)
        or not isinstance(manifest["files"], list)
        or not isinstance(manifest.get("stats", {}), dict)
    ):
        return "its manifest is malformed"
    for entry in manifest["files"]:
        name = entry.get("name") if isinstance(entry, dict) else None
        if (
            not isinstance(name, str)
            or not FILE_NAME_PATTERN.fullmatch(name)
            or name == MANIFEST_NAME
            or not isinstance(entry.get("size"), int)
            or not isinstance(entry.get("sha256"), str)
        ):
            return f"its manifest lists an invalid file entry {entry!r}"
    return None


def load_json(path: Path) -> Any:
    """A small JSON file's content; ValueError for anything that is not a readable JSON file
    (a FIFO, a directory, bad UTF-8, absurd nesting)."""
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, RecursionError) as error:
        raise ValueError(str(error)) from None


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The parsed manifest of a directory when it is a sealed textpipe manifest, else None.

    This checks the manifest alone, not the files; ``Store.inspect`` checks both.
    """
    try:
        manifest = load_json(directory / MANIFEST_NAME)
    except (OSError, ValueError):
        return None
    return manifest if _manifest_problem(manifest) is None else None


@dataclass(frozen=True)
class Artifact:
    """A complete, verified artifact directory and its parsed manifest."""

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

    def stat(self, name: str) -> Any:
        """A statistic the stage recorded; ArtifactError when the manifest lacks it."""
        return self._required(self.stats, name, "statistic")

    def param(self, name: str) -> Any:
        """A keyed parameter; ArtifactError when the manifest lacks it."""
        return self._required(self.params, name, "parameter")

    def _required(self, values: Mapping[str, Any], name: str, what: str) -> Any:
        if name not in values:
            raise ArtifactError(
                f"{self.path}: its manifest has no {what} {name!r} (made by another textpipe "
                "version?); rebuild it with --force."
            )
        return values[name]

    def input_key(self, name: str) -> str | None:
        """The key of one of the artifact's inputs, validated; None when it has no such input."""
        value = self.inputs.get(name)
        if value is None:
            return None
        return check_key(value, where=f"{self.path / MANIFEST_NAME}: input {name!r}")

    def file(self, name: str) -> Path:
        """The path of one of the artifact's files; ArtifactError when it is missing."""
        if name not in {entry["name"] for entry in self.manifest["files"]}:
            raise ArtifactError(f"{self.path}: file {name!r} is missing; rebuild the artifact.")
        return self.path / name

    def has_file(self, name: str) -> bool:
        return any(entry["name"] == name for entry in self.manifest["files"])


class DamagedArtifactError(ArtifactError):
    """An artifact directory exists but cannot be trusted (unfinished, edited or corrupt)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: damaged artifact: {reason}")


class _VerifiedFiles:
    """Remembers each hashed file's (size, mtime, inode, ctime) so unchanged files are not
    hashed again. Kept under the store root, keyed by the artifact directory's resolved path."""

    def __init__(self, root: Path) -> None:
        self.directory = root / VERIFIED_DIR

    def _path(self, artifact_dir: Path) -> Path:
        name = hashlib.sha256(str(artifact_dir.resolve()).encode("utf-8")).hexdigest()[:32]
        return self.directory / f"{name}.json"

    def load(self, artifact_dir: Path) -> dict[str, list[Any]]:
        try:
            record = load_json(self._path(artifact_dir))
        except (OSError, ValueError):
            return {}
        if not isinstance(record, dict) or record.get("path") != str(artifact_dir.resolve()):
            return {}
        files = record.get("files")
        return files if isinstance(files, dict) else {}

    def save(self, artifact_dir: Path, files: dict[str, list[Any]]) -> None:
        record = {"path": str(artifact_dir.resolve()), "files": files}
        # a read-only store still verifies, by hashing every time
        with contextlib.suppress(OSError):
            write_text_atomic(self._path(artifact_dir), json.dumps(record))

    def forget(self, artifact_dir: Path) -> None:
        with contextlib.suppress(OSError):
            self._path(artifact_dir).unlink()


def _fingerprint(path: Path) -> list[Any]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns]


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file through a uniquely named temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    sealed = {name: value for name, value in manifest.items() if name != CHECKSUM_FIELD}
    sealed[CHECKSUM_FIELD] = manifest_checksum(sealed)
    write_text_atomic(directory / MANIFEST_NAME, json.dumps(sealed, indent=2) + "\n")
    return sealed


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _is_within(path: Path, parent: Path) -> bool:
    return path == parent or path.is_relative_to(parent)


def resolve_path(path: Path) -> Path:
    """``path.resolve()``; ArtifactError for a symbolic-link loop or an unreadable path."""
    try:
        return path.resolve()
    except (RuntimeError, OSError) as error:
        raise ArtifactError(f"{path}: cannot resolve the path ({error}).") from None


def check_replaceable(path: Path, *, option: str, overwrite: bool) -> None:
    """Refuse a file name that exists, unless ``overwrite`` and it is a file: it may be a
    file of the user's (``predict -o``, ``report --plot``).

    Raises:
        InputError: naming ``option`` and the path.
    """
    if path.exists() and (not overwrite or not path.is_file()):
        raise InputError(
            f"{option} {path}: exists; pass --overwrite to replace it"
            if path.is_file()
            else f"{option} {path}: exists and is not a file."
        )


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


@dataclass(frozen=True)
class VerifyReport:
    """What ``Store.verify_all`` found."""

    checked: int
    files: int
    bytes: int
    damaged: list[DamagedArtifactError]
    leftovers: list[Path]
    foreign: list[Path]


def lock_timeout() -> float:
    """Seconds to wait for a lock: ``$TEXTPIPE_LOCK_TIMEOUT`` or six hours."""
    raw = os.environ.get("TEXTPIPE_LOCK_TIMEOUT")
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (0 <= value < float("inf")):
        raise ConfigError(
            f"TEXTPIPE_LOCK_TIMEOUT must be a number of seconds (0 or more), got {raw!r}."
        )
    return value


LOCK_POLL_SECONDS = 0.05


def _try_lock(path: Path, *, timeout: float) -> Callable[[], None] | None:
    """Lock the file ``path`` within ``timeout`` seconds; its release, or None on timeout.

    On POSIX this is ``fcntl.flock`` on the file, as ``filelock``'s Unix lock does, so
    processes of earlier textpipe versions still exclude each other; importing ``filelock``
    costs every stage process about 9 ms, so it serves only where ``flock`` does not
    (Windows, or a file system that refuses it).
    """
    try:
        import fcntl
    except ImportError:  # Windows
        return _try_filelock(path, timeout=timeout)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                os.close(descriptor)
                if error.errno == errno.ENOSYS:  # no flock on this file system
                    return _try_filelock(path, timeout=timeout)
                raise
        else:

            def release() -> None:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
                os.close(descriptor)

            return release
        if time.monotonic() >= deadline:
            os.close(descriptor)
            return None
        time.sleep(min(LOCK_POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def _try_filelock(path: Path, *, timeout: float) -> Callable[[], None] | None:
    """``_try_lock`` through ``filelock``, which also locks where ``flock`` is missing."""
    from filelock import FileLock, Timeout

    file_lock = FileLock(str(path), timeout=timeout)
    try:
        file_lock.acquire(timeout=timeout)
    except Timeout:
        return None
    return file_lock.release


class Store:
    """The content-addressed artifact store under one root directory."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        self._verified = _VerifiedFiles(self.root)

    # -- layout -----------------------------------------------------------------------------

    def _inside(self, path: Path, what: str) -> Path:
        """``path``, after checking that it resolves inside the store root."""
        root = resolve_path(self.root)
        resolved = resolve_path(path)
        if not resolved.is_relative_to(root) or resolved == root:
            raise ArtifactError(f"{what} resolves outside the store {self.root}: refused.")
        return path

    def path_for(self, stage: str, key: str) -> Path:
        """Where the artifact of ``key`` lives; ArtifactError for a bad stage or key."""
        check_stage(stage)
        check_key(key, where=f"{stage} key")
        return self._inside(self.root / stage / key[:KEY_DIR_LENGTH], f"{stage}/{key[:16]}")

    def partial_dir(self, stage: str, key: str) -> Path:
        """Where an interrupted build of ``key`` keeps its checkpoint."""
        check_stage(stage)
        check_key(key, where=f"{stage} key")
        path = self.root / PARTIAL_DIR / stage / key[:KEY_DIR_LENGTH]
        return self._inside(path, f"{PARTIAL_DIR}/{stage}/{key[:16]}")

    def run_record_path(self, name: str) -> Path:
        """The run record of a run name."""
        check_run_name(name)
        return self._inside(self.root / RUNS_DIR / f"{name}.json", f"run {name!r}")

    def run_names(self) -> list[str]:
        """The names of the recorded runs, sorted (files with other names are ignored)."""
        directory = self.root / RUNS_DIR
        if not directory.is_dir():
            return []
        return sorted(path.stem for path in directory.glob("*.json") if is_run_name(path.stem))

    def read_run_record(self, name: str) -> Any:
        """The parsed record of run ``name``, or None when there is none or it is not JSON."""
        try:
            return load_json(self.run_record_path(name))
        except (OSError, ValueError):
            return None

    def update_run_record(self, name: str, update: Callable[[Any], Mapping[str, Any]]) -> None:
        """Replace run ``name``'s record by ``update(current record or None)``, under a lock, so
        that concurrent runs of one name never lose each other's stages."""
        path = self.run_record_path(name)
        with self.lock(f"run-{name}", what=f"the record of run {name}"):
            record = update(self.read_run_record(name))
            write_text_atomic(path, json.dumps(record, indent=2) + "\n")

    @contextlib.contextmanager
    def lock(self, name: str, *, what: str, notice: Notice | None = None) -> Iterator[None]:
        """Hold the store's lock ``name`` (waiting, with a notice, while another process does)."""
        path = self.root / LOCKS_DIR / f"{name}.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists() and not path.is_file():
                raise ArtifactError(f"{path}: lock path is not a file; remove it.")
            timeout = lock_timeout()  # checked even when no wait comes, so a bad value shows
            release = _try_lock(path, timeout=0)
            if release is None:
                if notice:
                    notice(f"waiting for another textpipe process that is building {what}")
                release = _try_lock(path, timeout=timeout)
                if release is None:
                    raise ArtifactError(
                        f"Gave up after {timeout:.0f} s waiting for another textpipe process "
                        f"building {what} (lock {path}). Wait for it to finish, or raise "
                        "TEXTPIPE_LOCK_TIMEOUT."
                    )
        except PermissionError as error:
            raise ArtifactError(
                f"Cannot create lock file {path}: {error.strerror}. The store "
                f"{self.root} must be writable (set TEXTPIPE_HOME to a writable folder)."
            ) from None
        try:
            yield
        finally:
            release()

    # -- reading ----------------------------------------------------------------------------

    def inspect(self, directory: Path, *, deep: bool = False) -> Artifact:
        """The verified artifact in ``directory``.

        Every file listed in the manifest must exist with its recorded size and sha256. A file
        whose size, mtime, inode and ctime are unchanged since it was last hashed is not hashed
        again unless ``deep``.

        Raises:
            DamagedArtifactError: the manifest is missing, invalid, or a file does not match.
        """
        if not (directory / MANIFEST_NAME).exists():
            raise DamagedArtifactError(directory, f"no {MANIFEST_NAME} (unfinished?)")
        try:
            manifest = load_json(directory / MANIFEST_NAME)
        except (OSError, ValueError):
            raise DamagedArtifactError(directory, f"unreadable {MANIFEST_NAME}") from None
        problem = _manifest_problem(manifest)
        if problem:
            raise DamagedArtifactError(directory, problem)
        remembered = {} if deep else self._verified.load(directory)
        updated: dict[str, list[Any]] = {}
        changed = False
        for entry in manifest["files"]:
            name, size, digest = entry["name"], entry["size"], entry["sha256"]
            path = directory / name
            try:
                if path.is_symlink() or not path.is_file():
                    raise DamagedArtifactError(directory, f"file {name!r} is missing")
                fingerprint = _fingerprint(path)
            except OSError as error:
                raise DamagedArtifactError(directory, f"file {name!r}: {error.strerror}") from None
            if fingerprint[0] != size:
                raise DamagedArtifactError(
                    directory, f"file {name!r} has {fingerprint[0]:,} bytes, expected {size:,}"
                )
            known = remembered.get(name)
            if known == [*fingerprint, digest]:
                updated[name] = known
                continue
            if file_sha256(path) != digest:
                raise DamagedArtifactError(directory, f"file {name!r} does not match its sha256")
            updated[name] = [*fingerprint, digest]
            changed = True
        if changed or set(updated) != set(remembered):
            self._verified.save(directory, updated)
        return Artifact(path=directory, manifest=manifest)

    def get(self, stage: str, key: str) -> Artifact | None:
        """The stored artifact of ``key``, or None. Read-only: never deletes.

        Raises:
            DamagedArtifactError: the artifact exists but cannot be trusted.
            ArtifactError: the stage or key is invalid.
        """
        directory = self.path_for(stage, key)
        if not directory.exists():
            return None
        artifact = self.inspect(directory)
        if artifact.key != key or artifact.stage != stage:
            raise DamagedArtifactError(directory, "its manifest names another key or stage")
        return artifact

    def find(self, stage: str, key: str) -> Artifact | None:
        """Like ``get``; a damaged artifact raises with how to rebuild it."""
        try:
            return self.get(stage, key)
        except DamagedArtifactError as error:
            raise ArtifactError(
                f"{error}. Rebuild it with the command that builds it "
                f"(textpipe {stage} ..., or textpipe run PRESET)."
            ) from None

    def artifacts(self, stage: str, notice: Notice | None = None) -> list[Artifact]:
        """Every complete artifact of a stage, oldest first; damaged ones are reported."""
        check_stage(stage)
        found = []
        stage_dir = self.root / stage
        for directory in sorted(stage_dir.glob("*")) if stage_dir.is_dir() else []:
            if not ENTRY_NAME.fullmatch(directory.name) or not directory.is_dir():
                continue
            try:
                found.append(self.inspect(directory))
            except DamagedArtifactError as error:
                if notice:
                    notice(f"{error}; skipped, the next build of it replaces it.")
        return sorted(found, key=lambda artifact: artifact.manifest.get("created", ""))

    def verify_all(self, *, progress: Notice | None = None) -> VerifyReport:
        """Re-hash every file of every artifact in the store; list interrupted leftovers, and
        folders that are not textpipe's (never touched)."""
        checked = files = size = 0
        damaged: list[DamagedArtifactError] = []
        leftovers: list[Path] = []
        foreign: list[Path] = []
        for stage in STAGE_NAMES:
            stage_dir = self.root / stage
            if not stage_dir.is_dir():
                continue
            try:
                self._inside(stage_dir, str(stage_dir))
            except ArtifactError:
                foreign.append(stage_dir)
                continue
            for directory in sorted(stage_dir.iterdir()):
                if STORE_LEFTOVER.fullmatch(directory.name) and self._is_entry(directory):
                    leftovers.append(directory)
                    continue
                if not ENTRY_NAME.fullmatch(directory.name) or not self._is_entry(directory):
                    foreign.append(directory)
                    continue
                checked += 1
                try:
                    artifact = self.inspect(directory, deep=True)
                except DamagedArtifactError as error:
                    damaged.append(error)
                    continue
                if directory.name != artifact.key[:KEY_DIR_LENGTH] or artifact.stage != stage:
                    damaged.append(
                        DamagedArtifactError(directory, "its manifest names another key or stage")
                    )
                    continue
                files += len(artifact.manifest["files"])
                size += sum(entry["size"] for entry in artifact.manifest["files"])
                if progress:
                    progress(f"{stage:<10}ok      {artifact.short_key}  {directory}")
        return VerifyReport(checked, files, size, damaged, leftovers, foreign)

    def _is_entry(self, directory: Path) -> bool:
        """A real folder (not a link) directly under a stage folder, inside the store."""
        if directory.is_symlink() or not directory.is_dir():
            return False
        if directory.parent.name not in STAGE_NAMES:
            return False
        try:
            self._inside(directory, str(directory))
        except ArtifactError:
            return False
        return resolve_path(directory.parent.parent) == resolve_path(self.root)

    # -- writing ----------------------------------------------------------------------------

    def remove(self, stage: str, key: str) -> None:
        """Delete one store entry (and what the store remembers of it)."""
        directory = self.path_for(stage, key)
        self._verified.forget(directory)
        _remove_tree(directory)

    def discard(self, directory: Path) -> None:
        """Delete a damaged store entry, or a leftover of an interrupted build, that
        ``verify_all`` found; refuses anything else."""
        named = ENTRY_NAME.fullmatch(directory.name) or STORE_LEFTOVER.fullmatch(directory.name)
        if not named or not self._is_entry(directory):
            raise ArtifactError(f"{directory}: not a store entry; refused.")
        self._verified.forget(directory)
        _remove_tree(directory)

    def produce(
        self,
        identity: Identity,
        *,
        build: Callable[[Path], Mapping[str, Any]],
        output: str | Path | None = None,
        force: bool = False,
        notice: Notice | None = None,
    ) -> Outcome:
        """Return the artifact of these parameters and inputs, building it only when needed.

        Args:
            identity: the stage, its format version, its keyed parameters (JSON values only)
                and its inputs' keys (or content fingerprints).
            build: writes the stage's files into the directory it is given and returns the
                stage's statistics; it runs only on a cache miss.
            output: an explicit directory that receives a copy of the artifact as well; it
                must be empty, absent, or hold a textpipe artifact and nothing else.
            force: rebuild even when a stored artifact exists.
            notice: receives one-line messages about damaged artifacts and lock waits.

        Returns:
            The artifact, whether it was built or found, and the seconds spent building.

        Raises:
            ArtifactError: ``output`` is not a folder textpipe may replace, or a lock wait
                timed out.
        """
        stage, version, params, inputs = (
            identity.stage,
            identity.version,
            identity.params,
            identity.inputs,
        )
        key = identity.key
        target = self.path_for(stage, key)
        output_path = self.check_output(Path(output)) if output is not None else None
        held = read_manifest(output_path) if output_path is not None else None
        if held is not None and held["key"] in inputs.values():
            raise ArtifactError(
                f"-o {output}: holds this {stage}'s input ({held['stage']} {held['key'][:6]}), "
                "which the output would replace; choose another folder."
            )
        if output_path is not None and not force:
            existing = self._existing_output(output_path, notice)
            if existing is not None and existing.key == key and self._not_damaged(stage, key):
                return Outcome(existing, "cached", 0.0)

        start = time.perf_counter()
        with self.lock(key, what=f"{stage} {key[:6]}", notice=notice):
            self._remove_leftovers(target)
            artifact = None
            if not force:
                try:
                    artifact = self.get(stage, key)
                except DamagedArtifactError as error:
                    if notice:
                        notice(f"{error}; rebuilding it.")
                    self.remove(stage, key)
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
            artifact = self._materialize(artifact, output_path, notice, force=force)
        seconds = time.perf_counter() - start if status == "built" else 0.0
        return Outcome(artifact, status, seconds)

    def check_file_output(self, path: Path, *, option: str) -> None:
        """Refuse a file textpipe writes for the user (``predict -o``, ``report --plot``) inside
        the store: only textpipe's own artifacts go there.

        Raises:
            InputError: naming ``option``, the path and the store.
        """
        if _is_within(resolve_path(path), resolve_path(self.root)):
            raise InputError(
                f"{option} {path}: inside the store {self.root}, which holds only textpipe's "
                "artifacts; choose a path outside it."
            )

    def check_output(self, output: Path) -> Path:
        """An ``-o`` folder textpipe may write: refuses the store, the working directory and
        their parents, links, files, and folders that hold anything but a textpipe artifact.

        Raises:
            ArtifactError: with the path and what to do instead.
        """
        resolved = resolve_path(output)
        root = resolve_path(self.root)
        if _is_within(resolved, root) or root.is_relative_to(resolved):
            raise ArtifactError(
                f"-o {output}: that is the store {self.root} or a folder inside or above it; "
                "choose a folder outside the store."
            )
        cwd = resolve_path(Path.cwd())
        if cwd.is_relative_to(resolved):
            raise ArtifactError(
                f"-o {output}: that is the current directory or one of its parents; "
                "choose a new folder, e.g. -o build/NAME."
            )
        if output.is_symlink():
            raise ArtifactError(f"-o {output}: is a symbolic link; pass the folder it points to.")
        if output.exists() and not output.is_dir():
            raise ArtifactError(f"-o {output}: exists and is not a folder.")
        if output.is_dir():
            foreign = self._foreign_entries(output)
            if foreign:
                shown = ", ".join(repr(name) for name in foreign[:3])
                raise ArtifactError(
                    f"-o {output}: holds files that are not part of a textpipe artifact "
                    f"({shown}{', ...' if len(foreign) > 3 else ''}); textpipe replaces only "
                    "its own artifact folders. Choose another folder or empty this one."
                )
        return output

    @staticmethod
    def _foreign_entries(directory: Path) -> list[str]:
        """Entries of a folder that a textpipe artifact there would not account for: all of
        them unless its manifest is a sealed textpipe manifest."""
        entries = sorted(entry.name for entry in directory.iterdir())
        if not entries:
            return []
        manifest = read_manifest(directory)
        if manifest is None:
            return entries
        own = {MANIFEST_NAME, *(entry["name"] for entry in manifest["files"])}
        return [
            name
            for name in entries
            if name not in own
            or (directory / name).is_symlink()
            or not (directory / name).is_file()
        ]

    def _not_damaged(self, stage: str, key: str) -> bool:
        """Whether the store's copy of ``key`` is intact or absent (an -o copy may stand in)."""
        try:
            self.get(stage, key)
        except DamagedArtifactError:
            return False
        return True

    def _existing_output(self, output: Path, notice: Notice | None) -> Artifact | None:
        if not output.is_dir() or not (output / MANIFEST_NAME).exists():
            return None
        try:
            return self.inspect(output)
        except DamagedArtifactError as error:
            if notice:
                notice(f"{error}; replacing it.")
            return None

    def _remove_leftovers(self, target: Path) -> None:
        """Remove what interrupted builders of the store entry ``target`` left beside it.
        Called under the target's lock, so no live builder owns them."""
        parent = target.parent
        if not parent.is_dir():
            return
        for path in parent.glob(f"{target.name}.*"):
            if STORE_LEFTOVER.fullmatch(path.name) and self._is_entry(path):
                _remove_tree(path)

    @staticmethod
    def _remove_output_leftovers(output: Path) -> None:
        """Remove textpipe's own temporaries beside an -o folder (``.NAME.textpipe-*-<hex>``,
        holding files only) that an interrupted copy left. Called under the folder's lock."""
        pattern = re.compile(
            rf"\.{re.escape(output.name)}(?:{re.escape(OUTPUT_TEMPORARY)}|"
            rf"{re.escape(OUTPUT_RETIRED)})[0-9a-f]{{8}}"
        )
        if not output.parent.is_dir():
            return
        for path in output.parent.iterdir():
            if not pattern.fullmatch(path.name) or path.is_symlink() or not path.is_dir():
                continue
            if all(entry.is_file() and not entry.is_symlink() for entry in path.iterdir()):
                _remove_tree(path)

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
            for path in paths:
                path.chmod(STORED_FILE_MODE)
            manifest = _write_manifest(temporary, manifest)
            (temporary / MANIFEST_NAME).chmod(STORED_FILE_MODE)
            retired = target.with_name(f"{target.name}{RETIRED_MARKER}{uuid.uuid4().hex[:8]}")
            self._replace_directory(temporary, target, retired)
        except BaseException:
            _remove_tree(temporary)
            raise
        # Remember the files just hashed, so the first read does not hash them again.
        self._verified.save(
            target,
            {
                entry["name"]: [*_fingerprint(target / entry["name"]), entry["sha256"]]
                for entry in manifest["files"]
            },
        )
        return Artifact(path=target, manifest=manifest)

    def _replace_directory(
        self, source: Path, target: Path, retired: Path, notice: Notice | None = None
    ) -> None:
        """Move a complete directory into place, replacing ``target`` (already checked to be
        textpipe's own) if it exists. Should anything else have appeared in the replaced
        folder meanwhile, that folder is kept, not deleted."""
        if not (target.exists() or target.is_symlink()):
            os.replace(source, target)
            return
        os.replace(target, retired)
        os.replace(source, target)
        foreign = self._foreign_entries(retired)
        if foreign:
            if notice:
                notice(
                    f"kept {retired}: files textpipe did not write appeared in {target} while "
                    f"it was replaced ({', '.join(foreign[:3])})"
                )
            return
        _remove_tree(retired)

    def _materialize(
        self, artifact: Artifact, output: Path, notice: Notice | None, *, force: bool = False
    ) -> Artifact:
        """Copy a stored artifact to ``output`` atomically, replacing a textpipe artifact there."""
        resolved = resolve_path(output)
        lock_name = "output-" + hashlib.sha256(str(resolved).encode()).hexdigest()[:32]
        with self.lock(lock_name, what=f"-o {output}", notice=notice):
            self.check_output(output)  # again, now that no other textpipe writes there
            self._remove_output_leftovers(output)
            existing = None if force else self._existing_output(output, None)
            if existing is not None and existing.key == artifact.key:
                return existing
            output.parent.mkdir(parents=True, exist_ok=True)
            suffix = uuid.uuid4().hex[:8]
            temporary = output.with_name(f".{output.name}{OUTPUT_TEMPORARY}{suffix}")
            temporary.mkdir()
            try:
                remembered = {}
                for entry in artifact.manifest["files"]:
                    copy = temporary / entry["name"]
                    # Real copies: an edit of the copy must not reach the store.
                    shutil.copyfile(artifact.path / entry["name"], copy)
                    remembered[entry["name"]] = entry["sha256"]
                # written anew, so that make sees a fresh target when the key changed
                _write_manifest(temporary, artifact.manifest)
                retired = output.with_name(f".{output.name}{OUTPUT_RETIRED}{suffix}")
                self._replace_directory(temporary, output, retired, notice)
            except BaseException:
                _remove_tree(temporary)
                raise
        # The copies were made from files verified a moment ago: remember them as verified.
        self._verified.save(
            output,
            {name: [*_fingerprint(output / name), digest] for name, digest in remembered.items()},
        )
        return Artifact(path=output, manifest=artifact.manifest)


def open_artifact(
    path: str | Path, *, stage: str | tuple[str, ...] | None = None, store: Store | None = None
) -> Artifact:
    """Open and verify an artifact directory given by a user, checking that it comes from
    ``stage``.

    Raises:
        ArtifactError: the directory is missing, damaged, or another stage's.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise ArtifactError(f"{directory}: no such artifact directory.")
    if not (directory / MANIFEST_NAME).exists():
        raise ArtifactError(
            f"{directory}: not a textpipe artifact (no {MANIFEST_NAME}); "
            "it may be unfinished, so rebuild it."
        )
    try:
        artifact = (store or Store()).inspect(directory)
    except DamagedArtifactError as error:
        raise ArtifactError(f"{error}. Rebuild it with the command that made it.") from None
    expected = (stage,) if isinstance(stage, str) else stage
    if expected and artifact.stage not in expected:
        raise ArtifactError(
            f"{directory}: expected an artifact of stage {' or '.join(expected)!s}, "
            f"got one of stage {artifact.stage!r}."
        )
    return artifact
