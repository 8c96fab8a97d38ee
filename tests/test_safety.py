"""textpipe never loses a user's data and never serves what the cache cannot vouch for.

One test (at least) per case found when textpipe was tried with clumsy and hostile inputs:
``-o`` folders, keys and run names read from files, code named by a manifest, changed bytes,
mixed configurations, concurrent runs, tracebacks, labels, leftovers, late validation.
The cases of ``textpipe verify`` (damage found, ``--clean`` touching only store entries) are in
``tests/cli/test_verify.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import encode_chain, tiny_pipeline_toml, write_csv
from textpipe.artifacts import (
    CHECKSUM_FIELD,
    MANIFEST_NAME,
    Identity,
    Store,
    manifest_checksum,
)
from textpipe.cli.main import cli
from textpipe.errors import ArtifactError, ConfigError, InputError


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: object, input: str | None = None):
    return runner.invoke(cli, [str(arg) for arg in args], input=input, catch_exceptions=False)


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under a folder."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def produce(store: Store, output: Path | None = None, size: int = 10, **options):
    def build(directory: Path) -> dict:
        (directory / "data.txt").write_text(f"payload {size}")
        return {}

    return store.produce(
        Identity("vocab", 1, {"size": size}, {"normalized": "a" * 64}),
        build=build,
        output=output,
        **options,
    )


def reseal(path: Path, change) -> None:
    """Edit a manifest as an attacker would: change it, then recompute its checksum."""
    manifest_path = path / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())
    change(manifest)
    manifest[CHECKSUM_FIELD] = manifest_checksum(manifest)
    manifest_path.chmod(0o644)
    manifest_path.write_text(json.dumps(manifest))


# -- 1. -o never deletes what textpipe did not create -------------------------------------------


def test_output_refuses_a_folder_of_the_users_own_files(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("years of work")
    with pytest.raises(ArtifactError, match="not part of a textpipe artifact"):
        produce(store, output=mine)
    assert (mine / "chapter1.tex").read_text() == "years of work"
    assert not (tmp_path / "store" / "vocab").exists()  # refused before any work


def test_output_refuses_an_artifact_folder_with_extra_files(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    output = tmp_path / "out"
    produce(store, output=output)
    (output / "notes.txt").write_text("mine")
    with pytest.raises(ArtifactError, match=r"notes\.txt"):
        produce(store, output=output, size=11)
    assert (output / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("where", ["dot", "cwd", "parent", "store", "inside-store", "above-store"])
def test_output_refuses_the_working_directory_and_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "keep.txt").write_text("keep")
    monkeypatch.chdir(work / "sub")
    store = Store(work / "sub" / "data")
    produce(store)
    output = {
        "dot": Path("."),
        "cwd": Path.cwd(),
        "parent": Path(".."),
        "store": store.root,
        "inside-store": store.root / "vocab",
        "above-store": work,
    }[where]
    before = snapshot(work)
    with pytest.raises(ArtifactError, match="-o"):
        produce(store, output=output, size=12)
    assert snapshot(work) == before


def test_output_refuses_links_and_files(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArtifactError, match="symbolic link"):
        produce(store, output=tmp_path / "link")
    with pytest.raises(ArtifactError, match="not a folder"):
        produce(store, output=tmp_path / "file")
    assert (tmp_path / "file").read_text() == "x"


def test_output_takes_an_empty_folder_and_replaces_its_own_artifact(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    output = tmp_path / "out"
    output.mkdir()
    produce(store, output=output)
    produce(store, output=output, size=11)
    assert (output / "data.txt").read_text() == "payload 11"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "store"]  # no lock files


def test_cli_output_refusal_is_one_line(runner, tmp_path: Path, reviews_csv: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "a.txt").write_text("a")
    result = runner.invoke(cli, ["download", str(reviews_csv), "-o", str(mine)])
    assert result.exit_code != 0
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert str(mine) in result.output
    result = runner.invoke(cli, ["download", str(reviews_csv), "-o", "."])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "current directory" in result.output


# -- 2. keys, stages and run names from files are never paths ---------------------------------


def test_store_paths_are_checked(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    for key in ("../../../somewhere", "a" * 63, "A" * 64, "/" + "a" * 63):
        with pytest.raises(ArtifactError, match="not a textpipe key"):
            store.get("vocab", key)
    with pytest.raises(ArtifactError, match="unknown stage"):
        store.get("../x", "a" * 64)
    for name in ("../../x", "a/b", "..", ".hidden", ""):
        with pytest.raises(InputError, match="Invalid run name"):
            store.run_record_path(name)


def _write_record(store: Store, name: str, stages: dict) -> None:
    runs = store.root / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    (runs / f"{name}.json").write_text(json.dumps({"name": name, "stages": stages}))


def test_hostile_run_record_deletes_nothing(runner, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("precious")
    store = Store()
    hostile = {"train": {"key": "../../../victim"}, "evaluate": {"key": "../../victim"}}
    _write_record(store, "evil", hostile)
    _write_record(store, "evil2", {"../../victim": {"key": "a" * 64}})
    for args in (("predict", "evil", "text"), ("report",), ("report", "evil"), ("show", "evil")):
        result = runner.invoke(cli, list(args))
        assert "Traceback" not in result.output
    result = runner.invoke(cli, ["predict", "../../x", "text"])
    assert result.exit_code != 0 and "Invalid run name" in result.output
    assert (victim / "precious.txt").read_text() == "precious"


def test_hostile_input_key_in_a_manifest_deletes_nothing(runner, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("precious")
    store = Store()

    def build(directory: Path) -> dict:
        (directory / "metrics.json").write_text("{}")
        return {"accuracy": 0.5, "split": "test"}

    evaluation = store.produce(
        Identity("evaluate", 1, {}, {"model": "b" * 64}), build=build
    ).artifact
    reseal(evaluation.path, lambda manifest: manifest["inputs"].update(model="../../../victim"))
    result = runner.invoke(cli, ["report"])
    assert "Traceback" not in result.output
    assert (victim / "precious.txt").read_text() == "precious"


# -- 3. no code runs because a manifest names it ----------------------------------------------

HOSTILE_BUILDER = """
import pathlib
pathlib.Path({marker!r}).write_text("code ran")

import keras

@keras.saving.register_keras_serializable(package="hostile")
class Doubling(keras.layers.Layer):
    def call(self, inputs):
        return inputs * 2

def build(*, vocab_size, length, num_classes, **kwargs):
    inputs = keras.Input((length,), dtype="int32")
    x = keras.layers.Embedding(vocab_size, 4)(inputs)
    x = Doubling()(keras.layers.GlobalAveragePooling1D()(x))
    return keras.Model(inputs, keras.layers.Dense(1)(x))
"""


def test_loading_a_model_never_runs_the_code_its_manifest_names(
    runner, tmp_path: Path, encoded_artifact
) -> None:
    from textpipe.config import TrainParams
    from textpipe.stages.train import train

    marker = tmp_path / "ran.txt"
    builder = tmp_path / "hostile.py"
    builder.write_text(HOSTILE_BUILDER.format(marker=str(marker)))
    trained = train(
        encoded=encoded_artifact,
        params=TrainParams(model=f"{builder}:build", epochs=1),
        store=Store(),
    ).artifact
    marker.unlink()
    # fresh processes: the builder's module is not loaded yet
    script = (
        "import sys\n"
        "from textpipe.artifacts import open_artifact\n"
        "from textpipe.stages.train import load_trained_model\n"
        "from textpipe.errors import ArtifactError\n"
        f"trained = open_artifact({str(trained.path)!r})\n"
        "code = sys.argv[1] or None\n"
        "try:\n    load_trained_model(trained, model_code=code)\n"
        "except ArtifactError as error:\n    print(error)\n    sys.exit(3)\n"
    )

    def load(model_code: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", script, model_code], capture_output=True, text=True, timeout=300
        )

    refused = load("")
    assert refused.returncode == 3, refused.stderr
    assert "--model-code" in refused.stdout and "--trust-code" in refused.stdout
    assert not marker.exists()
    # named by the user: it loads, running the code the user named
    assert load(f"{builder}:build").returncode == 0
    assert marker.exists()


# -- 4. what is served is what the manifest's checksums say ------------------------------------


def test_flipped_byte_in_stored_labels_is_detected_and_rebuilt(sentiment_csv: Path) -> None:
    from textpipe.config import EncodeParams
    from textpipe.stages.encode import encode

    store = Store()
    normalized, vocab, outcome = encode_chain(sentiment_csv, store)
    labels = outcome.artifact.path / "train.labels.npy"
    original = labels.read_bytes()
    labels.chmod(0o644)
    damaged = bytearray(original)
    damaged[-3] ^= 0x01  # same size: one label becomes 65,536 or so
    labels.write_bytes(bytes(damaged))
    notices: list[str] = []
    again = encode(
        normalized=normalized,
        vocab=vocab,
        params=EncodeParams(length=12),
        store=store,
        progress=_Notes(notices),
    )
    assert again.status == "built"
    assert any("does not match its sha256" in note for note in notices)
    assert labels.read_bytes() == original


class _Notes:
    def __init__(self, notes: list[str]) -> None:
        self.notes = notes

    def task(self, description, total=None):
        import contextlib

        return contextlib.nullcontext(lambda amount=1, status=None: None)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def log(self, message: str) -> None:
        pass


def test_same_size_edit_with_mtime_restored_is_detected(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    artifact = produce(store).artifact
    path = artifact.path / "data.txt"
    info = path.stat()
    path.chmod(0o644)
    path.write_text("PAYLOAD 10")  # same size
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))  # mtime put back
    with pytest.raises(ArtifactError, match="does not match its sha256"):
        store.find("vocab", artifact.key)


def test_stored_files_are_read_only_and_outputs_are_copies(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    output = tmp_path / "out"
    outcome = produce(store, output=output)
    stored = store.path_for("vocab", outcome.artifact.key)
    assert all(not path.stat().st_mode & 0o222 for path in stored.iterdir())
    (output / "data.txt").write_text("edited through -o")
    assert (stored / "data.txt").read_text() == "payload 10"
    assert store.find("vocab", outcome.artifact.key) is not None
    # the edited -o copy is damaged: the next run replaces it from the store
    notices: list[str] = []
    again = produce(store, output=output, notice=notices.append)
    assert (output / "data.txt").read_text() == "payload 10"
    assert again.status == "cached" and any("replacing it" in note for note in notices)


def test_cached_lookups_do_not_rehash_unchanged_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import textpipe.artifacts as artifacts

    store = Store(tmp_path / "store")
    artifact = produce(store).artifact
    calls: list[Path] = []
    original = artifacts.file_sha256
    monkeypatch.setattr(artifacts, "file_sha256", lambda path: calls.append(path) or original(path))
    assert store.find("vocab", artifact.key) is not None
    assert calls == []
    store.inspect(artifact.path, deep=True)
    assert len(calls) == 1


def test_read_only_commands_report_damage_and_delete_nothing(
    runner, trained_tiny_run: Path
) -> None:
    store = Store()
    (vocab_dir,) = (store.root / "vocab").iterdir()
    (vocab_dir / "tokenizer.json").chmod(0o644)
    with (vocab_dir / "tokenizer.json").open("r+b") as stream:
        stream.seek(10)
        stream.write(b"#")
    before = snapshot(store.root / "vocab")
    for args in (("predict", "tiny", "great film"), ("show", "tiny"), ("report",)):
        result = runner.invoke(cli, list(args))
        assert "Traceback" not in result.output
    result = runner.invoke(cli, ["predict", "tiny", "great film"])
    assert result.exit_code != 0 and "damaged" in result.output and "Rebuild" in result.output
    dry = runner.invoke(cli, ["run", str(trained_tiny_run), "--dry-run"])
    assert "damaged" in dry.output
    assert snapshot(store.root / "vocab") == before
    # the command that builds it rebuilds it
    rebuilt = runner.invoke(cli, ["run", str(trained_tiny_run)])
    assert rebuilt.exit_code == 0 and "vocab     built" in rebuilt.output


# -- 5. what a command combines belongs together ----------------------------------------------


@pytest.fixture
def trained_tiny_run(trained_run: Path) -> Path:
    """The tiny preset, run: this test's own copy of the session's trained store."""
    return trained_run


def test_predict_refuses_a_model_and_a_vocabulary_that_do_not_belong_together(
    runner, trained_tiny_run: Path
) -> None:
    assert invoke(runner, "predict", "tiny", "great film").exit_code == 0
    result = invoke(runner, "run", trained_tiny_run, "--set", "vocab.size=20", "--until", "encode")
    assert result.exit_code == 0
    result = runner.invoke(cli, ["predict", "tiny", "great film"])
    assert result.exit_code != 0
    assert "do not belong together" in result.output and "textpipe run tiny" in result.output


def test_evaluate_refuses_other_padding(runner, tmp_path: Path, sentiment_csv: Path) -> None:
    from textpipe.config import EncodeParams, EvaluateParams, TrainParams
    from textpipe.stages.encode import encode
    from textpipe.stages.evaluate import evaluate
    from textpipe.stages.train import train

    store = Store()
    normalized, vocab, outcome = encode_chain(sentiment_csv, store)
    trained = train(
        encoded=outcome.artifact, params=TrainParams(model="bag", epochs=1), store=store
    ).artifact
    left = encode(
        normalized=normalized,
        vocab=vocab,
        params=EncodeParams(length=12, padding="pre"),
        store=store,
    ).artifact
    with pytest.raises(InputError, match="post-padded"):
        evaluate(model=trained, encoded=left, params=EvaluateParams(split="train"), store=store)
    # the same texts with the labels renamed (their ids flip): refused, not silently wrong
    renamed = sentiment_csv.with_name("renamed.csv")
    renamed.write_text(sentiment_csv.read_text().replace(",neg", ",zneg").replace(",pos", ",apos"))
    from textpipe.config import DownloadParams, NormalizeParams
    from textpipe.stages.download import download
    from textpipe.stages.normalize import normalize

    other = normalize(
        dataset=download(params=DownloadParams(source=str(renamed)), store=store).artifact,
        params=NormalizeParams(strip_html=True),
        store=store,
    ).artifact
    relabelled = encode(
        normalized=other, vocab=vocab, params=EncodeParams(length=12), store=store
    ).artifact
    with pytest.raises(InputError, match="predicts the classes"):
        evaluate(
            model=trained, encoded=relabelled, params=EvaluateParams(split="train"), store=store
        )


# -- 6. concurrent runs ----------------------------------------------------------------------


def test_concurrent_run_records_do_not_collide(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from textpipe.artifacts import Store\n"
        "from textpipe.runs import record_run\n"
        "from textpipe.config import parse_pipeline\n"
        "config = parse_pipeline({'download': {'source': 'x.csv'}}, name='same', location='t')\n"
        "for _ in range(20):\n"
        "    record_run(Store(sys.argv[1]), config, {}, {})\n"
    )
    root = tmp_path / "store"
    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(root)], stderr=subprocess.PIPE)
        for _ in range(6)
    ]
    errors = [process.communicate(timeout=120)[1].decode() for process in processes]
    assert all(process.returncode == 0 for process in processes), errors
    assert json.loads((root / "runs" / "same.json").read_text())["name"] == "same"
    assert [path.name for path in (root / "runs").iterdir()] == ["same.json"]


# -- 7. one line instead of a traceback ------------------------------------------------------


def test_permission_error_is_one_line(
    runner, reviews_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import textpipe.artifacts as artifacts

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/read-only/store/download")

    monkeypatch.setattr(artifacts.Store, "_build", refuse)
    result = runner.invoke(cli, ["download", str(reviews_csv)])
    assert result.exit_code == 1
    assert result.output == (
        "Error: /read-only/store/download: Permission denied. Nothing half-written was kept.\n"
    )


def test_corrupt_model_file_is_one_line(runner, tmp_path: Path, encoded_artifact) -> None:
    from textpipe.config import TrainParams
    from textpipe.stages.train import train

    output = tmp_path / "model"
    train(
        encoded=encoded_artifact,
        params=TrainParams(model="bag", epochs=1, embedding_dim=4),
        store=Store(),
        output=output,
    )
    # damage it consistently (the manifest resealed), as a bad disk or a bad tool might
    model = output / "model.keras"
    model.write_bytes(b"not a zip file at all")
    reseal(
        output,
        lambda manifest: [
            entry.update(
                size=model.stat().st_size, sha256=hashlib.sha256(model.read_bytes()).hexdigest()
            )
            for entry in manifest["files"]
            if entry["name"] == "model.keras"
        ],
    )
    result = runner.invoke(cli, ["evaluate", str(output), str(encoded_artifact.path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    (error,) = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert "cannot load model.keras" in error and "rebuild it" in error


def test_huge_encode_length_is_refused_before_allocating(runner, sentiment_csv: Path) -> None:
    from textpipe.config import EncodeParams
    from textpipe.stages.encode import encode

    normalized, vocab, _ = encode_chain(sentiment_csv)
    with pytest.raises(InputError, match=r"Choose a smaller encode\.length"):
        encode(
            normalized=normalized,
            vocab=vocab,
            params=EncodeParams(length=2_000_000_000),
            store=Store(),
        )
    with pytest.raises(ConfigError, match="at most 2147483647"):
        EncodeParams(length=100_000_000_000)


def test_lock_wait_ends_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    store = Store(tmp_path / "store")
    key = "c" * 64
    monkeypatch.setenv("TEXTPIPE_LOCK_TIMEOUT", "0.2")
    (store.root / ".locks").mkdir(parents=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys\nfrom filelock import FileLock\n"
            "lock = FileLock(sys.argv[1]); lock.acquire()\n"
            "print('held', flush=True); signal.pause()",
            str(store.root / ".locks" / f"{key}.lock"),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        notices: list[str] = []
        with (
            pytest.raises(ArtifactError, match="Gave up after 0 s waiting"),
            store.lock(key, what="vocab cccccc", notice=notices.append),
        ):
            pass
        assert notices and "waiting for another textpipe process" in notices[0]
    finally:
        holder.kill()
        holder.wait()
    # the lock is released with its holder
    with store.lock(key, what="vocab cccccc"):
        pass


# -- 8. labels ------------------------------------------------------------------------------


def test_missing_float_labels_are_an_error_listing_rows(tmp_path: Path) -> None:
    from textpipe.config import DownloadParams
    from textpipe.stages.download import download

    path = tmp_path / "nan.csv"
    path.write_text("text,label\na,1\nb,\nc,0\nd,1\ne,0\n")
    with pytest.raises(
        InputError, match=r"1 row of the train split has no label .*\(row 1, counted from 0\)"
    ):
        download(params=DownloadParams(source=str(path)), store=Store())


def test_fractional_labels_are_refused_whole_floats_accepted(tmp_path: Path) -> None:
    from textpipe.config import DownloadParams
    from textpipe.stages.download import download

    fractional = write_csv(tmp_path / "scores.csv", [(f"t{i}", i / 7) for i in range(8)])
    with pytest.raises(InputError, match="fractional"):
        download(params=DownloadParams(source=str(fractional)), store=Store())
    whole = write_csv(tmp_path / "whole.csv", [(f"t{i}", float(i % 3 + 1)) for i in range(9)])
    artifact = download(params=DownloadParams(source=str(whole)), store=Store()).artifact
    assert artifact.stats["label_names"] == ["1", "2", "3"]


def test_a_test_label_unseen_in_training_is_refused(tmp_path: Path, reviews_csv: Path) -> None:
    from textpipe.config import DownloadParams
    from textpipe.stages.download import download

    test = write_csv(tmp_path / "test.csv", [("fine", "pos"), ("meh", "neutral")])
    with pytest.raises(InputError, match="'neutral'"):
        download(params=DownloadParams(source=str(reviews_csv), test_file=str(test)), store=Store())


def test_unusable_label_values_are_refused(tmp_path: Path, reviews_csv: Path) -> None:
    from textpipe.config import DownloadParams
    from textpipe.stages.download import download

    for value in ("inf", "1e300", "nan"):
        path = tmp_path / f"labels-{value}.csv"
        path.write_text(f"text,label\na b,1\nc d,0\ne f,{value}\ng h,1\n")
        with pytest.raises(InputError, match=r"row 2|rows 2"):
            download(params=DownloadParams(source=str(path)), store=Store())
    nested = tmp_path / "nested.jsonl"
    nested.write_text('{"text": "a", "label": [1]}\n{"text": "b", "label": [0]}\n')
    with pytest.raises(InputError, match="a label must be a name or a whole number"):
        download(params=DownloadParams(source=str(nested)), store=Store())


def test_class_checks_hold_after_sampling_and_carving(
    tmp_path: Path, reviews_csv: Path, reviews_test_csv: Path
) -> None:
    from textpipe.config import DownloadParams
    from textpipe.stages.download import download

    with pytest.raises(InputError, match="single class"):
        download(params=DownloadParams(source=str(reviews_csv), limit=1), store=Store())
    with pytest.raises(InputError, match=r"single class|lacks"):
        download(
            params=DownloadParams(
                source=str(reviews_csv), test_file=str(reviews_test_csv), validation_size=0.9
            ),
            store=Store(),
        )


def test_hostile_run_record_fields_and_lookalike_folders(
    runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sentiment_csv: Path
) -> None:
    store = Store()
    _write_record(store, "odd", {"train": {"key": "a" * 64, "params": [], "inputs": "x"}})
    path = tiny_pipeline_toml(tmp_path / "odd.toml", sentiment_csv, sentiment_csv)
    result = runner.invoke(cli, ["run", str(path), "--dry-run"])
    assert result.exit_code == 0 and "Traceback" not in result.output
    # a folder named like a run does not hide the run
    _write_record(store, "odd", {"train": {"key": "a" * 64}})
    monkeypatch.chdir(tmp_path)
    (tmp_path / "odd").mkdir()
    result = runner.invoke(cli, ["predict", "odd", "text"])
    assert "has no trained model yet" in result.output


def test_more_one_line_errors(
    runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reviews_csv: Path
) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    result = runner.invoke(cli, ["download", str(reviews_csv), "-o", str(tmp_path / "loop")])
    assert result.exit_code != 0 and "Traceback" not in result.output
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    result = runner.invoke(cli, ["predict", "x", "--file", str(latin)])
    assert result.exit_code == 1 and "not UTF-8" in result.output
    result = runner.invoke(cli, ["report", "--plot", str(tmp_path / "plot.json")])
    assert result.exit_code == 1 and ".png, .pdf or .svg" in result.output
    for bad in ("nan", "-5", "soon"):
        monkeypatch.setenv("TEXTPIPE_LOCK_TIMEOUT", bad)
        with pytest.raises(ConfigError, match="TEXTPIPE_LOCK_TIMEOUT"):
            from textpipe.artifacts import lock_timeout

            lock_timeout()


def test_a_bad_lock_timeout_is_refused_even_without_a_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEXTPIPE_LOCK_TIMEOUT", "xyz")
    store = Store(tmp_path / "store")
    with (
        pytest.raises(ConfigError, match="TEXTPIPE_LOCK_TIMEOUT must be a number of seconds"),
        store.lock("c" * 64, what="nothing"),
    ):
        pass


# -- 9. leftovers ---------------------------------------------------------------------------

SLOW_BUILD = """
import signal, sys
from pathlib import Path
from textpipe.artifacts import Identity, Store
from textpipe.cli.main import main

def build(directory):
    (directory / "half.bin").write_bytes(b"x" * 1000)
    print("building", flush=True)
    signal.pause()  # until the test's SIGTERM
    return {}

import click
from textpipe.cli.main import cli

@cli.command("slow")
def slow():
    Store(sys.argv[1]).produce(Identity("vocab", 1, {}, {}), build=build)

sys.argv = ["textpipe", "slow"] + sys.argv[1:]
main()
"""


def test_sigterm_cleans_up_like_ctrl_c(tmp_path: Path) -> None:
    root = tmp_path / "store"
    script = SLOW_BUILD.replace("Store(sys.argv[1])", f"Store({str(root)!r})")
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout.readline().strip() == b"building"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert b"Terminated; nothing half-written was kept." in stderr
    assert list((root / "vocab").iterdir()) == []


def test_stale_leftovers_are_removed_at_the_next_build(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    output = tmp_path / "out"
    artifact = produce(store, output=output).artifact
    target = store.path_for("vocab", artifact.key)
    stale = [
        target.with_name(f"{target.name}.incomplete-deadbeef"),
        target.with_name(f"{target.name}.old-0badf00d"),
        output.with_name(".out.textpipe-incomplete-12345678"),
        output.with_name(".out.textpipe-old-12345678"),
    ]
    for path in stale:
        path.mkdir()
        (path / "big.bin").write_bytes(b"x" * 100)
    # the user's own folders, even when named like textpipe's old temporaries, are kept
    kept = [tmp_path / "out.incomplete-12345678", tmp_path / "out.old-20241201"]
    for path in kept:
        path.mkdir()
        (path / "notes.txt").write_text("mine")
    produce(store, output=output, force=True)
    assert not any(path.exists() for path in stale)
    assert all((path / "notes.txt").read_text() == "mine" for path in kept)


def test_force_recopies_the_output(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    output = tmp_path / "out"
    produce(store, output=output)
    before = json.loads((output / MANIFEST_NAME).read_text())["created"]
    stored = store.path_for("vocab", produce(store).artifact.key)
    (output / "data.txt").unlink()
    (output / "data.txt").write_text("payload 10")  # same content, new inode
    inode = (output / "data.txt").stat().st_ino
    produce(store, output=output, force=True)
    assert (output / "data.txt").stat().st_ino != inode
    assert json.loads((stored / MANIFEST_NAME).read_text())["created"] >= before


def test_output_with_a_lookalike_manifest_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    user = tmp_path / "release"
    user.mkdir()
    fields = {"stage": "release", "version": "2.1", "key": "abc", "params": {}, "inputs": {}}
    (user / "manifest.json").write_text(json.dumps({**fields, "files": [{"name": "data.csv"}]}))
    (user / "data.csv").write_text("a,b")
    with pytest.raises(ArtifactError, match="not part of a textpipe artifact"):
        produce(store, output=user)
    assert (user / "data.csv").read_text() == "a,b"


def test_files_written_into_an_output_while_it_is_replaced_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    store = Store(tmp_path / "store")
    output = tmp_path / "out"
    produce(store, output=output)
    copy = shutil.copyfile

    def copy_while_the_user_writes(source, target):
        (output / "thesis.tex").write_text("written meanwhile")
        return copy(source, target)

    monkeypatch.setattr(shutil, "copyfile", copy_while_the_user_writes)
    notices: list[str] = []
    produce(store, output=output, size=11, notice=notices.append)
    (kept,) = tmp_path.glob(".out.textpipe-old-*")
    assert (kept / "thesis.tex").read_text() == "written meanwhile"
    assert any("kept" in note for note in notices)


# -- 10. a pipeline is validated whole, and --set errors name the override ---------------------


def test_model_typo_fails_before_any_stage(runner, tmp_path: Path, sentiment_csv: Path) -> None:
    path = tiny_pipeline_toml(tmp_path / "typo.toml", sentiment_csv, sentiment_csv, model="lstn")
    for extra in ((), ("--dry-run",)):
        result = runner.invoke(cli, ["run", str(path), *extra])
        assert result.exit_code == 2 and "Unknown model 'lstn'" in result.output
        assert "Did you mean 'lstm'" in result.output
    assert not (Path(os.environ["TEXTPIPE_HOME"]) / "download").exists()


def test_set_errors_name_the_override(tmp_path: Path, sentiment_csv: Path) -> None:
    from textpipe.presets import load_config

    path = tiny_pipeline_toml(tmp_path / "tiny.toml", sentiment_csv, sentiment_csv)
    with pytest.raises(ConfigError) as caught:
        load_config(str(path), ["train.epochs=ten", "vocab.sise=3"])
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("--set train.epochs=ten: [train.epochs] expected a positive")
    assert lines[1].startswith("--set vocab.sise=3: [vocab.sise] unknown key")
    assert str(path) not in str(caught.value)
    config = load_config(str(path), ["train.early_stopping=2"])
    assert load_config(str(path), ["train.early_stopping=none"]).train.early_stopping is None
    assert config.train.early_stopping == 2


@pytest.mark.parametrize("route", ["datasets", "streamed"])
def test_a_source_edited_while_it_is_read_is_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reviews_csv: Path, route: str
) -> None:
    import textpipe.stages.download as download_stage
    import textpipe.stages.text_sources as text_sources
    from textpipe.config import DownloadParams

    def edit() -> None:
        with reviews_csv.open("a", encoding="utf-8") as stream:
            stream.write("An edit made meanwhile,pos\n")

    if route == "datasets":
        load = download_stage._load

        def load_then_edit(*args, **kwargs):
            loaded = load(*args, **kwargs)
            edit()
            return loaded

        monkeypatch.setattr(download_stage, "batch_source", lambda resolved, cache_dir: None)
        monkeypatch.setattr(download_stage, "_load", load_then_edit)
    else:
        batches = text_sources.csv_batches

        def batches_then_edit(*args, **kwargs):
            yield from batches(*args, **kwargs)
            edit()

        monkeypatch.setattr(text_sources, "csv_batches", batches_then_edit)
    with pytest.raises(InputError, match="changed while it was being read"):
        download_stage.download(params=DownloadParams(source=str(reviews_csv)), store=Store())
    assert not list((Path(os.environ["TEXTPIPE_HOME"]) / "download").glob("*"))
