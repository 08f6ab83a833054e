"""The README's reference lists stay true to the code."""

from pathlib import Path

from mock_server.domain.reports import PRODUCTS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_report_product_is_listed():
    listed = {name for name in PRODUCTS if f"`{name}`" in README}
    pj_by_rule = {name for name in PRODUCTS if name.startswith("pj_") and f"`pf_{name[3:]}`" in README}
    assert set(PRODUCTS) == listed | pj_by_rule
