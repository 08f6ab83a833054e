"""MkDocs hook (mkdocs.yml `hooks:`): put the repository's ARCHITECTURE.md in the site.

ARCHITECTURE.md stays at the root, beside the code it maps; the site shows it as
explanation/architecture.md, with nothing copied into docs/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
INCLUDED = {"explanation/architecture.md": ROOT / "ARCHITECTURE.md"}


def on_files(files: Files, config: Any) -> Files:
    for uri, source in INCLUDED.items():
        note = f"\n\n*This page is `{source.name}` at the root of the repository.*\n"
        files.append(File.generated(config, uri, content=source.read_text(encoding="utf-8") + note))
    return files
