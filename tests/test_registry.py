"""The registry on a real SQLite file: versions, lineage, aliases, concurrency, crashes, tampering."""

import os
import signal
import subprocess
import sys
import textwrap

import polars as pl
import pytest
from sqlalchemy import create_engine, text

from workbench.errors import ArtifactTampered, WorkbenchError
from workbench.hashing import tree_sha256
from workbench.registry import SCHEMA_VERSION, Registry


def make_artifact(folder, content="weights"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(content)
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "extra.txt").write_text("extra")
    return folder


def test_dataset_versions_follow_content(home, registry_url):
    registry = Registry()
    first = registry.add_dataset("sales", pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "a.csv")
    again = registry.add_dataset("sales", pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "b.csv")
    changed = registry.add_dataset("sales", pl.DataFrame({"a": [1, 3], "b": ["x", "y"]}), "c.csv")
    assert (first.version, again.version, changed.version) == (1, 1, 2)
    assert first.sha256 == again.sha256 != changed.sha256
    assert first.schema == {"a": "Int64", "b": "String"} and first.n_rows == 2
    assert registry.load_dataset("sales@1").equals(pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    assert registry.dataset("sales").version == 2
    assert first.path.is_file()
    assert (home / "registry.db").is_file() == (registry_url is None)


def test_model_lineage_aliases_and_latest(home, tmp_path, registry_url):
    registry = Registry()
    data = registry.add_dataset("train", pl.DataFrame({"a": [1]}))
    v1 = registry.register_model("churn", "scale", make_artifact(tmp_path / "m1"), {"c": 1},
                                 {"f1": 0.8}, [data.ref])
    v2 = registry.register_model("churn", "scale", make_artifact(tmp_path / "m2", "better"))
    assert (v1.version, v2.version) == (1, 2)
    assert registry.model("churn").version == 2 and "latest" in registry.model("churn").aliases
    registry.set_alias("churn@1", "champion")
    champion = registry.load_model("churn@champion")
    assert champion.version == 1 and champion.inputs == ["train@1"] and champion.metrics == {"f1": 0.8}
    assert (champion.path / "sub" / "extra.txt").read_text() == "extra"
    with pytest.raises(WorkbenchError, match="has no version or alias 'gold'"):
        registry.model("churn@gold")
    with pytest.raises(WorkbenchError, match="unknown model 'nope'; registered models: churn"):
        registry.model("nope")
    with pytest.raises(WorkbenchError, match="reserved"):
        registry.set_alias("churn@1", "latest")


@pytest.mark.parametrize("name", ["../evil", "a/b", "a\\b", "..", ".hidden", ""])
def test_names_with_path_parts_are_refused(home, tmp_path, name):
    registry = Registry()
    with pytest.raises(WorkbenchError, match="invalid"):
        registry.register_model(name, "scale", make_artifact(tmp_path / "m"))
    with pytest.raises(WorkbenchError, match="invalid"):
        registry.add_dataset(name, pl.DataFrame({"a": [1]}))
    assert registry.models() == [] and registry.datasets() == []


def test_tampered_artifact_is_refused(home, tmp_path):
    registry = Registry()
    record = registry.register_model("m", "scale", make_artifact(tmp_path / "m"))
    (record.path / "model.json").write_text("evil")
    with pytest.raises(ArtifactTampered, match="fails its sha256 check"):
        registry.load_model("m")
    (record.path / "model.json").write_text("weights")
    (record.path / "injected.pkl").write_bytes(b"\x80\x04")
    with pytest.raises(ArtifactTampered):
        registry.load_model("m@1")


def test_schema_version_is_recorded_and_a_newer_one_refused(home):
    Registry()
    engine = create_engine(f"sqlite:///{home / 'registry.db'}")
    with engine.begin() as connection:
        stored = connection.execute(text("select value from workbench_meta where key='schema_version'")).scalar()
        assert int(stored) == SCHEMA_VERSION
        connection.execute(text("update workbench_meta set value='999' where key='schema_version'"))
    with pytest.raises(WorkbenchError, match="newer than this workbench"):
        Registry()


WRITER = textwrap.dedent("""
    import sys, tempfile
    from pathlib import Path
    from workbench.registry import Registry
    registry = Registry()
    for i in range(25):
        folder = Path(tempfile.mkdtemp())
        (folder / "w.txt").write_text(f"{sys.argv[1]}-{i}")
        registry.register_model("shared", "scale", folder, metrics={"writer": sys.argv[1], "i": i})
""")


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request, home, monkeypatch):
    """The default SQLite file, and a real PostgreSQL database (the team set-up)."""
    if request.param == "sqlite":
        return None
    url = request.getfixturevalue("postgres_url")
    with create_engine(url).begin() as connection:  # each test starts from an empty database
        connection.exec_driver_sql("DROP TABLE IF EXISTS model_aliases, models, datasets, runs, workbench_meta")
    monkeypatch.setenv("WORKBENCH_REGISTRY_URL", url)
    return url


def test_four_processes_register_100_versions(home, registry_url):
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    Registry()  # create the schema once, as the CLI would have
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(n)], env=env, stderr=subprocess.PIPE,
                                text=True) for n in range(4)]
    errors = [writer.communicate(timeout=300)[1] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0, 0, 0], errors
    records = Registry().models("shared")
    assert Registry().url.startswith(registry_url or "sqlite")
    assert sorted(record.version for record in records) == list(range(1, 101))
    assert len({(r.metrics["writer"], r.metrics["i"]) for r in records}) == 100
    for record in records:
        assert (record.path / "w.txt").read_text() == f"{record.metrics['writer']}-{record.metrics['i']}"
        Registry().load_model(record.ref)


SLOW_WRITER = textwrap.dedent("""
    import os, shutil, sys, time
    from pathlib import Path
    from workbench.registry import Registry
    phase = sys.argv[2]

    def pause_after(function, name):
        def paused(*args, **kwargs):
            value = function(*args, **kwargs)
            print(name, flush=True)
            time.sleep(60)
            return value
        return paused

    if phase == "copying":  # after the first of the artifact's files is copied
        shutil.copystat = pause_after(shutil.copystat, phase)
    else:  # "moved": the artifact is in place, the row not yet committed
        os.replace = pause_after(os.replace, phase)
    Registry().register_model("big", "scale", Path(sys.argv[1]))
""")


@pytest.mark.parametrize("phase", ["copying", "moved"])
def test_registration_killed_mid_write_leaves_nothing_partial(home, tmp_path, phase):
    source = make_artifact(tmp_path / "big")
    expected = tree_sha256(source)
    Registry()
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    writer = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(source), phase], env=env,
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == phase
    writer.send_signal(signal.SIGKILL)
    writer.wait()

    registry = Registry()
    assert registry.models() == []
    orphans = list((home / "models" / "big").glob("*")) if (home / "models" / "big").exists() else []
    for folder in orphans:  # a move whose commit never came: whole, and not in the registry
        assert tree_sha256(folder) == expected
    assert bool(orphans) == (phase == "moved")
    again = registry.register_model("big", "scale", source)
    assert again.version == 1 and registry.load_model("big").sha256 == expected
