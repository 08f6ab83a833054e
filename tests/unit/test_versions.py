"""One version, bounded dependencies, install hints that work without PyPI."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import tomllib
from packaging.requirements import Requirement

from klavi_mock import __version__
from klavi_mock.contract.check import install_hint
from klavi_mock.web.server.protocol import protocol_class

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirement(name: str) -> Requirement:
    [found] = [Requirement(text) for text in PYPROJECT["dependencies"] if Requirement(text).name == name]
    return found


def test_the_version_is_pyprojects_through_the_installed_metadata():
    assert __version__ == PYPROJECT["version"] == metadata.version("klavi-mock")
    done = subprocess.run([sys.executable, "-m", "klavi_mock", "--version"], capture_output=True, text=True)
    assert done.stdout.strip() == f"klavi-mock {__version__}"


def test_uvicorn_is_bounded_and_the_installed_one_is_inside_the_bound():
    """protocol.py subclasses a private uvicorn class: an unbounded uvicorn could break it."""
    uvicorn = _requirement("uvicorn")
    assert any(spec.operator == "<" for spec in uvicorn.specifier), uvicorn
    assert uvicorn.specifier.contains(metadata.version("uvicorn"))
    # Only what the mock uses: no [standard] (watchfiles, websockets, python-dotenv).
    assert not uvicorn.extras
    assert "httptools" in {Requirement(text).name for text in PYPROJECT["dependencies"]}


def test_the_bounded_protocol_is_the_one_served():
    """httptools is installed (a dependency): serve uses the protocol with the head bound."""
    protocol = protocol_class()
    assert not isinstance(protocol, str) and protocol.__name__ == "BoundedHttpToolsProtocol"


def test_the_check_install_hint_names_what_installs_without_pypi_having_klavi_mock():
    hint = install_hint()
    assert "klavi-mock[check]" not in hint
    for text in PYPROJECT["optional-dependencies"]["check"]:
        assert f"'{Requirement(text)}'" in hint
    assert "pip install '.[check]'" in hint


def test_check_without_schemathesis_says_the_hint_in_one_line():
    code = (
        "import sys; sys.modules['schemathesis'] = None; sys.modules['schemathesis.cli'] = None; "
        "from klavi_mock.cli import main; raise SystemExit(main(['check', '--base-url', 'http://127.0.0.1:9']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "schemathesis is not installed: pip install 'hypothesis" in done.stderr
    assert "Traceback" not in done.stderr
