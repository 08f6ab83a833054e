"""Write README's option table from the table in klavi_mock/options.py.

    python tools/readme_options.py          rewrite README.md's table
    python tools/readme_options.py --check  exit 1 when README.md's table is out of date

tests/unit/test_readme.py fails when they differ, so the table is never edited by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from klavi_mock.options import with_markdown_table

README = ROOT / "README.md"


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    updated = with_markdown_table(text)
    if "--check" in argv:
        if updated != text:
            print("README.md's option table is out of date: run python tools/readme_options.py", file=sys.stderr)
            return 1
        return 0
    if updated != text:
        README.write_text(updated, encoding="utf-8")
        print("README.md: option table rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
