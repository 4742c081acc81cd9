"""The seams of the code base: no import cycles in core, plugins only through the SDK, a lazy SDK."""

import ast
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

import workbench.sdk

CORE = ROOT / "workbench"
PLUGIN_SOURCES = [*sorted((ROOT / "plugins").rglob("*.py")), CORE / "builtin" / "describe.py",
                  *sorted((ROOT / "examples").rglob("*.py"))]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at the top, inside functions or under TYPE_CHECKING."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_core_modules_import_each_other_without_a_cycle():
    modules = {module_name(path): path for path in CORE.rglob("*.py") if "migrations" not in path.parts}
    graph = {name: {other for other in imported_modules(path) if other in modules and other != name}
             for name, path in modules.items()}
    done, trail = set(), []

    def visit(name: str) -> None:
        if name in trail:
            raise AssertionError("import cycle: " + " -> ".join([*trail[trail.index(name):], name]))
        if name in done:
            return
        trail.append(name)
        for other in sorted(graph[name]):
            visit(other)
        trail.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_plugins_use_only_the_sdk_and_build_no_workspace_path():
    allowed = {"workbench", "workbench.sdk", "workbench.sdk.records", "workbench.testing",
               "workbench.testing.run_task"} | {f"workbench.sdk.{name}" for name in workbench.sdk.__all__} | {
        f"workbench.sdk.records.{name}" for name in ("Records", "records", "installed_task")}
    packages = {f"workbench_{path.parent.name}" for path in (ROOT / "plugins").glob("*/__init__.py")} | {
        "workbench_featsel"}
    for path in PLUGIN_SOURCES:
        imported = imported_modules(path)
        assert {name for name in imported if name.split(".")[0] == "workbench"} <= allowed, path
        own = next((package for package in packages if path.parent.name in package), None)
        assert {name.split(".")[0] for name in imported} & packages <= {own}, f"{path} imports another plugin"
        assert not re.search(r"\bregistry\b|\.home\b|WORKBENCH_HOME|work_dir", path.read_text()), \
            f"{path} reaches the workspace other than through its RunContext"


def test_every_sdk_name_resolves_and_loading_it_imports_no_heavy_library():
    for name in workbench.sdk.__all__:
        assert getattr(workbench.sdk, name) is not None, name
    code = ("import sys, workbench.sdk\n"
            "print(sorted(m for m in ('sklearn', 'sqlalchemy', 'numpy', 'torch', 'polars') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# The sub-packages of the host, as the README's Architecture section names them.
LAYOUT = {"sdk": "plugin contract", "kit": "helpers plugins share", "io": "reading data", "execution": "runner",
          "registry": "registry", "presentation": "presentation", "pipelines": "pipelines", "builtin": "describe",
          "cli": "command line"}


def test_the_folders_are_the_architecture_and_every_module_has_a_public_name():
    packages = {path.parent.name for path in CORE.glob("*/__init__.py")}
    assert packages == set(LAYOUT)
    readme = (ROOT / "README.md").read_text()
    architecture = readme[readme.index("## Architecture"):]
    for package in LAYOUT:
        assert f"`workbench/{package}/`" in architecture, package
    private = [path for path in CORE.rglob("_*.py") if path.name not in ("__init__.py", "__main__.py")]
    assert private == []
    for path in sorted((ROOT / "apps").glob("*.py")):
        reached = {name for name in imported_modules(path) if name.startswith("workbench.")}
        assert not [name for name in reached if any(part.startswith("_") for part in name.split("."))], path


def test_plugin_words_and_types_live_in_the_plugins_that_use_them():
    core = " ".join(path.read_text() for path in CORE.rglob("*.py") if "migrations" not in path.parts)
    for word in ("qini", "auuc", "lightgbm", "change_year", "first_period", "lora"):
        assert word not in core.lower(), word
