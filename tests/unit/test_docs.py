"""The docs site (docs/, mkdocs.yml) builds strictly, and its reference stays true to the code.

The generated tables (options, control API, personas, report products) are written by
tools/docs_reference.py; a test here fails when one is out of date.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from klavi_mock.domain.reports import PRODUCTS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _tool():
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "tools" / "docs_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the reference, true to the code ---------------------------------------------------------


def test_every_generated_table_is_the_one_written_from_the_code():
    """Run python tools/docs_reference.py when this fails; never edit the tables by hand."""
    assert _tool().stale_pages() == []


def test_the_option_table_is_the_one_written_from_the_code():
    from klavi_mock.options import README_BEGIN, README_END, markdown_table, with_markdown_table

    text = page("reference/options.md")
    section = text[text.index(README_BEGIN) + len(README_BEGIN) : text.index(README_END)]
    assert section.strip() == markdown_table().strip(), "run python tools/docs_reference.py"
    assert with_markdown_table(text) == text
    assert (
        "Precedence, for every option: the flag, else\nthe environment variable, else the config file, else the default"
        in text
    )


def test_the_stale_check_notices_a_hand_edit(tmp_path, monkeypatch):
    tool = _tool()
    (tmp_path / "docs" / "reference").mkdir(parents=True)
    for name in ("options.md", "personas.md"):
        (tmp_path / "docs" / "reference" / name).write_text(page(f"reference/{name}"), encoding="utf-8")
    monkeypatch.setattr(tool, "DOCS", tmp_path / "docs")
    monkeypatch.setattr(
        tool, "TABLES", tuple(t for t in tool.TABLES if t[0] in ("reference/options.md", "reference/personas.md"))
    )
    for path, (_, fresh) in tool.updated_pages().items():
        path.write_text(fresh, encoding="utf-8")
    assert tool.stale_pages() == []
    personas = tmp_path / "docs" / "reference" / "personas.md"
    personas.write_text(personas.read_text(encoding="utf-8").replace("00000000191", "00000000000"), encoding="utf-8")
    assert tool.stale_pages() == ["docs/reference/personas.md"]


def test_every_report_product_is_listed():
    text = page("reference/report-products.md")
    assert {name for name in PRODUCTS if f"`{name}`" in text} == set(PRODUCTS)


def test_every_persona_is_listed():
    import yaml

    personas = yaml.safe_load((ROOT / "fixtures" / "personas.yaml").read_text(encoding="utf-8"))["personas"]
    text = page("reference/personas.md")
    assert [p["id"] for p in personas if f"`{p['id']}`" not in text] == []


def test_every_control_api_operation_is_listed():
    import yaml

    spec = yaml.safe_load((ROOT / "openapi" / "mock-admin.yaml").read_text(encoding="utf-8"))
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values() if isinstance(op, dict)]
    text = page("reference/control-api.md")
    assert ids and [i for i in ids if f"`{i}`" not in text] == []


def test_every_webhook_event_and_chaos_mode_is_described():
    from klavi_mock.webhooks.chaos import MODES
    from klavi_mock.webhooks.events import EVENT_NAMES

    assert [name for name in EVENT_NAMES if f"`{name}`" not in page("reference/webhooks.md")] == []
    assert [mode for mode in MODES if f"`{mode}`" not in page("reference/webhook-chaos.md")] == []


def test_every_fault_action_is_described():
    from klavi_mock.qa.faults.rules import FAULT_KINDS, HTTP_STATUSES

    text = page("reference/faults.md")
    assert all(f"`{kind}`" in text for kind in FAULT_KINDS)
    assert all(str(status) in text for status in HTTP_STATUSES) and "4001-4009" in text


@pytest.mark.parametrize(
    ("command", "doc"),
    [
        ("check-receiver", "reference/check-receiver.md"),
        ("check", "reference/check.md"),
        ("check-receiver", "reference/cli.md"),
        ("check", "reference/cli.md"),
        ("conformance", "reference/cli.md"),
        ("serve", "reference/options.md"),
    ],
)
def test_every_flag_of_a_command_is_described(command, doc, capsys):
    from klavi_mock.cli import main

    with pytest.raises(SystemExit):
        main([command, "--help"])
    flags = set(re.findall(r"(--[a-z][a-z-]+)", capsys.readouterr().out)) - {"--help"}
    text = page(doc)
    assert flags and {flag for flag in flags if f"`{flag}" not in text} == set()


def test_every_page_is_in_the_nav():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506

    def pages(nav):
        for item in nav:
            for value in item.values() if isinstance(item, dict) else [item]:
                yield from pages(value) if isinstance(value, list) else [value]

    in_nav = set(pages(config["nav"]))
    on_disk = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    assert on_disk - in_nav == set(), "add these pages to mkdocs.yml's nav"
    assert "explanation/architecture.md" in in_nav  # ARCHITECTURE.md, put in by tools/mkdocs_hooks.py


# -- the site builds --------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        for name in ("href", "src"):
            if attributes.get(name):
                self.links.append(attributes[name])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs", reason='the docs extra: pip install -e ".[docs]"')
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_mkdocs_build_strict_makes_the_key_pages(site):
    for name in (
        "index.html",
        "tutorial/index.html",
        "how-to/backend-developer/index.html",
        "how-to/ci-engineer/index.html",
        "how-to/qa/index.html",
        "reference/cli/index.html",
        "reference/options/index.html",
        "reference/control-api/index.html",
        "reference/personas/index.html",
        "reference/report-products/index.html",
        "reference/webhooks/index.html",
        "explanation/mock-choices/index.html",
        "explanation/what-the-mock-does/index.html",
        "explanation/architecture/index.html",
    ):
        assert (site / name).is_file(), name
    assert "The layers" in (site / "explanation/architecture/index.html").read_text(encoding="utf-8")
    assert "--webhook-concurrency" in (site / "reference/options/index.html").read_text(encoding="utf-8")


def test_the_site_loads_nothing_from_elsewhere(site):
    """Like the mock, the docs work offline: no script, style sheet or image from another host."""
    remote = re.compile(r"""<(?:script|link|img)\b[^>]*(?:src|href)=["']https?://""")
    assert [
        str(html.relative_to(site)) for html in site.rglob("*.html") if remote.search(html.read_text(encoding="utf-8"))
    ] == []


def test_every_internal_link_of_the_site_resolves(site):
    parsed: dict[Path, _Links] = {}

    def read(path: Path) -> _Links:
        if path not in parsed:
            parser = _Links()
            parser.feed(path.read_text(encoding="utf-8"))
            parsed[path] = parser
        return parsed[path]

    broken = []
    for html in site.rglob("*.html"):
        if html.name == "404.html":
            continue
        for link in read(html).links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")):
                continue
            target = (html.parent / unquote(parts.path)).resolve() if parts.path else html
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{html.relative_to(site)}: {link}")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in read(target).ids:
                broken.append(f"{html.relative_to(site)}: {link} (no such anchor)")
    assert broken == []
