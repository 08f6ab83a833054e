"""Where the contract and the fixtures live.

In a source checkout they sit at the top of the repository; an installed wheel carries
copies inside the package (see pyproject's force-include), so look there first.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"klavi-mock is missing its {name}/ folder (looked in {_PACKAGE})")


def openapi_dir() -> Path:
    return _find("openapi")


def fixtures_dir() -> Path:
    return _find("fixtures")
