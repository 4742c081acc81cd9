"""The seams of the code base: no import cycles in core, plugins only through the SDK, a lazy SDK."""

import ast
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

import workbench.sdk

CORE = ROOT / "workbench"
PLUGIN_SOURCES = [*sorted((ROOT / "plugins").rglob("*.py")), CORE / "describe.py",
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
    allowed = {"workbench", "workbench.sdk"} | {f"workbench.sdk.{name}" for name in workbench.sdk.__all__}
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
