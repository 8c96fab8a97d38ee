"""Fault injection for the artifact store: kills, races and corruptions through the real CLI.

Each fault runs the stage commands as separate processes, as make runs them, in a sandbox
folder that also holds files of the user's own; afterwards it checks that

- no complete-looking artifact is wrong: every manifest in the store and in the ``-o``
  folders verifies against its files (``Store.verify_all`` / ``Store.inspect``);
- a re-run gives byte-identical artifacts (the files a clean reference run wrote);
- nothing outside the store and the ``-o`` folders changed.

``tests/faults/test_faults.py`` runs a few rounds of each; ``bench/faults.py`` runs many and
prints the counts that BENCHMARKS.md records.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from textpipe.artifacts import MANIFEST_NAME, OUTPUT_TEMPORARY, STORE_LEFTOVER, Store

DATA_STAGES = ("download", "normalize", "vocab", "encode")
MODEL_STAGES = ("train", "evaluate")
ALL_STAGES = DATA_STAGES + MODEL_STAGES
# Files that legitimately differ between two identical runs: the zip's timestamps inside
# model.keras and the seconds in history.json. The model is checked through its evaluation.
UNREPRODUCIBLE = {"train": ("model.keras", "history.json")}
WORDS = [
    "good",
    "great",
    "superb",
    "bad",
    "awful",
    "dull",
    "film",
    "plot",
    "acting",
    "story",
    "long",
    "short",
    "fun",
    "slow",
]


def write_corpus(path: Path, rows: int, seed: int = 0) -> Path:
    """A CSV of ``rows`` synthetic reviews in three classes, big enough to take a moment."""
    rng = random.Random(seed)
    lines = ["text,label"]
    for index in range(rows):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 80)))
        lines.append(f'"{words}, <br />really",{["neg", "pos", "mid"][index % 3]}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def stage_command(stage: str, corpus: Path, outputs: Path) -> list[str]:
    """The CLI arguments that build ``stage`` into ``outputs/<stage>``."""
    return {
        "download": ["download", str(corpus), "--validation-size", "0.1"],
        "normalize": ["normalize", str(outputs / "download"), "--strip-html"],
        "vocab": ["vocab", str(outputs / "normalize"), "--size", "50"],
        "encode": [
            "encode",
            str(outputs / "normalize"),
            "--vocab",
            str(outputs / "vocab"),
            "--length",
            "64",
        ],
        "train": [
            "train",
            str(outputs / "encode"),
            "--model",
            "bag",
            "--epochs",
            "2",
            "--embedding-dim",
            "8",
            "--batch-size",
            "64",
        ],
        "evaluate": [
            "evaluate",
            str(outputs / "train"),
            str(outputs / "encode"),
            "--split",
            "validation",
        ],
    }[stage] + ["-o", str(outputs / stage)]


def textpipe_process(args: list[str], store: Path, **options) -> subprocess.Popen:
    environment = {**os.environ, "TEXTPIPE_HOME": str(store), "HF_HUB_OFFLINE": "1"}
    environment.pop("TEXTPIPE_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "textpipe.cli.main", *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def run_textpipe(args: list[str], store: Path, timeout: float = 300) -> tuple[int, str]:
    process = textpipe_process(args, store)
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout + stderr


def files_under(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under a folder."""
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def data_files(artifact_dir: Path, stage: str | None = None) -> dict[str, str]:
    """sha256 of an artifact's reproducible files (not the manifest: it records a time)."""
    skipped = (MANIFEST_NAME, *UNREPRODUCIBLE.get(stage or artifact_dir.name, ()))
    return {
        name: digest for name, digest in files_under(artifact_dir).items() if name not in skipped
    }


@dataclass
class Sandbox:
    """A folder with the user's own files, a corpus, a store and the -o folders."""

    root: Path
    rows: int = 3000
    reference: dict[str, dict[str, str]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        (self.root / "mine").mkdir(parents=True, exist_ok=True)
        (self.root / "mine" / "thesis.tex").write_text("years of work")
        (self.root / "mine" / "results.csv").write_text("a,b\n1,2\n")
        self.corpus = write_corpus(self.root / "corpus.csv", self.rows)
        self.store = self.root / "store"
        self.outputs = self.root / "build"

    def user_files(self) -> dict[str, str]:
        """Every file outside the store and the -o folders."""
        return {
            name: digest
            for name, digest in files_under(self.root).items()
            if not name.startswith(("store/", "build/", "reference/"))
        }

    def command(self, stage: str) -> list[str]:
        return stage_command(stage, self.corpus, self.outputs)

    def build_reference(self, stages: tuple[str, ...] = DATA_STAGES) -> None:
        """A clean run of ``stages`` in a store of its own, timed per process."""
        reference = self.root / "reference"
        for stage in (stage for stage in stages if stage not in self.reference):
            start = time.perf_counter()
            code, output = run_textpipe(
                stage_command(stage, self.corpus, reference / "out"), reference / "store"
            )
            assert code == 0, output
            self.seconds[stage] = time.perf_counter() - start
            self.reference[stage] = data_files(reference / "out" / stage)

    def leftovers(self) -> list[Path]:
        """Folders of interrupted builds and replacements, in the store and beside -o."""
        return [
            path
            for folder in (*self.store.glob("*"), self.outputs)
            if folder.is_dir()
            for path in folder.iterdir()
            if STORE_LEFTOVER.fullmatch(path.name) or OUTPUT_TEMPORARY in path.name
        ]

    def build_until(self, stage: str) -> None:
        """Build every stage before ``stage`` (cached when already there)."""
        for earlier in ALL_STAGES[: ALL_STAGES.index(stage)]:
            code, output = run_textpipe(self.command(earlier), self.store)
            assert code == 0, output

    def problems(self) -> list[str]:
        """What is wrong now: damaged complete-looking artifacts, wrong or damaged -o folders."""
        found = []
        store = Store(self.store)
        report = store.verify_all()
        found += [f"store: {error}" for error in report.damaged]
        for stage in ALL_STAGES:
            output = self.outputs / stage
            if not (output / MANIFEST_NAME).exists():
                continue
            try:
                store.inspect(output, deep=True)
            except Exception as error:
                found.append(f"-o {stage}: {error}")
                continue
            if data_files(output) != self.reference.get(stage, data_files(output)):
                found.append(f"-o {stage}: differs from the reference run")
        for stage in self.reference:
            for item in store.artifacts(stage):
                if data_files(item.path, stage) != self.reference[stage]:
                    found.append(f"store {stage}: differs from the reference run")
        return found


@dataclass
class Tally:
    """How many faults of each kind were tried, and what went wrong."""

    tried: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def count(self, kind: str) -> None:
        self.tried[kind] = self.tried.get(kind, 0) + 1

    def check(self, kind: str, problems: list[str]) -> None:
        self.count(kind)
        self.failures += [f"{kind}: {problem}" for problem in problems]


def kill_rounds(
    sandbox: Sandbox,
    rounds: int,
    seed: int,
    tally: Tally,
    stages: tuple[str, ...] = DATA_STAGES,
) -> None:
    """SIGKILL a stage command at a random moment, check, then re-run it to completion."""
    rng = random.Random(seed)
    before = sandbox.user_files()
    for _ in range(rounds):
        stage = rng.choice(stages)
        sandbox.build_until(stage)
        args = sandbox.command(stage) + (["--force"] if rng.random() < 0.5 else [])
        process = textpipe_process(args, sandbox.store)
        time.sleep(rng.uniform(0.0, sandbox.seconds[stage] * 1.2))
        process.send_signal(signal.SIGKILL)
        process.communicate()
        if sandbox.leftovers():
            tally.count("killed mid-write (a leftover was found)")
        problems = sandbox.problems()
        code, output = run_textpipe(sandbox.command(stage), sandbox.store)
        if code != 0:
            problems.append(f"re-run of {stage} failed: {output.strip()}")
        elif data_files(sandbox.outputs / stage) != sandbox.reference[stage]:
            problems.append(f"re-run of {stage} is not byte-identical to the reference")
        if sandbox.user_files() != before:
            problems.append("files outside the store and -o folders changed")
        tally.check(f"SIGKILL {stage}", problems)


def race_rounds(sandbox: Sandbox, rounds: int, builders: int, seed: int, tally: Tally) -> None:
    """Several processes build the same key (same -o folder) at once, forced half the time."""
    rng = random.Random(seed)
    for _ in range(rounds):
        stage = rng.choice(DATA_STAGES)
        sandbox.build_until(stage)
        extra = ["--force"] if rng.random() < 0.5 else []
        processes = [
            textpipe_process(sandbox.command(stage) + extra, sandbox.store) for _ in range(builders)
        ]
        results = [(process.wait(timeout=300), process.communicate()) for process in processes]
        problems = [
            f"a builder failed: {(out + err).strip()}" for code, (out, err) in results if code != 0
        ]
        problems += sandbox.problems()
        tally.check(f"{builders} concurrent {stage}", problems)


def corrupted_files(store: Path) -> Iterator[Path]:
    for stage in DATA_STAGES:
        for directory in sorted((store / stage).glob("*")):
            if directory.is_dir():
                yield from sorted(path for path in directory.iterdir() if path.is_file())


def corruption_rounds(sandbox: Sandbox, limit: int | None, seed: int, tally: Tally) -> None:
    """Flip one byte of, or truncate, a stored file; the read-only ``verify`` must report it
    and keep it; the command that builds it must rebuild it byte-identical."""
    rng = random.Random(seed)
    sandbox.build_until("encode")
    run_textpipe(sandbox.command("encode"), sandbox.store)
    targets = list(corrupted_files(sandbox.store))
    rng.shuffle(targets)
    for path in targets[:limit]:
        stage = path.parent.parent.name
        kind = rng.choice(["flip", "truncate"])
        data = bytearray(path.read_bytes())
        path.chmod(0o644)
        if kind == "flip" and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        else:
            data = data[: rng.randrange(max(1, len(data)))]
        path.write_bytes(bytes(data))
        problems = []
        code, output = run_textpipe(["verify"], sandbox.store)
        if code != 1 or "Damaged" not in output:
            problems.append(f"verify did not report the {kind} of {path.name}")
        if not path.exists():
            problems.append("verify deleted a damaged file")
        code, output = run_textpipe(sandbox.command(stage), sandbox.store)
        if code != 0 or "damaged" not in output:
            problems.append(f"{stage} did not report and rebuild: {output.strip()}")
        problems += sandbox.problems()
        tally.check(f"{kind} {path.name}", problems)
