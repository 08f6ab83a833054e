"""Write the generated tables of the docs site from the code and data they describe.

    python tools/docs_reference.py          rewrite the tables in docs/
    python tools/docs_reference.py --check  exit 1 when a table is out of date

Each table sits between two markers in its page, and is never edited by hand:

- docs/reference/cli.md: the commands and their flags, from klavi_mock/cli.py's parser
- docs/reference/options.md: `klavi-mock serve`'s options, from klavi_mock/options.py
- docs/reference/control-api.md: the control API's operations, from openapi/mock-admin.yaml
- docs/reference/personas.md: the personas, from fixtures/personas.yaml
- docs/reference/report-products.md: the report products, from klavi_mock/domain/reports/catalog.py

tests/unit/test_docs.py fails when a table differs from what this script writes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml

from klavi_mock.options import README_BEGIN, README_END, markdown_table

DOCS = ROOT / "docs"


def _cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def cli_tables() -> str:
    """One table of the commands, then one of each command's flags (serve's: options.md)."""
    import argparse

    from klavi_mock.cli import build_parser

    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {action.dest: action.help for action in commands._choices_actions}
    out = ["| Command | What it does |", "|---|---|"]
    out += [
        f"| [`klavi-mock {name}`](#klavi-mock-{name}) | {_cell(helps.get(name, ''))} |" for name in commands.choices
    ]
    for name, sub in commands.choices.items():
        out += ["", f"## `klavi-mock {name}`", ""]
        if sub.description:
            out += [_cell(sub.description), ""]
        if name == "serve":
            out += ["Every flag of `serve` is an option with a variable and a config-file key: [Options](options.md)."]
            continue
        out += ["| Flag | Required | Default | What it does |", "|---|---|---|---|"]
        for action in sub._actions:
            if not action.option_strings or action.dest == "help":
                continue
            flag = ", ".join(action.option_strings)
            if action.nargs == 0:
                shown = flag
            else:
                metavar = action.metavar or action.dest.upper()
                shown = f"{flag} {metavar}" + (" ..." if action.nargs in ("+", "*") else "")
            default = "—" if action.default in (None, False, argparse.SUPPRESS) else f"`{action.default}`"
            out.append(f"| `{shown}` | {'yes' if action.required else 'no'} | {default} | {_cell(action.help or '')} |")
    return "\n".join(out) + "\n"


def control_api_table() -> str:
    spec = yaml.safe_load((ROOT / "openapi" / "mock-admin.yaml").read_text(encoding="utf-8"))
    rows = ["| Method | Path | Operation | What it does |", "|---|---|---|---|"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "operationId" in operation:
                rows.append(
                    f"| `{method.upper()}` | `/__mock{path}` | `{operation['operationId']}` "
                    f"| {_cell(operation.get('summary', ''))} |"
                )
    return "\n".join(rows) + "\n"


def personas_table() -> str:
    data = yaml.safe_load((ROOT / "fixtures" / "personas.yaml").read_text(encoding="utf-8"))
    rows = ["| Persona | CPF | CNPJ | What happens |", "|---|---|---|---|"]
    for persona in data["personas"]:
        cpf = persona.get("personalTaxId") or ("any other valid CPF" if persona.get("default") else "—")
        cnpj = persona.get("businessTaxId") or ("any other valid CNPJ" if persona.get("default") else "—")
        rows.append(f"| `{persona['id']}` | {cpf} | {cnpj} | {_cell(persona['description'])} |")
    return "\n".join(rows) + "\n"


def report_products_table() -> str:
    from klavi_mock.domain.reports.catalog import PRODUCTS, Product

    rows = [
        "| Personal (`/personal/...`) | Business (`/business/...`) | Home level "
        "| Data key | `productVersion` | Permission it needs |",
        "|---|---|---|---|---|---|",
    ]
    # One row per suffix: the pf_ product and its pj_ twin, or a dash where one has none.
    by_suffix: dict[str, dict[str, Product]] = {}
    for product in PRODUCTS.values():
        by_suffix.setdefault(product.suffix, {})[product.person] = product
    for pair in by_suffix.values():
        first = pair.get("pf") or pair["pj"]
        names = [f"`{pair[person].name}`" if person in pair else "—" for person in ("pf", "pj")]
        rows.append(
            f"| {names[0]} | {names[1]} | {first.level} | `{first.data_key}` | {first.version} | `{first.permission}` |"
        )
    return "\n".join(rows) + "\n"


def marker(name: str) -> tuple[str, str]:
    return (
        f"<!-- generated: {name}, written by tools/docs_reference.py; edit the source, not this -->",
        f"<!-- /generated: {name} -->",
    )


# page, begin marker, end marker, what goes between them
TABLES: tuple[tuple[str, str, str, Callable[[], str]], ...] = (
    ("reference/cli.md", *marker("cli"), cli_tables),
    ("reference/options.md", README_BEGIN, README_END, markdown_table),
    ("reference/control-api.md", *marker("control-api"), control_api_table),
    ("reference/personas.md", *marker("personas"), personas_table),
    ("reference/report-products.md", *marker("report-products"), report_products_table),
)


def with_table(text: str, begin: str, end: str, table: str, page: str) -> str:
    head, found_begin, rest = text.partition(begin)
    _, found_end, tail = rest.partition(end)
    if not (found_begin and found_end):
        raise ValueError(f"{page} has no {begin} ... {end} markers")
    return f"{head}{begin}\n\n{table.strip()}\n\n{end}{tail}"


def updated_pages() -> dict[Path, tuple[str, str]]:
    """Each page with a generated table: (its text now, its text with fresh tables)."""
    pages: dict[Path, tuple[str, str]] = {}
    for page, begin, end, make in TABLES:
        path = DOCS / page
        old, new = pages.get(path, (path.read_text(encoding="utf-8"),) * 2)
        pages[path] = (old, with_table(new, begin, end, make(), page))
    return pages


def stale_pages() -> list[str]:
    return [str(path.relative_to(DOCS.parent)) for path, (old, new) in updated_pages().items() if old != new]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = stale_pages()
        for page in stale:
            print(f"{page}: a generated table is out of date: run python tools/docs_reference.py", file=sys.stderr)
        return 1 if stale else 0
    for path, (old, new) in updated_pages().items():
        if old != new:
            path.write_text(new, encoding="utf-8")
            print(f"{path.relative_to(DOCS.parent)}: tables rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
