"""The registry on a real SQLite file: versions, lineage, aliases, concurrency, crashes, tampering."""

import os
import signal
import subprocess
import sys
import textwrap

import polars as pl
import pytest
from sqlalchemy import create_engine, text

from workbench.errors import ArtifactTampered, Conflict, Invalid, NotFound, WorkbenchError
from workbench.registry import Registry
from workbench.registry.schema import MIGRATIONS_FOLDER, SCHEMA_REVISION
from workbench.safety import tree_sha256


def make_artifact(folder, content="weights"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(content)
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "extra.txt").write_text("extra")
    return folder


def test_dataset_versions_follow_content(home, registry_url):
    registry = Registry.open()
    first = registry.datasets.add("sales", pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "a.csv")
    again = registry.datasets.add("sales", pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "b.csv")
    changed = registry.datasets.add("sales", pl.DataFrame({"a": [1, 3], "b": ["x", "y"]}), "c.csv")
    assert (first.version, again.version, changed.version) == (1, 1, 2)
    assert first.sha256 == again.sha256 != changed.sha256
    assert first.schema == {"a": "Int64", "b": "String"} and first.n_rows == 2
    assert registry.datasets.load("sales@1").equals(pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    assert registry.datasets.get("sales").version == 2
    assert first.path.is_file()
    assert (home / "registry.db").is_file() == (registry_url is None)


def test_model_lineage_aliases_and_latest(home, tmp_path, registry_url):
    registry = Registry.open()
    data = registry.datasets.add("train", pl.DataFrame({"a": [1]}))
    v1 = registry.models.register("churn", "scale", make_artifact(tmp_path / "m1"), {"c": 1},
                                 {"f1": 0.8}, [data.ref])
    v2 = registry.models.register("churn", "scale", make_artifact(tmp_path / "m2", "better"))
    assert (v1.version, v2.version) == (1, 2)
    assert registry.models.get("churn").version == 2 and "latest" in registry.models.get("churn").aliases
    registry.models.set_alias("churn@1", "champion")
    champion = registry.models.load("churn@champion")
    assert champion.version == 1 and champion.inputs == ["train@1"] and champion.metrics == {"f1": 0.8}
    assert (champion.path / "sub" / "extra.txt").read_text() == "extra"
    with pytest.raises(WorkbenchError, match="has no version or alias 'gold'"):
        registry.models.get("churn@gold")
    with pytest.raises(WorkbenchError, match="unknown model 'nope'; registered models: churn"):
        registry.models.get("nope")
    with pytest.raises(WorkbenchError, match="reserved"):
        registry.models.set_alias("churn@1", "latest")


@pytest.mark.parametrize("name", ["../evil", "a/b", "a\\b", "..", ".hidden", ""])
def test_names_with_path_parts_are_refused(home, tmp_path, name):
    registry = Registry.open()
    with pytest.raises(WorkbenchError, match="invalid"):
        registry.models.register(name, "scale", make_artifact(tmp_path / "m"))
    with pytest.raises(WorkbenchError, match="invalid"):
        registry.datasets.add(name, pl.DataFrame({"a": [1]}))
    assert registry.models.list() == [] and registry.datasets.list() == []


def test_tampered_artifact_is_refused(home, tmp_path):
    registry = Registry.open()
    record = registry.models.register("m", "scale", make_artifact(tmp_path / "m"))
    (record.path / "model.json").write_text("evil")
    with pytest.raises(ArtifactTampered, match="fails its sha256 check"):
        registry.models.load("m")
    (record.path / "model.json").write_text("weights")
    (record.path / "injected.pkl").write_bytes(b"\x80\x04")
    with pytest.raises(ArtifactTampered):
        registry.models.load("m@1")


def test_schema_revision_is_recorded_and_a_newer_one_refused(home):
    Registry.open()
    engine = create_engine(f"sqlite:///{home / 'registry.db'}")
    with engine.begin() as connection:
        assert connection.execute(text("select version_num from alembic_version")).scalar() == SCHEMA_REVISION
        connection.execute(text("update alembic_version set version_num='9999'"))
    with pytest.raises(WorkbenchError, match="newer than this workbench"):
        Registry.open()


def test_the_newest_migration_is_the_revision_the_code_expects():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_FOLDER))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


def test_a_registry_made_before_alembic_is_upgraded_with_its_data(home, tmp_path):
    """The first release kept its schema version in `workbench_meta`; its rows survive the upgrade."""
    from alembic import command
    from alembic.config import Config

    home.mkdir(parents=True)
    engine = create_engine(f"sqlite:///{home / 'registry.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_FOLDER))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(text("drop table alembic_version"))
        connection.execute(text("insert into workbench_meta values ('schema_version', '1')"))
        connection.execute(text("insert into runs (task, params, inputs, outputs, status, started_at) values "
                                "('describe', '{}', '[\"old@1\"]', '{}', 'succeeded', '2026-01-01 00:00:00')"))
    registry = Registry.open()
    run = registry.runs.get(1)
    assert (run.task, run.inputs, run.status, run.seed, run.progress) == ("describe", ["old@1"], "succeeded", 0, {})
    with engine.begin() as connection:
        assert connection.execute(text("select version_num from alembic_version")).scalar() == SCHEMA_REVISION


def test_errors_are_typed(home, tmp_path):
    registry = Registry.open()
    registry.models.register("m", "scale", make_artifact(tmp_path / "m"))
    with pytest.raises(NotFound):
        registry.models.get("m@7")
    with pytest.raises(NotFound):
        registry.runs.get(42)
    with pytest.raises(Invalid):
        registry.datasets.add("bad name", pl.DataFrame({"a": [1]}))
    with pytest.raises(Conflict):
        registry.models.set_alias("m@1", "latest")
    assert all(issubclass(kind, WorkbenchError) for kind in (NotFound, Invalid, Conflict, ArtifactTampered))


def test_aliases_can_be_deleted_but_latest_cannot(home, tmp_path):
    registry = Registry.open()
    registry.models.register("m", "scale", make_artifact(tmp_path / "a"))
    registry.models.register("m", "scale", make_artifact(tmp_path / "b", "b"))
    registry.models.set_alias("m@1", "champion")
    assert registry.models.get("m@champion").version == 1
    registry.models.delete_alias("m", "champion")
    with pytest.raises(NotFound, match="no version or alias 'champion'"):
        registry.models.get("m@champion")
    with pytest.raises(NotFound, match="has no alias 'champion'"):
        registry.models.delete_alias("m", "champion")
    with pytest.raises(Invalid, match="cannot be deleted"):
        registry.models.delete_alias("m", "latest")


def test_listing_pages_and_filters(home, tmp_path):
    registry = Registry.open()
    for index in range(5):
        registry.datasets.add("d", pl.DataFrame({"a": [index]}))
        registry.runs.finish(registry.runs.start("describe" if index % 2 else "onehot", {}, []),
                             "succeeded" if index < 3 else "failed", 1.0)
    assert [r.version for r in registry.datasets.list(limit=2, offset=1)] == [2, 3]
    assert [r.id for r in registry.runs.list(limit=2)] == [5, 4]
    assert [r.id for r in registry.runs.list(task="onehot", status="failed")] == [5]
    assert [r.id for r in registry.runs.list(status="succeeded", offset=1)] == [2, 1]


def test_a_reference_is_resolved_in_one_query(home, tmp_path):
    from sqlalchemy import event

    registry = Registry.open()
    for index in range(30):
        registry.models.register("m", "scale", make_artifact(tmp_path / f"v{index}", str(index)))
    registry.models.set_alias("m@3", "champion")
    statements = []
    event.listen(registry.db.read.kw["bind"], "before_cursor_execute",
                 lambda *args: statements.append(args[2]) if args[2].startswith("SELECT") else None)
    for ref, version in (("m", 30), ("m@latest", 30), ("m@7", 7), ("m@champion", 3)):
        before = len(statements)
        record = registry.models.get(ref)
        assert record.version == version and len(statements) - before == 1, statements[before:]
    assert registry.models.get("m@champion").aliases == ("champion",)
    assert registry.models.get("m").aliases == ("latest",)


WRITER = textwrap.dedent("""
    import sys, tempfile
    from pathlib import Path
    from workbench.registry import Registry
    registry = Registry.open()
    for i in range(25):
        folder = Path(tempfile.mkdtemp())
        (folder / "w.txt").write_text(f"{sys.argv[1]}-{i}")
        registry.models.register("shared", "scale", folder, metrics={"writer": sys.argv[1], "i": i})
""")


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request, home, monkeypatch):
    """The default SQLite file, and a real PostgreSQL database (the team set-up)."""
    if request.param == "sqlite":
        return None
    url = request.getfixturevalue("postgres_url")
    with create_engine(url).begin() as connection:  # each test starts from an empty database
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    monkeypatch.setenv("WORKBENCH_REGISTRY_URL", url)
    return url


def test_four_processes_register_100_versions(home, registry_url):
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    Registry.open()  # create the schema once, as the CLI would have
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(n)], env=env, stderr=subprocess.PIPE,
                                text=True) for n in range(4)]
    errors = [writer.communicate(timeout=300)[1] for writer in writers]
    assert [writer.returncode for writer in writers] == [0, 0, 0, 0], errors
    records = Registry.open().models.list("shared")
    assert Registry.open().url.startswith(registry_url or "sqlite")
    assert sorted(record.version for record in records) == list(range(1, 101))
    assert len({(r.metrics["writer"], r.metrics["i"]) for r in records}) == 100
    for record in records:
        assert (record.path / "w.txt").read_text() == f"{record.metrics['writer']}-{record.metrics['i']}"
        Registry.open().models.load(record.ref)


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
    Registry.open().models.register("big", "scale", Path(sys.argv[1]))
""")


@pytest.mark.parametrize("phase", ["copying", "moved"])
def test_registration_killed_mid_write_leaves_nothing_partial(home, tmp_path, phase):
    source = make_artifact(tmp_path / "big")
    expected = tree_sha256(source)
    Registry.open()
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    writer = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(source), phase], env=env,
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == phase
    writer.send_signal(signal.SIGKILL)
    writer.wait()

    registry = Registry.open()
    assert registry.models.list() == []
    orphans = list((home / "models" / "big").glob("*")) if (home / "models" / "big").exists() else []
    for folder in orphans:  # a move whose commit never came: whole, and not in the registry
        assert tree_sha256(folder) == expected
    assert bool(orphans) == (phase == "moved")
    again = registry.models.register("big", "scale", source)
    assert again.version == 1 and registry.models.load("big").sha256 == expected
