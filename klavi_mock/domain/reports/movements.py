"""Turning the seed's transaction templates into dated checking/savings transactions.

A template (see `account_transactions` in seed.yaml) is a kind of movement: salary, PIX to
friends, utility bills, card purchases... This module decides when each happens, with whom
and for how much, and returns `Txn`s in OFB shape (no balances yet, no categories).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from klavi_mock.domain.reports.categories import Tag, Txn, tag
from klavi_mock.domain.reports.common import (
    Context,
    add_months,
    cents,
    moment,
    money,
    rand_amount,
    transaction_id,
    window,
)
from klavi_mock.domain.reports.parties import (
    Party,
    company,
    display_name,
    holder_fields,
    holder_party,
    institution_party,
    random_person,
)

Template = dict[str, Any]


@dataclass(frozen=True)
class Payee:
    """The other side of a movement and what the seed says about it."""

    party: Party | None
    name: str
    category: list[str] | None = None
    amount: list[float] | None = None
    brand: str = ""
    mcc: int | None = None


class Payees:
    """Counterparties of one account: a few recurring contacts and companies, so the same
    friend or supplier shows up more than once, as in a real statement."""

    def __init__(self, ctx: Context, rng: random.Random) -> None:
        self.ctx, self.rng = ctx, rng
        seed = ctx.seed()
        self.contacts = [random_person(rng) for _ in range(6)]
        names = [c["name"] for c in seed["companies"] if c["name"] != _holder_company(ctx)]
        self.companies = [company(n) for n in rng.sample(names, 8)]
        self.employer = company(rng.choice(names))
        self.partner = random_person(rng)

    def pick(self, template: Template) -> Payee:
        kind = template["party"]
        rng, seed = self.rng, self.ctx.seed()
        if kind == "merchant":
            return merchant_payee(rng, seed["merchants"][self.ctx.person])
        if kind == "biller":
            entry = rng.choice([b for b in seed["billers"] if b["group"] == template["group"]])
            return Payee(company(entry["name"]), entry["name"], entry["category"], entry["amount"])
        party = {
            "contact": lambda: rng.choice(self.contacts),
            "company": lambda: rng.choice(self.companies),
            "employer": lambda: self.employer,
            "partner": lambda: self.partner,
            "acquirer": lambda: company(rng.choice(seed["acquirers"])),
            "landlord": lambda: company(rng.choice(seed["landlords"])),
            "own": lambda: holder_party(self.ctx, rng),
            "own_bank": lambda: institution_party(self.ctx, rng),
            "none": lambda: None,
        }[kind]()
        return Payee(party, party.name if party else "")


def merchant_payee(rng: random.Random, merchants: list[dict[str, Any]]) -> Payee:
    entry = rng.choices(merchants, weights=[m["weight"] for m in merchants])[0]
    return Payee(
        company(entry["name"]), entry["name"], entry["category"], entry["amount"], entry["brand"], entry["mcc"]
    )


def _holder_company(ctx: Context) -> str:
    """A business never pays itself as a supplier."""
    return holder_fields(ctx.person, ctx.tax_id).get("companyName", "")


def movements(ctx: Context, rng: random.Random, templates: list[Template]) -> list[Txn]:
    payees = Payees(ctx, rng)
    first, last = window(ctx.today)
    txns: list[Txn] = []
    for template in templates:
        if rng.random() >= template.get("chance", 1):
            continue
        txns.extend(_occurrences(ctx, rng, template, payees, first, last))
    return txns


def _occurrences(
    ctx: Context, rng: random.Random, template: Template, payees: Payees, first: date, last: date
) -> list[Txn]:
    monthly = "monthly_day" in template
    # A monthly movement (salary, rent, a utility) goes to the same payee for about the same
    # amount every month; scattered ones pick a payee and an amount each time.
    fixed = payees.pick(template) if monthly else None
    base = _amount(rng, template, fixed) if fixed else None
    days = _monthly_days(rng, template, first, last) if monthly else _scattered_days(rng, template, first, last)
    out = []
    for day in days:
        payee = fixed or payees.pick(template)
        amount = _jitter(rng, base, template) if base is not None else _amount(rng, template, payee)
        out.append(_txn(rng, template, day, payee, amount))
    return out


def _monthly_days(rng: random.Random, template: Template, first: date, last: date) -> list[date]:
    day_of_month = rng.randint(*template["monthly_day"])
    days, month = [], first.replace(day=1)
    while month <= last:
        day = add_months(month, 0, day_of_month)
        if first <= day <= last:
            days.append(day)
        month = add_months(month, 1, 1)
    return days


def _scattered_days(rng: random.Random, template: Template, first: date, last: date) -> list[date]:
    """`per_month` occurrences in each 30-day slice of the window."""
    days = []
    start = first
    while start <= last:
        end = min(start + timedelta(days=29), last)
        for _ in range(rng.randint(*template["per_month"])):
            days.append(start + timedelta(days=rng.randint(0, (end - start).days)))
        start = end + timedelta(days=1)
    return days


def _amount(rng: random.Random, template: Template, payee: Payee) -> Decimal:
    bounds = template.get("amount") or payee.amount
    assert bounds is not None, "the template or the payee gives the amounts"
    return rand_amount(rng, bounds, template.get("round", 0))


def _jitter(rng: random.Random, base: Decimal, template: Template) -> Decimal:
    vary = template.get("vary", 0)
    if not vary:
        return base
    return max(Decimal("0.01"), cents(base * Decimal(str(1 + rng.uniform(-vary, vary)))))


def _txn(rng: random.Random, template: Template, day: date, payee: Payee, amount: Decimal) -> Txn:
    reference = day.replace(day=1) - timedelta(days=1)  # payroll refers to the month before
    name = template["name"].format(
        party=display_name(payee.party) if payee.party else "", ref=f"{reference.month:02d}/{reference.year}"
    )
    data: dict[str, Any] = {
        "transactionDate": day.isoformat(),
        "transactionDateTime": moment(rng, day),
        "transactionId": transaction_id(rng),
        "completedAuthorisedPaymentType": "TRANSACAO_EFETIVADA",
        "creditDebitType": template["direction"],
        "transactionAmount": money(amount),
        "transactionName": name,
    }
    if payee.party:
        data.update(payee.party.partie_fields())
    data["postTransactionBalance"] = None  # filled in once all movements are known
    data["type"] = template["type"]
    return Txn(data, _tag(template, payee), day)


def _tag(template: Template, payee: Payee) -> Tag:
    category = template.get("category") or payee.category
    assert category is not None, "the template or the payee names the category"
    return tag(category, counts=template.get("fall", True), brand=payee.brand)
