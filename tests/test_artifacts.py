"""The cache, tested by its properties: keys, reuse, atomicity, corruption, explicit outputs."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from textpipe.artifacts import MANIFEST_NAME, Identity, Store, compute_key, open_artifact
from textpipe.errors import ArtifactError, ConfigError


def key(params: dict, inputs: dict | None = None, version: int = 1) -> str:
    return compute_key(stage="vocab", version=version, params=params, inputs=inputs or {})


def test_equal_parameters_give_equal_keys_regardless_of_order() -> None:
    assert key({"size": 10, "min_frequency": 1}) == key({"min_frequency": 1, "size": 10})


def test_changed_parameter_input_or_version_gives_new_key() -> None:
    base = key({"size": 10}, {"normalized": "abc"})
    assert key({"size": 11}, {"normalized": "abc"}) != base
    assert key({"size": 10}, {"normalized": "abd"}) != base
    assert key({"size": 10}, {"normalized": "abc"}, version=2) != base


@pytest.mark.parametrize("bad", [{"path": Path("/x")}, {"value": float("nan")}, {"s": {1, 2}}])
def test_non_json_parameters_are_rejected(bad: dict) -> None:
    with pytest.raises(ConfigError):
        key(bad)


def make_builder(calls: list[int], content: str = "hello"):
    def build(directory: Path) -> dict:
        calls.append(1)
        (directory / "data.txt").write_text(content)
        return {"lines": 1}

    return build


def produce(store: Store, calls: list[int], params: dict | None = None, **options):
    return store.produce(
        Identity("vocab", 1, params or {"size": 10}, {"normalized": "abc"}),
        build=make_builder(calls),
        **options,
    )


def test_second_produce_is_cached_and_does_not_build(tmp_path: Path) -> None:
    store, calls = Store(tmp_path / "root"), []
    first = produce(store, calls)
    second = produce(store, calls)
    assert first.status == "built" and second.status == "cached"
    assert calls == [1]
    assert second.artifact.path == first.artifact.path
    manifest = json.loads((first.artifact.path / MANIFEST_NAME).read_text())
    assert manifest["stage"] == "vocab" and manifest["key"] == first.artifact.key
    assert manifest["files"][0]["name"] == "data.txt" and manifest["files"][0]["size"] == 5
    assert len(manifest["files"][0]["sha256"]) == 64
    assert {"params", "inputs", "textpipe_version", "created", "stats"} <= manifest.keys()


def test_force_rebuilds(tmp_path: Path) -> None:
    store, calls = Store(tmp_path / "root"), []
    produce(store, calls)
    assert produce(store, calls, force=True).status == "built"
    assert calls == [1, 1]


def test_failure_mid_build_leaves_nothing_behind(tmp_path: Path) -> None:
    store = Store(tmp_path / "root")

    def failing(directory: Path) -> dict:
        (directory / "half.bin").write_bytes(b"x" * 100)
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        store.produce(Identity("vocab", 1, {}, {}), build=failing)
    leftovers = list((tmp_path / "root" / "vocab").iterdir())
    assert leftovers == []


def test_interrupt_mid_build_leaves_nothing_behind(tmp_path: Path) -> None:
    store = Store(tmp_path / "root")

    def interrupted(directory: Path) -> dict:
        (directory / "half.bin").write_bytes(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.produce(Identity("vocab", 1, {}, {}), build=interrupted)
    assert list((tmp_path / "root" / "vocab").iterdir()) == []


@pytest.mark.parametrize("damage", ["garbage", "missing", "truncated-file"])
def test_corrupt_artifact_is_reported_and_rebuilt(tmp_path: Path, damage: str) -> None:
    store, calls = Store(tmp_path / "root"), []
    path = produce(store, calls).artifact.path
    if damage == "garbage":
        (path / MANIFEST_NAME).write_text("{not json")
    elif damage == "missing":
        (path / MANIFEST_NAME).unlink()
    else:
        (path / "data.txt").write_text("he")
    notices: list[str] = []
    outcome = produce(store, calls, notice=notices.append)
    assert outcome.status == "built" and calls == [1, 1]
    assert notices and "damaged artifact" in notices[0]
    assert open_artifact(path).key == outcome.artifact.key


OLD_TIME_NS = 1_000_000_000 * 10**9  # September 2001


def test_explicit_output_with_same_key_is_left_untouched(tmp_path: Path) -> None:
    store, calls = Store(tmp_path / "root"), []
    output = tmp_path / "out"
    produce(store, calls, output=output)
    # An old mtime on every file (instead of sleeping past the clock's resolution): rewriting or
    # replacing a file would give it the current time, or a new inode.
    for path in output.iterdir():
        os.utime(path, ns=(OLD_TIME_NS, OLD_TIME_NS))
    old = {path.name: path.stat().st_mtime_ns for path in output.iterdir()}
    inodes = {path.name: path.stat().st_ino for path in output.iterdir()}
    again = produce(store, calls, output=output)
    assert again.status == "cached" and calls == [1]
    assert {path.name: path.stat().st_mtime_ns for path in output.iterdir()} == old
    assert {path.name: path.stat().st_ino for path in output.iterdir()} == inodes


def test_explicit_output_with_other_key_is_replaced_from_the_cache(tmp_path: Path) -> None:
    store, calls = Store(tmp_path / "root"), []
    output = tmp_path / "out"
    first = produce(store, calls, output=output)
    produce(store, calls, params={"size": 20}, output=output)
    assert open_artifact(output).params == {"size": 20}
    # back to the first parameters: satisfied from the store, nothing rebuilt
    back = produce(store, calls, output=output)
    assert calls == [1, 1]
    assert back.status == "cached"
    assert open_artifact(output).key == first.artifact.key
    assert not [
        path for path in tmp_path.iterdir() if ".incomplete-" in path.name or ".old-" in path.name
    ]


def test_explicit_output_that_holds_an_input_is_refused(tmp_path: Path) -> None:
    store, calls = Store(tmp_path / "root"), []
    folder = tmp_path / "out"
    upstream = produce(store, calls, output=folder).artifact  # a vocab artifact in -o out
    files = {path.name: path.read_bytes() for path in folder.iterdir()}
    downstream = Identity("encode", 1, {"length": 8}, {"vocab": upstream.key})
    with pytest.raises(ArtifactError, match="holds this encode's input"):
        store.produce(downstream, build=make_builder(calls), output=folder)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == files
    assert calls == [1]  # refused before building


def test_open_artifact_checks_the_stage(tmp_path: Path) -> None:
    store = Store(tmp_path / "root")
    path = produce(store, []).artifact.path
    with pytest.raises(ArtifactError, match="expected an artifact of stage encode"):
        open_artifact(path, stage="encode")
    with pytest.raises(ArtifactError, match="no such artifact"):
        open_artifact(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="not a textpipe artifact"):
        open_artifact(tmp_path / "empty")


def _concurrent_build(root: str, marker: str, waiting) -> str:
    store = Store(root)

    def build(directory: Path) -> dict:
        with open(marker, "a") as stream:
            stream.write(f"{os.getpid()}\n")
        # Hold the lock until the other process waits for it, so that the two builders overlap.
        waiting.wait(timeout=120)
        (directory / "data.txt").write_text("payload")
        return {}

    def notice(message: str) -> None:
        if "waiting for another textpipe process" in message:
            waiting.set()

    return store.produce(Identity("vocab", 1, {"n": 1}, {}), build=build, notice=notice).status


def test_two_processes_building_one_key_build_it_once(tmp_path: Path) -> None:
    marker = tmp_path / "builds.txt"
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager, context.Pool(2) as pool:
        waiting = manager.Event()
        statuses = pool.starmap(
            _concurrent_build, [(str(tmp_path / "root"), str(marker), waiting)] * 2
        )
        assert waiting.is_set()  # the second builder did wait for the first
    assert sorted(statuses) == ["built", "cached"]
    assert len(marker.read_text().split()) == 1
    (artifact_dir,) = (tmp_path / "root" / "vocab").iterdir()
    assert (artifact_dir / "data.txt").read_text() == "payload"


def test_the_store_lock_excludes_another_holder_until_released(tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl", reason="the POSIX lock (filelock serves Windows)")
    store = Store(tmp_path / "root")
    with store.lock("k", what="k"):
        # another open file description of the same lock file, as another process holds
        path = store.root / ".locks" / "k.lock"
        with open(path, "a") as stream, pytest.raises(BlockingIOError):
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(path, "a") as stream:
        fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released


def test_check_replaceable_names_the_option(tmp_path: Path) -> None:
    from textpipe.artifacts import check_replaceable
    from textpipe.errors import InputError

    check_replaceable(tmp_path / "new.csv", option="-o", overwrite=False)
    mine = tmp_path / "mine.png"
    mine.write_text("the user's")
    with pytest.raises(InputError) as raised:
        check_replaceable(mine, option="--plot", overwrite=False)
    assert str(raised.value) == f"--plot {mine}: exists; pass --overwrite to replace it"
    check_replaceable(mine, option="--plot", overwrite=True)
    with pytest.raises(InputError) as raised:
        check_replaceable(tmp_path, option="-o", overwrite=True)
    assert str(raised.value) == f"-o {tmp_path}: exists and is not a file."
