"""``textpipe verify``: damage and leftovers found, ``--clean`` removes only store entries."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import invoke
from tests.test_safety import produce
from textpipe.artifacts import Store
from textpipe.cli.main import cli


def test_verify_command_finds_and_cleans_damage(runner, tmp_path: Path) -> None:
    store = Store()
    good = produce(store).artifact
    bad = produce(store, size=11).artifact
    (bad.path / "data.txt").chmod(0o644)
    (bad.path / "data.txt").write_text("payload 99")
    leftover = store.root / "vocab" / f"{good.path.name}.incomplete-0123abcd"
    leftover.mkdir()
    result = runner.invoke(cli, ["verify"])
    assert result.exit_code == 1
    assert "1 damaged" in result.output and "1 interrupted leftovers" in result.output
    assert bad.path.exists()  # verify alone never deletes
    result = runner.invoke(cli, ["verify", "--clean"])
    assert result.exit_code == 0
    assert not bad.path.exists() and not leftover.exists() and good.path.exists()
    assert runner.invoke(cli, ["verify"]).exit_code == 0


def test_store_cleaning_touches_only_key_named_entries(runner, tmp_path: Path) -> None:
    # the default store ./data is also where many keep their data: data/train/pos/1.txt
    store = Store()
    produce(store)
    users = store.root / "train" / "pos"
    users.mkdir(parents=True)
    (users / "1.txt").write_text("great film")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "photos.old-20240101").mkdir(parents=True)
    (store.root / "normalize").symlink_to(elsewhere)
    result = runner.invoke(cli, ["verify", "--clean"])
    assert "Not a textpipe artifact (left alone)" in result.output
    assert (users / "1.txt").read_text() == "great film"
    assert (elsewhere / "photos.old-20240101").is_dir()


def test_help_lists_verify(runner) -> None:
    assert "verify" in invoke(runner, "--help").output
