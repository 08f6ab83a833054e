"""Every data file the package reads is found through klavi_mock/resources.py: no other
module builds a path to the package's own files (from __file__, importlib.resources, or a
path relative to the working directory), which is what broke reports in an installed wheel."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "klavi_mock"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "resources.py")
DATA_FOLDERS = ("fixtures", "openapi", "templates", "static", "_data", "schemathesis.toml")


def _problems(source: str) -> list[str]:
    found = []
    tree = ast.parse(source)
    in_messages = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "__file__":
            found.append(f"line {node.lineno}: uses __file__")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(n.startswith(("importlib.resources", "pkgutil", "pkg_resources")) for n in names):
                found.append(f"line {node.lineno}: imports {names[0]}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in in_messages
            and node.value.split("/")[0] in DATA_FOLDERS
            and "/" in node.value
        ):
            found.append(f"line {node.lineno}: a path into the package's data, {node.value!r}")
    return found


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_but_resources_finds_package_files(module):
    assert _problems(module.read_text(encoding="utf-8")) == []


def test_the_check_catches_each_way_of_building_a_path():
    assert _problems("from pathlib import Path\nPath(__file__).parent / 'fixtures'")
    assert _problems("from importlib.resources import files")
    assert _problems("open('fixtures/reports/seed.yaml')")
    assert not _problems("from .resources import fixtures_dir\nfixtures_dir() / 'reports' / 'seed.yaml'")
