"""Categorization: what the *_l2 and *_l3 products add to each transaction.

Generators build transactions as `Txn` (the raw OFB-shaped dict plus a `Tag` saying what
the money was for); `render` turns them into the dicts of a report at a given level.

The f-flags are undocumented by Klavi. Our reading, consistent with its example
(fAll 1, fAllMonth 0, fAllCmonth 1):
- fAll: 1 when the transaction is a real income or expense, 0 for movements that would
  count twice (transfers between the holder's own accounts, paying the holder's card bill);
- fAllMonth: fAll, and the transaction falls in a calendar month wholly inside the 90-day
  window (a month usable for monthly averages);
- fAllCmonth: fAll, and the transaction falls in the current calendar month (of the report).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from klavi_mock.domain.reports.common import window


@dataclass(frozen=True)
class Tag:
    category: tuple[str, str, str]  # category, subcategory, thirdCategory (Portuguese)
    counts: bool = True  # fAll
    brand: str = ""  # the merchant's brand, for L3 ("Netflix")


@dataclass
class Txn:
    data: dict[str, Any]
    tag: Tag
    day: date


def tag(category: Sequence[str], counts: bool = True, brand: str = "") -> Tag:
    return Tag(category=(category[0], category[1], category[2]), counts=counts, brand=brand)


def render(txns: list[Txn], level: int, today: date, *, card: bool = False) -> list[dict[str, Any]]:
    """The report dicts, newest first. Level 0 leaves them raw."""
    ordered = sorted(txns, key=lambda t: t.data["transactionDateTime"], reverse=True)
    return [_categorized(t, level, today, card) for t in ordered]


def _categorized(txn: Txn, level: int, today: date, card: bool) -> dict[str, Any]:
    data = dict(txn.data)
    if level == 0:
        return data
    data["category"], data["subcategory"] = txn.tag.category[0], txn.tag.category[1]
    if level == 3:
        data["thirdCategory"] = txn.tag.category[2]
        data.update(_flags(txn, today))
        # The merchant's brand: Klavi's card L3 (§5.4) and savings L3 examples show it.
        data["brand"] = txn.tag.brand
        if not card:
            data["settlementType"] = data["type"]  # §5.3: how it settled; we echo the OFB type
    return data


def _flags(txn: Txn, today: date) -> dict[str, int]:
    counts = int(txn.tag.counts)
    return {
        "fAll": counts,
        "fAllMonth": counts * int(_in_complete_month(txn.day, today)),
        "fAllCmonth": counts * int((txn.day.year, txn.day.month) == (today.year, today.month)),
    }


def _in_complete_month(day: date, today: date) -> bool:
    first, _ = window(today)
    month_start = day.replace(day=1)
    is_past_month = (day.year, day.month) < (today.year, today.month)
    return is_past_month and month_start >= first
