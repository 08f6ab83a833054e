"""The package's shape is enforced, not hoped for: the import-linter contracts in
pyproject.toml (each layer imports only the layers below it; no import cycles at any
depth), and no import of the package hidden inside a function, where a reader (and a
quick look at the file's head) would not see it."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "klavi_mock"

# Imports that stay inside a function, each for a reason a reader can check.
FUNCTION_IMPORTS_ALLOWED = {
    # schemathesis is an optional extra (klavi-mock[check]); `klavi-mock check` alone loads it.
    ("contract/check.py", "klavi_mock.contract.schemathesis_setup"),
}


def _lint_imports(where: Path) -> subprocess.CompletedProcess:
    """import-linter's own command on the package found in `where` (its pyproject.toml)."""
    command = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(command), "--config", str(where / "pyproject.toml"), "--no-cache"],
        cwd=where,
        env={**os.environ, "PYTHONPATH": str(where)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_layer_and_cycle_contracts_are_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 kept, 0 broken" in result.stdout


def test_the_layer_contract_catches_an_upward_import(tmp_path: Path) -> None:
    """The contract can fail: in a copy of the package where the domain imports the web
    layer, it does."""
    copy = tmp_path / "klavi_mock"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "_data", "templates", "static"))
    taxid = copy / "domain" / "taxid.py"
    taxid.write_text(taxid.read_text() + "\nfrom klavi_mock.web.server import routing  # noqa: E402\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "klavi_mock.domain is not allowed to import klavi_mock.web" in result.stdout


def _function_imports(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("klavi_mock"):
                    found.append((inner.lineno, inner.module or ""))
                elif isinstance(inner, ast.ImportFrom) and inner.level:
                    found.append((inner.lineno, "." * inner.level + (inner.module or "")))
                elif isinstance(inner, ast.Import):
                    found += [(inner.lineno, a.name) for a in inner.names if a.name.startswith("klavi_mock")]
    return found


def test_no_import_of_the_package_hides_inside_a_function() -> None:
    hidden = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for line, module in _function_imports(path.read_text(encoding="utf-8")):
            if (relative, module) not in FUNCTION_IMPORTS_ALLOWED:
                hidden.append(f"klavi_mock/{relative}:{line} imports {module} inside a function")
    assert not hidden, "\n".join(hidden)


@pytest.mark.parametrize(
    "source",
    [
        "def f():\n    from klavi_mock.web import app\n",
        "async def f():\n    from .routing import Record\n",
        "class C:\n    def m(self):\n        import klavi_mock.cli\n",
    ],
)
def test_the_hidden_import_check_sees(source: str) -> None:
    assert _function_imports(textwrap.dedent(source))


def test_the_package_has_no_leftover_of_its_old_name() -> None:
    old = "mock" + "_server"  # spelled apart so this file is not a hit itself
    hits = [
        str(path.relative_to(ROOT))
        for folder in ("klavi_mock", "tests", "contract_tests", "bench", "tools", "docs")
        for path in (ROOT / folder).rglob("*")
        if path.is_file()
        and path.suffix in (".py", ".md", ".toml", ".html", ".js", ".yaml", ".lua")
        and old in path.read_text(encoding="utf-8", errors="replace")
    ]
    hits += [
        name
        for name in ("README.md", "ARCHITECTURE.md", "pyproject.toml")
        if old in (ROOT / name).read_text(encoding="utf-8")
    ]
    assert not hits
