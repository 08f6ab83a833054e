"""Where every data file the package reads lives: the contract, the fixtures, the
schemathesis settings and the web pages' templates and assets. No other module builds a
path to the package's own files (tests/unit/test_packaging.py checks it).

In a source checkout the contract, fixtures and schemathesis.toml sit at the top of the
repository; an installed wheel carries copies inside the package (pyproject's
force-include puts them in klavi_mock/_data/), so look there first.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"klavi-mock is missing its {name} (looked in {_PACKAGE / '_data'} and {_PACKAGE.parent})")


def openapi_dir() -> Path:
    return _find("openapi")


def fixtures_dir() -> Path:
    return _find("fixtures")


def schemathesis_config() -> Path:
    return _find("schemathesis.toml")


def package_dir(*parts: str) -> Path:
    """A folder shipped inside the package itself, e.g. package_dir("web", "pages", "templates")."""
    return _PACKAGE.joinpath(*parts)


def swagger_ui_dir() -> Path:
    """Swagger UI's assets, as the swagger-ui-py package ships them (found without importing
    it: only its files are used)."""
    import importlib.util

    found = importlib.util.find_spec("swagger_ui")
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(
            "klavi-mock needs the swagger-ui-py package for /__mock/docs (pip install swagger-ui-py)"
        )
    return Path(next(iter(found.submodule_search_locations))) / "static"
