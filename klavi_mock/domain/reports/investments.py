"""Investments: bank fixed incomes, credit fixed incomes, treasure titles, variable incomes
and funds.

Klavi doesn't publish these reports; each position mirrors OFB Investments (domain.md §2.4):
identification (type, issuer, ISIN, remuneration), the balance folded in (quantity, unit
prices, gross and net amounts, taxes) and the position's transactions in the 90-day window.
Every family shares the position fields, so a consumer can sum `grossAmount` across them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from klavi_mock.domain.reports.common import (
    Context,
    add_months,
    cents,
    cnpj_for_name,
    isin,
    iso_ms,
    money,
    new_uuid,
    rand_amount,
    random_day,
    rate_str,
    window,
)

Spec = dict[str, Any]
_QUANTITY = Decimal("0.01")


def bank_fixed_incomes(ctx: Context) -> list[dict[str, Any]]:
    return _positions(ctx, "bank_fixed_incomes", _bank_fixed_income)


def credit_fixed_incomes(ctx: Context) -> list[dict[str, Any]]:
    return _positions(ctx, "credit_fixed_incomes", _credit_fixed_income)


def treasure_titles(ctx: Context) -> list[dict[str, Any]]:
    return _positions(ctx, "treasure_titles", _treasure_title)


def variable_incomes(ctx: Context) -> list[dict[str, Any]]:
    return _positions(ctx, "variable_incomes", _variable_income)


def funds(ctx: Context) -> list[dict[str, Any]]:
    return _positions(ctx, "funds", _fund)


def _positions(ctx: Context, family: str, build: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
    rng = ctx.rng(family)
    spec = ctx.seed()["investments"][family]
    return [build(ctx, rng, spec) for _ in range(rng.randint(*spec["count"]))]


# --- fixed income: bank (CDB, RDB, LCI, LCA), credit (debentures, CRI, CRA), treasury ----------


def _bank_fixed_income(ctx: Context, rng: random.Random, family: Spec) -> dict[str, Any]:
    kind = rng.choice(family["types"])
    item = _fixed_income(
        ctx,
        rng,
        family,
        kind,
        issuer_cnpj=ctx.institution.cnpj,
        isin_prefix="BR" + kind["type"][:3],
        issued_on_purchase=True,
    )
    if kind.get("grace_days"):
        item["gracePeriodDate"] = (
            date.fromisoformat(item["purchaseDate"]) + timedelta(days=kind["grace_days"])
        ).isoformat()
    return item


def _credit_fixed_income(ctx: Context, rng: random.Random, family: Spec) -> dict[str, Any]:
    kind = rng.choice(family["types"])
    issuer = rng.choice(family["issuers"])
    item = _fixed_income(ctx, rng, family, kind, issuer_cnpj=cnpj_for_name(issuer), isin_prefix="BR")
    return {**item, "issuerName": issuer}


def _treasure_title(ctx: Context, rng: random.Random, family: Spec) -> dict[str, Any]:
    kind = rng.choice(family["types"])
    item = _fixed_income(ctx, rng, family, kind, issuer_cnpj=family["issuer"]["cnpj"], isin_prefix="BRSTN")
    return {**item, "issuerName": family["issuer"]["name"], "name": f"{kind['label']} {item['dueDate'][:4]}"}


def _fixed_income(
    ctx: Context,
    rng: random.Random,
    family: Spec,
    kind: Spec,
    *,
    issuer_cnpj: str,
    isin_prefix: str,
    issued_on_purchase: bool = False,
) -> dict[str, Any]:
    today = ctx.today
    purchased = today - timedelta(days=rng.randint(31, 720))
    # Banks issue CDBs on demand; bonds and treasury titles were issued before the purchase.
    issued = purchased if issued_on_purchase else purchased - timedelta(days=rng.randint(0, 400))
    due = add_months(issued, rng.randint(*kind["months"]))
    if due <= today:
        due = add_months(today, rng.randint(3, 36))
    rate = _yield(ctx, rng, kind)
    issue_price = Decimal(kind["unit"])
    purchase_price = _grown(issue_price, rate.annual, (purchased - issued).days)
    updated_price = _grown(issue_price, rate.annual, (today - issued).days)
    quantity = max(_QUANTITY, (rand_amount(rng, family["amount"][ctx.person]) / purchase_price).quantize(_QUANTITY))
    gain = quantity * (updated_price - purchase_price)
    tax = cents(gain * _income_tax_rate((today - purchased).days)) if kind.get("taxable", True) else Decimal(0)
    return {
        **_header(ctx, rng, kind["type"], issuer_cnpj, isin(isin_prefix, rng)),
        "remuneration": _remuneration(kind, rate),
        "issueUnitPrice": money(issue_price),
        "issueDate": issued.isoformat(),
        "purchaseDate": purchased.isoformat(),
        "dueDate": due.isoformat(),
        **_position(ctx, rng, quantity, purchase_price, updated_price, tax),
        "transactions": _fixed_income_transactions(ctx, rng, kind, purchased, quantity, purchase_price, updated_price),
    }


@dataclass(frozen=True)
class Yield:
    annual: float  # the resulting yearly rate, for the unit-price arithmetic
    pre_fixed: float  # the fixed part (the whole rate, or the spread over the index)
    index_share: float  # the share of the index (1.05 for 105% of CDI; 0 when pre-fixed)


def _yield(ctx: Context, rng: random.Random, kind: Spec) -> Yield:
    """A share of CDI/SELIC, a spread over an index (IPCA + 6%), or a fixed rate."""
    if kind["indexer"] == "PRE_FIXADO":
        rate = round(rng.uniform(*kind["rate"]), 4)
        return Yield(rate, rate, 0.0)
    index = ctx.seed()["rates"][kind["indexer"]]
    if "pct" in kind:
        share = rng.randint(*kind["pct"]) / 100
        return Yield(index * share, 0.0, share)
    spread = round(rng.uniform(*kind["spread"]), 4)
    return Yield((1 + index) * (1 + spread) - 1, spread, 1.0)


def _remuneration(kind: Spec, rate: Yield) -> dict[str, str]:
    return {
        "preFixedRate": rate_str(rate.pre_fixed),
        "postFixedIndexerPercentage": rate_str(rate.index_share),
        "rateType": "EXPONENCIAL",
        "ratePeriodicity": "ANUAL",
        "calculation": "DIAS_UTEIS",
        "indexer": kind["indexer"],
        "indexerAdditionalInfo": "",
    }


def _fixed_income_transactions(
    ctx: Context,
    rng: random.Random,
    kind: Spec,
    purchased: date,
    quantity: Decimal,
    purchase_price: Decimal,
    updated_price: Decimal,
) -> list[dict[str, Any]]:
    first, last = window(ctx.today)
    txns = []
    if first <= purchased <= last:
        txns.append(_transaction(rng, purchased, "ENTRADA", "APLICACAO", quantity, purchase_price))
    if "JUROS_SEMESTRAIS" in kind["type"]:
        coupon = cents(quantity * updated_price * Decimal("0.029"))
        for months_back in range(0, 6):
            day = add_months(ctx.today, -months_back, 15)
            if day.month in (1, 7) and first <= day <= last:
                txns.append(_transaction(rng, day, "SAIDA", "PAGAMENTO_JUROS", Decimal(0), Decimal(0), gross=coupon))
    return _newest_first(txns)


# --- variable income and funds ----------------------------------------------------------


def _variable_income(ctx: Context, rng: random.Random, family: Spec) -> dict[str, Any]:
    asset = rng.choice(family["assets"])
    price = cents(Decimal(str(asset["price"])) * Decimal(str(rng.uniform(0.85, 1.15))))
    average = cents(price * Decimal(str(rng.uniform(0.7, 1.2))))
    quantity = Decimal(rng.randint(*family["quantity"][ctx.person]))
    first, last = window(ctx.today)
    txns = []
    if rng.random() < 0.5:
        bought = Decimal(rng.randint(1, max(1, int(quantity) // 4)))
        txns.append(_transaction(rng, random_day(rng, first, last), "ENTRADA", "COMPRA", bought, average))
    if rng.random() < 0.6:
        dividend = cents(quantity * price * Decimal(str(rng.uniform(0.005, 0.02))))
        kind = rng.choice(["DIVIDENDOS", "JCP"])
        txns.append(
            _transaction(rng, random_day(rng, first, last), "SAIDA", kind, Decimal(0), Decimal(0), gross=dividend)
        )
    return {
        **_header(ctx, rng, asset["type"], asset["cnpj"], asset["isin"]),
        "issuerName": asset["issuer"],
        "ticker": asset["ticker"],
        **_position(ctx, rng, quantity, average, price, Decimal(0)),
        "transactions": _newest_first(txns),
    }


def _fund(ctx: Context, rng: random.Random, family: Spec) -> dict[str, Any]:
    fund = rng.choice(family["funds"])
    purchased = ctx.today - timedelta(days=rng.randint(31, 900))
    quota = Decimal(str(round(rng.uniform(*fund["quota"]), 4)))
    purchase_quota = cents(quota / Decimal(str(1 + rng.uniform(0.02, 0.25)))) or Decimal("1.00")
    quantity = (rand_amount(rng, family["amount"][ctx.person]) / purchase_quota).quantize(_QUANTITY)
    gain = quantity * (quota - purchase_quota)
    tax = cents(max(gain, Decimal(0)) * _income_tax_rate((ctx.today - purchased).days))
    return {
        # The administrator (here the institution) stands in as the issuer of fund quotas.
        **_header(ctx, rng, "FUNDO_INVESTIMENTO", ctx.institution.cnpj, isin("BR", rng)),
        "name": fund["name"],
        "cnpjNumber": cnpj_for_name(fund["name"]),
        "anbimaCategory": fund["anbimaCategory"],
        "anbimaClass": fund["anbimaClass"],
        "purchaseDate": purchased.isoformat(),
        **_position(ctx, rng, quantity, purchase_quota, quota, tax),
        "transactions": _fund_transactions(ctx, rng, quantity, quota),
    }


def _fund_transactions(ctx: Context, rng: random.Random, quantity: Decimal, quota: Decimal) -> list[dict[str, Any]]:
    """Monthly contributions, and the come-cotas tax of late May/November when in the window."""
    first, last = window(ctx.today)
    txns = []
    if rng.random() < 0.6:
        day_of_month = rng.randint(1, 28)
        share = (quantity * Decimal(str(rng.uniform(0.01, 0.05)))).quantize(_QUANTITY)
        for months_back in range(0, 4):
            day = add_months(ctx.today, -months_back, day_of_month)
            if first <= day <= last and share > 0:
                txns.append(_transaction(rng, day, "ENTRADA", "APLICACAO", share, quota))
    for months_back in range(0, 4):
        day = add_months(ctx.today, -months_back, 28)
        if day.month in (5, 11) and first <= day <= last:
            units = (quantity * Decimal("0.002")).quantize(_QUANTITY)
            txns.append(_transaction(rng, day, "SAIDA", "COME_COTAS", units, quota))
    return _newest_first(txns)


# --- shared pieces --------------------------------------------------------------------


def _header(ctx: Context, rng: random.Random, investment_type: str, issuer_cnpj: str, isin_code: str) -> dict[str, Any]:
    return {
        "investmentId": new_uuid(rng),
        **ctx.institution_header(),
        "investmentType": investment_type,
        "issuerInstitutionCnpjNumber": issuer_cnpj,
        "isinCode": isin_code,
    }


def _position(
    ctx: Context,
    rng: random.Random,
    quantity: Decimal,
    purchase_price: Decimal,
    updated_price: Decimal,
    income_tax: Decimal,
) -> dict[str, Any]:
    """The OFB balance of a position, as of just before the report's day began."""
    gross = cents(quantity * updated_price)
    midnight = datetime.combine(ctx.today, time(0), tzinfo=timezone.utc)
    return {
        "quantity": _quantity(quantity),
        "purchaseUnitPrice": money(purchase_price),
        "updatedUnitPrice": money(updated_price),
        "grossAmount": money(gross),
        "incomeTax": money(income_tax),
        "financialTransactionTax": money(Decimal(0)),  # IOF is zero after 30 days; positions are older
        "netAmount": money(gross - income_tax),
        "blockedBalance": money(Decimal(0)),
        "referenceDateTime": iso_ms(midnight - timedelta(minutes=rng.randint(30, 600))),
    }


def _transaction(
    rng: random.Random,
    day: date,
    direction: str,
    kind: str,
    quantity: Decimal,
    unit_price: Decimal,
    gross: Decimal | None = None,
) -> dict[str, Any]:
    value = cents(quantity * unit_price) if gross is None else gross
    return {
        "transactionId": new_uuid(rng),
        "type": direction,
        "transactionType": kind,
        "transactionDate": day.isoformat(),
        "transactionUnitPrice": money(unit_price),
        "transactionQuantity": _quantity(quantity),
        "transactionGrossValue": money(value),
        "incomeTax": money(Decimal(0)),
        "financialTransactionTax": money(Decimal(0)),
        "transactionNetValue": money(value),
    }


def _grown(price: Decimal, annual: float, days: int) -> Decimal:
    return cents(price * Decimal(str((1 + annual) ** (days / 365))))


def _income_tax_rate(days_held: int) -> Decimal:
    """Brazil's regressive income-tax table for fixed income and most funds."""
    for limit, rate in ((180, "0.225"), (360, "0.20"), (720, "0.175")):
        if days_held <= limit:
            return Decimal(rate)
    return Decimal("0.15")


def _quantity(value: Decimal) -> str:
    return f"{value:.2f}"


def _newest_first(txns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(txns, key=lambda t: t["transactionDate"], reverse=True)


# productType of each family under the product's own key (mock choice: OFB's family names).
PRODUCT_TYPES = {
    "bank_fixed_incomes": "RENDA_FIXA_BANCARIA",
    "credit_fixed_incomes": "RENDA_FIXA_CREDITO",
    "variable_incomes": "RENDA_VARIAVEL",
    "treasure_titles": "TITULO_TESOURO_DIRETO",
    "funds": "FUNDO_INVESTIMENTO",
}


def summary(family: str, position: dict[str, Any]) -> dict[str, Any]:
    """What production clients read under the product's own key (report["pf_funds"]):
    `balance` is the position's gross value today, `amount` what was paid for it."""
    invested = cents(Decimal(position["quantity"]) * Decimal(position["purchaseUnitPrice"]["amount"]))
    return {
        "investmentId": position["investmentId"],
        **{key: position[key] for key in ("brandName", "bacenName", "compeCode", "companyCnpj")},
        "productName": _product_name(family, position),
        "productType": PRODUCT_TYPES[family],
        # The fund's ANBIMA category says more than its type (always FUNDO_INVESTIMENTO).
        "subProductType": position["anbimaCategory"] if family == "funds" else position["investmentType"],
        "balance": position["grossAmount"],
        "amount": money(invested),
        "quantity": position["quantity"],
        "dueDate": position.get("dueDate"),  # None: funds and listed assets have none
    }


def _product_name(family: str, position: dict[str, Any]) -> str:
    if family in ("treasure_titles", "funds"):
        return position["name"]
    if family == "variable_incomes":
        return f"{position['ticker']} - {position['issuerName']}"
    issuer = position.get("issuerName") or position["brandName"]
    return f"{position['investmentType']} {issuer}"
