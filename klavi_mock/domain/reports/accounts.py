"""Deposit accounts: checking (`checkingAccounts`), savings (`savingsAccounts`) and the
balance product (`balances`).

Field names follow Klavi's pf_categorized_checking_l3 example (klavi-api.md §5.3), plus the
OFB `accountId` (so a report's links can point at its accounts) and `type`.
Checking, its categorized variants and the balance product share one seed, so they describe
the very same accounts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from klavi_mock.domain.reports.categories import Txn, render
from klavi_mock.domain.reports.common import Context, amount_str, cents, digits, iso_ms, money, new_uuid, rand_amount
from klavi_mock.domain.reports.movements import movements
from klavi_mock.domain.reports.parties import holder_fields

_ACCOUNT_TYPES = {"checking": "CONTA_DEPOSITO_A_VISTA", "savings": "CONTA_POUPANCA"}
_TEMPLATES = {"checking": "account_transactions", "savings": "savings_transactions"}


@dataclass
class DepositAccount:
    header: dict[str, Any]
    balances: dict[str, dict[str, str]]
    txns: list[Txn]

    def report_item(self, ctx: Context) -> dict[str, Any]:
        return {**self.header, "balances": self.balances, "transactionDetails": render(self.txns, ctx.level, ctx.today)}


def checking_accounts(ctx: Context) -> list[dict[str, Any]]:
    return [a.report_item(ctx) for a in deposit_accounts(ctx, "checking")]


def savings_accounts(ctx: Context) -> list[dict[str, Any]]:
    return [a.report_item(ctx) for a in deposit_accounts(ctx, "savings")]


def balances(ctx: Context) -> list[dict[str, Any]]:
    """One entry per checking and savings account, as OFB's /balances reports them."""
    rng = ctx.rng("balance")
    # A little before midnight of the report's day: in the past, and fixed for the day.
    midnight = datetime.combine(ctx.today, time(0), tzinfo=timezone.utc)
    items = []
    for kind in ("checking", "savings"):
        for account in deposit_accounts(ctx, kind):
            header = {
                k: v for k, v in account.header.items() if k not in ("subtype", "civilName", "companyName", "tradeName")
            }
            updated = midnight - timedelta(minutes=rng.randint(5, 600))
            items.append({**header, **account.balances, "updateDateTime": iso_ms(updated)})
    return items


def deposit_accounts(ctx: Context, kind: str) -> list[DepositAccount]:
    rng = ctx.rng(kind)
    count = rng.randint(1, 2) if kind == "checking" and ctx.person == "pj" else 1
    return [_deposit_account(ctx, rng, kind) for _ in range(count)]


def _deposit_account(ctx: Context, rng: random.Random, kind: str) -> DepositAccount:
    header = {
        "accountId": new_uuid(rng),
        **ctx.institution_header(),
        "branchCode": digits(rng, 4),
        "number": digits(rng, rng.randint(8, 10)),
        "checkDigit": digits(rng, 1),
        "type": _ACCOUNT_TYPES[kind],
        "subtype": _subtype(rng, ctx.person),
        **holder_fields(ctx.person, ctx.tax_id),
    }
    txns = movements(ctx, rng, ctx.seed()[_TEMPLATES[kind]][ctx.person])
    opening = rand_amount(rng, ctx.seed()["opening_balance"][kind][ctx.person])
    available = _fill_running_balance(txns, opening, rng)
    return DepositAccount(header, _balances(rng, ctx, kind, available), txns)


def _subtype(rng: random.Random, person: str) -> str:
    if person == "pj" or rng.random() < 0.85:
        return "INDIVIDUAL"
    return rng.choice(["CONJUNTA_SIMPLES", "CONJUNTA_SOLIDARIA"])


def _fill_running_balance(txns: list[Txn], opening: Decimal, rng: random.Random) -> Decimal:
    """Set postTransactionBalance oldest to newest and return the final balance.

    If the movements would overdraw the account, the opening balance is raised so the running
    balance stays non-negative: the generated customer lives within their means.
    """
    ordered = sorted(txns, key=lambda t: t.data["transactionDateTime"])
    deltas = [_signed(t) for t in ordered]
    lowest, running = Decimal(0), Decimal(0)
    for delta in deltas:
        running += delta
        lowest = min(lowest, running)
    if opening + lowest < 0:
        opening = -lowest + cents(opening / 4)
    balance = opening
    for txn, delta in zip(ordered, deltas, strict=True):
        balance += delta
        txn.data["postTransactionBalance"] = amount_str(balance)
    return balance


def _signed(txn: Txn) -> Decimal:
    value = Decimal(txn.data["transactionAmount"]["amount"])
    return value if txn.data["creditDebitType"] == "CREDITO" else -value


def _balances(rng: random.Random, ctx: Context, kind: str, available: Decimal) -> dict[str, dict[str, str]]:
    blocked = cents(available * Decimal(str(rng.uniform(0.01, 0.05)))) if rng.random() < 0.15 else Decimal(0)
    invested = Decimal(0)
    if kind == "checking" and rng.random() < 0.4:
        invested = cents(available * Decimal(str(rng.uniform(0.1, 0.6))))
    return {
        "availableAmount": money(available),
        "blockedAmount": money(blocked),
        "automaticallyInvestedAmount": money(invested),
    }
