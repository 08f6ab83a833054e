"""pf_credit_risk (docs.klavi.ai/link/KGqy-v11): a `creditRisk` object, not a list, over
every institution the request reaches: `personalInfo` (the customer's name and the
institutions of their checking accounts) and `labelDetails`, the risk labels
(`labelCode`, `labelName`, `labelValue`).

The labels are those the docs' example shows, each computed from the checking accounts the
same request reports (so a client can cross-check them): the balance now, and the daily
average closing balance over the last 30 to 360 days, rebuilt from each transaction's
postTransactionBalance (before the 90 days of transactions, the balance the first one
started from). The account age and the overdraft limit are seeded from (tax id,
institution). **Mock choice**: the docs show no other label, so none is made up.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from klavi_mock.domain.reports.common import rand_amount, rng_for

AVERAGE_WINDOWS = ((10, 30), (11, 60), (12, 90), (13, 120), (14, 180), (15, 360))


def credit_risk(accounts: list[dict[str, Any]], tax_id: str, today: date) -> dict[str, Any]:
    """The `creditRisk` block from the checking-account items of every institution."""
    institutions = list(dict.fromkeys(a["compeCode"] for a in accounts))
    labels: list[tuple[str, str, float | int]] = []
    if accounts:
        ages = [rng_for(tax_id, code, "credit_risk").randint(120, 4000) for code in institutions]
        limits = [
            rand_amount(rng_for(tax_id, code, "credit_risk", "overdraft"), (0, 8000), step=100) for code in institutions
        ]
        balance = sum((Decimal(a["balances"]["availableAmount"]["amount"]) for a in accounts), Decimal(0))
        labels.append(("F000007", "Longest checking account age", max(ages)))
        labels.append(("F000009", "Checking account balance", _number(balance)))
        daily = [_closing_balances(a, today, 360) for a in accounts]
        for index, days in AVERAGE_WINDOWS:
            total = sum((sum(balances[:days], Decimal(0)) for balances in daily), Decimal(0))
            labels.append(
                (f"F0000{index}", f"Checking account daily average balance last {days} days", _number(total / days))
            )
        labels.append(("F000016", "Highest overdraft limit", _number(max(limits))))
    first = accounts[0] if accounts else {}
    seen: set[str] = set()
    personal_accounts = []
    for account in accounts:
        if account["compeCode"] not in seen:
            seen.add(account["compeCode"])
            personal_accounts.append({k: account[k] for k in ("brandName", "bacenName", "compeCode")})
    return {
        "personalInfo": {"accounts": personal_accounts, "civilName": first.get("civilName", "")},
        "labelDetails": [{"labelCode": c, "labelName": n, "labelValue": v} for c, n, v in labels],
    }


def _closing_balances(account: dict[str, Any], today: date, days: int) -> list[Decimal]:
    """The account's closing balance on each of the `days` days before today, newest first."""
    txns = sorted(account.get("transactionDetails", []), key=lambda t: t["transactionDateTime"])
    current = Decimal(account["balances"]["availableAmount"]["amount"])
    if txns:
        first = txns[0]
        amount = Decimal(first["transactionAmount"]["amount"])
        signed = amount if first["creditDebitType"] == "CREDITO" else -amount
        opening = Decimal(first["postTransactionBalance"]) - signed
    else:
        opening = current
    closing_by_day: dict[str, Decimal] = {}
    for txn in txns:
        closing_by_day[txn["transactionDate"]] = Decimal(txn["postTransactionBalance"])
    balances = []
    running = opening
    start = today - timedelta(days=days)
    for offset in range(days):
        day = (start + timedelta(days=offset)).isoformat()
        running = closing_by_day.get(day, running)
        balances.append(running)
    return list(reversed(balances))


def _number(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))
