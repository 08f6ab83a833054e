"""Credit cards (`creditCards`): pf_credit_card and the categorized card products.

Field names follow klavi-api.md §5.4: the card with `limit`, an `openStatement` (the bill
still running) and `closedStatements` (the last bills). The categorized products add
`isActive`, use `limits` instead of `limit` (the same object, as Klavi's categorized card
examples show it), and categorize each transaction. The raw products (pf_credit_card,
pj_credit_card) send `limits` too, the same object as `limit` (mock choice: production
clients read `limits.availableAmount` there). Extras beyond the doc, all OFB names: `creditCardAccountId`, `compeCode`,
`amount` on transactions, and `billId`/`isInstalment`/`payments`/`financeCharges` on bills.

Purchases use OFB transactionType PAGAMENTO (paid with the card, A_VISTA or A_PRAZO); the
holder's bill payment shows as a credit of type OUTROS.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from klavi_mock.domain.reports.categories import Tag, Txn, render, tag
from klavi_mock.domain.reports.common import (
    Context,
    add_months,
    cents,
    digits,
    moment,
    money,
    new_uuid,
    rand_amount,
    random_day,
    statement_text,
    transaction_id,
    window,
)
from klavi_mock.domain.reports.movements import Payee, merchant_payee
from klavi_mock.domain.reports.parties import holder_fields

_CLOSING_DAYS = [1, 5, 8, 10, 12, 15, 18, 20, 22, 25]
_CLOSED_BILLS = 3


@dataclass
class Cycle:
    """One billing cycle: purchases from `start` to `close`, paid on `due`."""

    start: date
    close: date
    due: date
    bill_id: str
    txns: list[Txn] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)

    def total(self) -> Decimal:
        """Purchases and fees less refunds and cashback; payments of older bills don't count."""
        total = Decimal(0)
        for txn in self.txns:
            if txn.data["transactionType"] == "OUTROS":
                continue
            value = Decimal(txn.data["brazilianAmount"]["amount"])
            total += value if txn.data["creditDebitType"] == "DEBITO" else -value
        return max(total, Decimal(0))


@dataclass(frozen=True)
class CardProfile:
    numbers: list[str]  # last four digits of each plastic
    annual_fee: Decimal | None
    cashback: bool


def credit_cards(ctx: Context) -> list[dict[str, Any]]:
    rng = ctx.rng("card")
    count = rng.randint(1, 2) if ctx.person == "pf" else 1
    return [_card(ctx, rng) for _ in range(count)]


def _card(ctx: Context, rng: random.Random) -> dict[str, Any]:
    seed = ctx.seed()["cards"]
    product = rng.choice(seed["products"][ctx.person])
    network = rng.choice(seed["networks"])
    profile = _profile(ctx, rng)
    card_id = new_uuid(rng)
    cycles = _cycles(rng, ctx.today)
    for cycle in cycles:
        cycle.txns = _cycle_transactions(ctx, rng, cycle, profile)
    _pay_closed_bills(ctx, rng, cycles, profile)
    open_cycle, closed = cycles[-1], cycles[:-1]

    used = open_cycle.total() + sum((c.total() for c in closed if c.due >= ctx.today), Decimal(0))
    limit = max(rand_amount(rng, product["limit"], step=100), _round_up(used * Decimal("1.25"), 500))
    card: dict[str, Any] = {
        "creditCardAccountId": card_id,
        **ctx.institution_header(),
        **holder_fields(ctx.person, ctx.tax_id),
        "name": product["name"],
        "productType": product["productType"],
        "creditCardNetwork": network,
        "paymentMethods": [
            {"identificationNumber": n, "isMultipleCreditCard": len(profile.numbers) > 1} for n in profile.numbers
        ],
    }
    if ctx.level:
        card["isActive"] = True
        card["limits"] = _limit(limit, used)
    else:
        card["limit"] = _limit(limit, used)
        # Mock choice: production clients read creditCards[].limits.availableAmount here too,
        # so the raw card products send both spellings, the same object.
        card["limits"] = _limit(limit, used)
    card["openStatement"] = _statement(ctx, open_cycle, closed=False)
    card["closedStatements"] = [_statement(ctx, c, closed=True) for c in reversed(closed)]
    return card


def _profile(ctx: Context, rng: random.Random) -> CardProfile:
    extras = ctx.seed()["cards"]["extras"]
    numbers = [digits(rng, 4)] + ([digits(rng, 4)] if rng.random() < 0.25 else [])
    fee = extras["annual_fee"]
    annual_fee = rand_amount(rng, fee["amount"][ctx.person]) if rng.random() < fee["chance"] else None
    return CardProfile(numbers, annual_fee, rng.random() < extras["cashback"]["chance"])


def _cycles(rng: random.Random, today: date) -> list[Cycle]:
    """The closed cycles overlapping the 90-day window (at most three), oldest first, then
    the open one. A bill closes on `closing_day` and is due a week or so later."""
    closing_day, due_gap = rng.choice(_CLOSING_DAYS), rng.choice([7, 8, 10])
    last_close = add_months(today, 0, closing_day)
    if last_close >= today:
        last_close = add_months(today, -1, closing_day)
    first, _ = window(today)
    closes = [add_months(last_close, -i, closing_day) for i in range(_CLOSED_BILLS, -2, -1)]
    cycles = []
    for previous, close in zip(closes, closes[1:], strict=False):
        if close >= first:
            cycles.append(Cycle(previous + timedelta(days=1), close, close + timedelta(days=due_gap), new_uuid(rng)))
    return cycles


def _cycle_transactions(ctx: Context, rng: random.Random, cycle: Cycle, profile: CardProfile) -> list[Txn]:
    # The whole cycle is generated, so its bill total is right, even when the report only
    # shows the part of it inside the 90-day window.
    _, last = window(ctx.today)
    start, end = cycle.start, min(cycle.close, last)
    if start > end:  # the open cycle began today: nothing has happened in it yet
        return []
    seed = ctx.seed()["cards"]
    share = ((end - start).days + 1) / 30
    count = round(rng.randint(*seed["purchases_per_cycle"][ctx.person]) * share)
    txns = [_purchase(ctx, rng, random_day(rng, start, end), profile) for _ in range(count)]
    if profile.annual_fee is not None:
        txns.append(_annual_fee(ctx, rng, start, cycle, profile))
    if txns and rng.random() < seed["extras"]["refund"]["chance"]:
        txns.append(_refund(ctx, rng, rng.choice(txns), end))
    if profile.cashback and cycle.close <= last:
        txns.append(_cashback(ctx, rng, txns, cycle.close, profile))
    return txns


def _purchase(ctx: Context, rng: random.Random, day: date, profile: CardProfile) -> Txn:
    payee = merchant_payee(rng, ctx.seed()["merchants"][ctx.person])
    assert payee.amount is not None, "a merchant's seed gives its amounts"
    amount = rand_amount(rng, payee.amount)
    instalments = ctx.seed()["cards"]["instalments"]
    name = statement_text(payee.name)
    charge, count = 1, 1
    if amount >= 100 and rng.random() < instalments["share"]:
        count = rng.choice(instalments["counts"])
        charge = rng.randint(1, count)
        amount = cents(amount / count)
        name = f"{name} PARC {charge:02d}/{count:02d}"
    data = _card_txn(
        rng,
        day,
        profile,
        amount,
        name,
        "PAGAMENTO",
        "DEBITO",
        paymentType="A_VISTA" if count == 1 else "A_PRAZO",
        charge=(charge, count),
    )
    data["payeeMcc"] = payee.mcc
    return Txn(data, _merchant_tag(payee), day)


def _annual_fee(ctx: Context, rng: random.Random, day: date, cycle: Cycle, profile: CardProfile) -> Txn:
    extra = ctx.seed()["cards"]["extras"]["annual_fee"]
    name = f"{extra['name']} {cycle.close.month:02d}/12"
    assert profile.annual_fee is not None, "called only for a card with a fee"
    data = _card_txn(rng, day, profile, profile.annual_fee, name, "TARIFA", "DEBITO", feeType="ANUIDADE")
    return Txn(data, tag(extra["category"]), day)


def _refund(ctx: Context, rng: random.Random, original: Txn, last: date) -> Txn:
    extra = ctx.seed()["cards"]["extras"]["refund"]
    day = random_day(rng, original.day, last)
    merchant = original.data["transactionName"].split(" PARC ")[0]
    amount = Decimal(original.data["brazilianAmount"]["amount"])
    data = _card_txn(rng, day, _numbers(original), amount, extra["name"].format(party=merchant), "ESTORNO", "CREDITO")
    return Txn(data, tag(extra["category"], brand=original.tag.brand), day)


def _cashback(ctx: Context, rng: random.Random, txns: list[Txn], day: date, profile: CardProfile) -> Txn:
    extra = ctx.seed()["cards"]["extras"]["cashback"]
    spent = sum(
        (Decimal(t.data["brazilianAmount"]["amount"]) for t in txns if t.data["creditDebitType"] == "DEBITO"),
        Decimal(0),
    )
    amount = max(Decimal("0.01"), cents(spent * Decimal(str(extra["share"]))))
    data = _card_txn(rng, day, profile, amount, extra["name"], "CASHBACK", "CREDITO")
    return Txn(data, tag(extra["category"]), day)


def _pay_closed_bills(ctx: Context, rng: random.Random, cycles: list[Cycle], profile: CardProfile) -> None:
    """Each closed bill due by yesterday was paid in full on its due date; the payment shows
    in the bill's `payments` and as a credit in the cycle it fell in."""
    _, last = window(ctx.today)
    extra = ctx.seed()["cards"]["extras"]["bill_payment"]
    for bill in cycles[:-1]:
        total = bill.total()
        if bill.due > last or total == 0:
            continue
        mode = rng.choice(["DEBITO_CONTA_CORRENTE", "BOLETO_BANCARIO", "PIX"])
        bill.payments.append(
            {
                "valueType": "VALOR_PAGAMENTO_FATURA_REALIZADO",
                "paymentDate": bill.due.isoformat(),
                "paymentMode": mode,
                **money(total),
            }
        )
        data = _card_txn(rng, bill.due, profile, total, extra["name"], "OUTROS", "CREDITO")
        payment = Txn(data, tag(extra["category"], counts=False), bill.due)
        next(c for c in cycles if c.start <= bill.due <= c.close).txns.append(payment)


def _card_txn(
    rng: random.Random,
    day: date,
    profile: CardProfile,
    amount: Decimal,
    name: str,
    transaction_type: str,
    direction: str,
    *,
    paymentType: str = "A_VISTA",
    feeType: str = "",
    charge: tuple[int, int] = (1, 1),
) -> dict[str, Any]:
    return {
        "transactionDate": day.isoformat(),
        "transactionDateTime": moment(rng, day, 7, 23),
        "brazilianAmount": money(amount),
        "amount": money(amount),
        "transactionName": name,
        "identificationNumber": rng.choice(profile.numbers),
        "transactionId": transaction_id(rng),
        "transactionType": transaction_type,
        "billPostDate": day.isoformat(),
        "creditDebitType": direction,
        "feeType": feeType,
        "otherCreditsType": "",
        "paymentType": paymentType,
        "chargeIdentificator": str(charge[0]),
        "chargeNumber": charge[1],
    }


def _numbers(txn: Txn) -> CardProfile:
    """A refund goes back to the plastic the purchase was made with."""
    return CardProfile([txn.data["identificationNumber"]], None, False)


def _merchant_tag(payee: Payee) -> Tag:
    assert payee.category is not None, "a merchant's seed names its category"
    return tag(payee.category, brand=payee.brand)


def _statement(ctx: Context, cycle: Cycle, closed: bool) -> dict[str, Any]:
    total = cycle.total()
    statement: dict[str, Any] = {
        "billId": cycle.bill_id,
        "billMonth": cycle.close.strftime("%Y-%m"),
        "billingDate": cycle.close.isoformat(),
        "dueDate": cycle.due.isoformat(),
    }
    if closed:
        share = Decimal(str(ctx.seed()["cards"]["minimum_payment_share"]))
        statement["billMinimumAmount"] = money(cents(total * share))
    statement["billTotalAmount"] = money(total)
    if closed:
        statement.update({"isInstalment": False, "payments": cycle.payments, "financeCharges": []})
    first, _ = window(ctx.today)
    shown = [t for t in cycle.txns if t.day >= first]
    statement["transactionDetails"] = render(shown, ctx.level, ctx.today, card=True)
    return statement


def _limit(limit: Decimal, used: Decimal) -> dict[str, Any]:
    return {
        "isLimitFlexible": False,
        "limitAmount": {**money(limit), "limitAmountReason": ""},
        "usedAmount": money(used),
        "availableAmount": money(limit - used),
    }


def _round_up(value: Decimal, step: int) -> Decimal:
    return Decimal(-(-int(value) // step) * step)
