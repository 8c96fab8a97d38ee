"""Fault injection: kills, races and corruptions of the data stages, through the real CLI.

A few rounds of each run by default; ``-m faults`` runs the long version (more rounds, set with
``TEXTPIPE_FAULT_ROUNDS``). ``bench/faults.py`` prints the figures BENCHMARKS.md records.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults.harness import (
    ALL_STAGES,
    MODEL_STAGES,
    Sandbox,
    Tally,
    corruption_rounds,
    kill_rounds,
    race_rounds,
    run_textpipe,
)

ROUNDS = int(os.environ.get("TEXTPIPE_FAULT_ROUNDS", "20"))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    sandbox = Sandbox(tmp_path_factory.mktemp("faults"), rows=1500)
    sandbox.build_reference()
    return sandbox


def test_killed_stages_leave_nothing_wrong(sandbox: Sandbox) -> None:
    tally = Tally()
    kill_rounds(sandbox, rounds=4, seed=1, tally=tally)
    assert tally.failures == []
    assert sum(count for kind, count in tally.tried.items() if kind.startswith("SIGKILL")) == 4


def test_concurrent_builders_of_one_key(sandbox: Sandbox) -> None:
    tally = Tally()
    race_rounds(sandbox, rounds=1, builders=3, seed=2, tally=tally)
    assert tally.failures == []


def test_corrupted_files_are_reported_and_rebuilt(sandbox: Sandbox) -> None:
    tally = Tally()
    corruption_rounds(sandbox, limit=2, seed=3, tally=tally)
    assert tally.failures == [] and sum(tally.tried.values()) == 2


def test_concurrent_runs_of_one_preset(sandbox: Sandbox, tmp_path: Path) -> None:
    from tests.faults.harness import textpipe_process

    preset = tmp_path / "race.toml"
    preset.write_text(
        f'[download]\nsource = "{sandbox.corpus}"\n[vocab]\nsize = 50\n[encode]\nlength = 64\n'
    )
    store = tmp_path / "store"
    assert run_textpipe(["run", str(preset), "--until", "encode"], store)[0] == 0
    processes = [
        textpipe_process(["run", str(preset), "--until", "encode"], store) for _ in range(6)
    ]
    results = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0] * 6, results
    assert all("Traceback" not in out + err for out, err in results)
    assert [path.name for path in (store / "runs").iterdir()] == ["race.json"]


@pytest.mark.faults
@pytest.mark.slow
def test_many_faults(sandbox: Sandbox) -> None:
    tally = Tally()
    sandbox.build_reference(ALL_STAGES)
    kill_rounds(sandbox, rounds=ROUNDS, seed=11, tally=tally)
    kill_rounds(sandbox, rounds=max(2, ROUNDS // 4), seed=14, tally=tally, stages=MODEL_STAGES)
    race_rounds(sandbox, rounds=max(1, ROUNDS // 4), builders=4, seed=12, tally=tally)
    corruption_rounds(sandbox, limit=None, seed=13, tally=tally)
    assert tally.failures == []
