"""Credit operations: loans, financings, unarranged overdraft and invoice financing.

Klavi doesn't publish these reports, so each contract mirrors OFB Loans 2.x (domain.md §2.3):
the contract, its interest rates, fees, finance charges, warranties, scheduled instalments
and payments folded into one object. Amounts are Klavi money objects (not OFB's amount +
currency pairs), rates OFB decimal fractions with 6 places.

Contracts were signed in the past and end in the future; the payments listed (`releases`)
fall in the report's 90-day window.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from klavi_mock.domain.reports.common import (
    Context,
    add_months,
    cents,
    digits,
    money,
    new_uuid,
    rand_amount,
    rate_str,
    window,
)

Spec = dict[str, Any]


@dataclass(frozen=True)
class Schedule:
    """The contract's time line and money."""

    contract_date: date
    due_date: date
    total: int  # number of instalments (0: paid in one go at due_date)
    paid: int  # instalments paid so far
    principal: Decimal
    monthly_rate: float
    amortization: str

    def instalment_date(self, number: int) -> date:
        return add_months(self.contract_date, number)

    def instalment(self, number: int) -> Decimal:
        """What instalment `number` (1-based) costs, under PRICE or SAC."""
        i = Decimal(str(self.monthly_rate))
        if self.amortization == "SAC":
            amortization = self.principal / self.total
            return cents(amortization + i * (self.principal - amortization * (number - 1)))
        return cents(self.principal * i / (1 - (1 + i) ** -self.total))

    def outstanding(self, today: date) -> Decimal:
        i = Decimal(str(self.monthly_rate))
        if self.total == 0:  # a bullet: principal plus interest accrued so far
            return cents(self.principal * (1 + i) ** (Decimal((today - self.contract_date).days) / 30))
        if self.amortization == "SAC":
            return cents(self.principal * (self.total - self.paid) / self.total)
        grown = (1 + i) ** self.paid
        return cents(self.principal * grown - self.instalment(1) * (grown - 1) / i)

    def next_amount(self, today: date) -> Decimal:
        if self.total == 0:
            months = Decimal((self.due_date - self.contract_date).days) / 30
            return cents(self.principal * (1 + Decimal(str(self.monthly_rate))) ** months)
        return self.instalment(self.paid + 1)


def loans(ctx: Context) -> list[dict[str, Any]]:
    return contracts(ctx, "loans")


def financings(ctx: Context) -> list[dict[str, Any]]:
    return contracts(ctx, "financing")


def unarranged_account_overdrafts(ctx: Context) -> list[dict[str, Any]]:
    return contracts(ctx, "unarranged_account_overdraft")


def invoice_financings(ctx: Context) -> list[dict[str, Any]]:
    return contracts(ctx, "invoice_financing")


def contracts(ctx: Context, family: str) -> list[dict[str, Any]]:
    rng = ctx.rng(family)
    family_spec = ctx.seed()["credit_operations"][family]
    count = rng.randint(*family_spec["count"])
    return [_contract(ctx, rng, family_spec, rng.choice(family_spec["subtypes"][ctx.person])) for _ in range(count)]


def _contract(ctx: Context, rng: random.Random, family: Spec, spec: Spec) -> dict[str, Any]:
    schedule = _schedule(rng, ctx.today, spec)
    number = digits(rng, 14)
    periodicity = spec.get("periodicity", "MENSAL")
    return {
        "contractId": new_uuid(rng),
        **ctx.institution_header(),
        "productType": family["productType"],
        "productSubType": spec["subtype"],
        "productName": spec["name"],
        "contractNumber": number,
        "ipocCode": f"{ctx.institution.cnpj[:8]}{family['modality']}{rng.randint(1, 99):02d}{number}",
        "contractDate": schedule.contract_date.isoformat(),
        "disbursementDates": [schedule.contract_date.isoformat()],
        "settlementDate": schedule.contract_date.isoformat(),
        "contractAmount": money(schedule.principal),
        "dueDate": schedule.due_date.isoformat(),
        "instalmentPeriodicity": periodicity,
        "firstInstalmentDueDate": (schedule.instalment_date(1) if schedule.total else schedule.due_date).isoformat(),
        "CET": rate_str(_cet(rng, schedule.monthly_rate)),
        "amortizationScheduled": spec["amortization"],
        "interestRates": [_interest_rate(schedule.monthly_rate)],
        "contractedFees": _fees(ctx, rng),
        "contractedFinanceCharges": [
            {"chargeType": c["type"], "chargeRate": rate_str(c["rate"])}
            for c in ctx.seed()["credit_operations"]["finance_charges"]
        ],
        "nextInstalmentAmount": money(schedule.next_amount(ctx.today)),
        "hasInsuranceContracted": rng.random() < 0.3,
        "warranties": _warranties(spec, schedule.principal),
        "scheduledInstalments": _scheduled_instalments(schedule),
        "payments": _payments(rng, ctx.today, schedule),
    }


def _schedule(rng: random.Random, today: date, spec: Spec) -> Schedule:
    principal = rand_amount(rng, spec["amount"], step=10)
    monthly_rate = round(rng.uniform(*spec["monthly_rate"]), 4)
    months = rng.randint(*spec["months"])
    if spec.get("periodicity") == "SEM_PERIODICIDADE_REGULAR":
        # Short operations (overdraft, discounted receivables): taken days ago, due later.
        signed = today - timedelta(days=rng.randint(3, 25))
        return Schedule(
            signed,
            add_months(signed, months) + timedelta(days=rng.randint(1, 20)),
            0,
            0,
            principal,
            monthly_rate,
            spec["amortization"],
        )
    paid = rng.randint(1, min(months - 1, 96))  # long mortgages: signed at most 8 years ago
    # Instalment `paid` fell due before today, instalment `paid + 1` falls due after it.
    signed = add_months(today, -paid) - timedelta(days=rng.randint(1, 27))
    return Schedule(signed, add_months(signed, months), months, paid, principal, monthly_rate, spec["amortization"])


def _cet(rng: random.Random, monthly_rate: float) -> float:
    """Total effective cost per year: the compounded rate plus fees, insurance and IOF."""
    return (1 + monthly_rate) ** 12 - 1 + rng.uniform(0.01, 0.04)


def _interest_rate(monthly_rate: float) -> dict[str, str]:
    return {
        "taxType": "EFETIVA",
        "interestRateType": "COMPOSTO",
        "taxPeriodicity": "AM",
        "calculation": "30/360",
        "referentialRateIndexerType": "PRE_FIXADO",
        "referentialRateIndexerSubType": "PRE_FIXADO",
        "preFixedRate": rate_str(monthly_rate),
        "postFixedRate": rate_str(0),
    }


def _fees(ctx: Context, rng: random.Random) -> list[dict[str, Any]]:
    fees = []
    for fee in ctx.seed()["credit_operations"]["fees"]:
        amount = rand_amount(rng, fee["amount"][ctx.person], step=5)
        if amount > 5:
            fees.append(
                {
                    "feeName": fee["name"],
                    "feeCode": fee["code"],
                    "feeChargeType": "UNICA",
                    "feeCharge": "FIXO",
                    "feeAmount": money(amount),
                    "feeRate": rate_str(0),
                }
            )
    return fees


def _warranties(spec: Spec, principal: Decimal) -> list[dict[str, Any]]:
    warranty = spec.get("warranty")
    if not warranty:
        return []
    return [
        {
            "warrantyType": warranty["type"],
            "warrantySubType": warranty["subtype"],
            "warrantyAmount": money(cents(principal * Decimal("1.3"))),
        }
    ]


def _scheduled_instalments(schedule: Schedule) -> dict[str, Any]:
    if schedule.total == 0:
        return {
            "typeNumberOfInstalments": "SEM_PRAZO_TOTAL",
            "totalNumberOfInstalments": 0,
            "typeContractRemaining": "SEM_PRAZO_REMANESCENTE",
            "contractRemainingNumber": 0,
            "paidInstalments": 0,
            "dueInstalments": 1,
            "pastDueInstalments": 0,
            "balloonPayments": [],
        }
    remaining = schedule.total - schedule.paid
    return {
        "typeNumberOfInstalments": "MES",
        "totalNumberOfInstalments": schedule.total,
        "typeContractRemaining": "MES",
        "contractRemainingNumber": remaining,
        "paidInstalments": schedule.paid,
        "dueInstalments": remaining,
        "pastDueInstalments": 0,
        "balloonPayments": [],
    }


def _payments(rng: random.Random, today: date, schedule: Schedule) -> dict[str, Any]:
    first, last = window(today)
    releases = []
    for number in range(1, schedule.paid + 1):
        paid_on = schedule.instalment_date(number)
        if first <= paid_on <= last:
            releases.append(
                {
                    "paymentId": new_uuid(rng),
                    "isOverParcelPayment": False,
                    "instalmentId": str(number),
                    "paidDate": paid_on.isoformat(),
                    "paidAmount": money(schedule.instalment(number)),
                }
            )
    return {
        "paidInstalments": schedule.paid,
        "contractOutstandingBalance": money(schedule.outstanding(today)),
        "releases": list(reversed(releases)),
    }


def summary(contract: dict[str, Any]) -> dict[str, Any]:
    """What production clients read under the product's own key (report["pj_loans"]): the
    contract's identity and what is still owed, as `outstandingBalance` and as
    `balances.outstandingBalance` (clients read either)."""
    outstanding = contract["payments"]["contractOutstandingBalance"]
    return {
        "contractId": contract["contractId"],
        **{key: contract[key] for key in ("brandName", "bacenName", "compeCode", "companyCnpj")},
        **{
            key: contract[key]
            for key in (
                "productName",
                "productType",
                "productSubType",
                "contractNumber",
                "contractDate",
                "dueDate",
                "contractAmount",
                "nextInstalmentAmount",
            )
        },
        "outstandingBalance": outstanding,
        "balances": {"outstandingBalance": outstanding},
    }
