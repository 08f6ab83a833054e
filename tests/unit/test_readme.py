"""The README stays short, keeps its two set-up commands, and every link in it resolves.

Its reference content lives in the docs site (docs/); tests/unit/test_docs.py keeps that true
to the code.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_at_most_200_lines():
    assert len(README.splitlines()) <= 200


def test_the_two_set_up_commands_are_there():
    section = README[README.index("## Set-up (two commands)") :]
    assert "python3 -m venv .venv && . .venv/bin/activate && pip install . && klavi-mock serve" in section
    assert 'pip install -e ".[test]" && python -m pytest' in section


def test_every_relative_link_resolves():
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    relative = [target for target in targets if "://" not in target]
    assert relative, "the README links into the docs"
    assert [target for target in relative if not (ROOT / target).exists()] == []


def test_it_links_every_part_of_the_docs():
    for page in ("docs/tutorial.md", "docs/how-to/", "docs/reference/", "docs/explanation/"):
        assert f"]({page}" in README, page
