"""The README's reference lists stay true to the code."""

from pathlib import Path

from klavi_mock.domain.reports import PRODUCTS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_report_product_is_listed():
    listed = {name for name in PRODUCTS if f"`{name}`" in README}
    pj_by_rule = {name for name in PRODUCTS if name.startswith("pj_") and f"`pf_{name[3:]}`" in README}
    assert set(PRODUCTS) == listed | pj_by_rule


def test_every_fault_action_is_described():
    from klavi_mock.qa.faults.rules import FAULT_KINDS, HTTP_STATUSES

    section = README[README.index("## Faults on demand") :]
    assert all(f"`{kind}`" in section for kind in FAULT_KINDS)
    assert all(str(status) in section for status in HTTP_STATUSES) and "4001-4009" in section


def test_every_check_receiver_flag_is_in_the_readme(capsys):
    import re

    import pytest

    from klavi_mock.cli import main

    with pytest.raises(SystemExit):
        main(["check-receiver", "--help"])
    flags = set(re.findall(r"(--[a-z][a-z-]+)", capsys.readouterr().out)) - {"--help"}
    section = README[README.index("## Check your webhook receiver") : README.index("## Faults on demand")]
    assert flags and {flag for flag in flags if f"`{flag}" not in section} == set()


def test_the_option_table_is_the_one_written_from_the_code():
    """README's option table is generated (tools/readme_options.py), never edited by hand."""
    from klavi_mock.options import README_BEGIN, README_END, markdown_table, with_markdown_table

    section = README[README.index(README_BEGIN) + len(README_BEGIN) : README.index(README_END)]
    assert section.strip() == markdown_table().strip(), "run python tools/readme_options.py"
    assert with_markdown_table(README) == README
    assert (
        "Precedence, for every option: the flag, else\nthe environment variable, else the config file, else the default"
        in README
    )
