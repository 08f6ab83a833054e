"""Building a whole report webhook body: Klavi's common envelope (klavi-api.md §5.2) around
one product's data.

    build_report("pf_checking_account", request_id="r1", tax_id="52998224725", now=clock.now(),
                 links=[ReportLink("link-1", "341", "Itaú", [ReportConsent("c-1", ["ACCOUNTS_ALL"])])],
                 external_info={"myTraceId": "t-1"})

Data comes only from consents that granted the product's permission, one set per
institution. Same inputs, same report: the data is seeded from (tax id, institution,
product family) and dated from `now`'s date; even productReportId derives from
(request id, product).
"""

from __future__ import annotations

import copy
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from klavi_mock.domain.reports import accounts, cards, credit, credit_risk, investments
from klavi_mock.domain.reports.catalog import PERMISSIONS, PRODUCTS, Product
from klavi_mock.domain.reports.common import Context, institution

# The namespace of productReportIds: uuid5(namespace, "<requestId>:<productName>").
_REPORT_ID_NAMESPACE = uuid.UUID("6f1b7f36-94a4-4c1e-9a6e-2f0f4d1c7a31")

Builder = Callable[[Context], list[dict[str, Any]]]

_BUILDERS: dict[str, Builder] = {
    "checking_account": accounts.checking_accounts,
    "savings_account": accounts.savings_accounts,
    "balance": accounts.balances,
    "credit_card": cards.credit_cards,
    "loans": credit.loans,
    "financing": credit.financings,
    "unarranged_account_overdraft": credit.unarranged_account_overdrafts,
    "invoice_financing": credit.invoice_financings,
    "bank_fixed_incomes": investments.bank_fixed_incomes,
    "credit_fixed_incomes": investments.credit_fixed_incomes,
    "variable_incomes": investments.variable_incomes,
    "treasure_titles": investments.treasure_titles,
    "funds": investments.funds,
    "credit_risk": accounts.checking_accounts,  # what its labels are computed from
}


# Credit and investment reports also carry their items under a key named after the product
# (report["pj_loans"], report["pf_funds"]), in the fields production clients read there.
_SUMMARIES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    **{
        family: credit.summary for family in ("loans", "financing", "unarranged_account_overdraft", "invoice_financing")
    },
    **{family: functools.partial(investments.summary, family) for family in investments.PRODUCT_TYPES},
}


@dataclass(frozen=True)
class ReportConsent:
    consent_id: str
    permissions_granted: list[str] = field(default_factory=list)  # Klavi names: ACCOUNTS_ALL, ...


@dataclass(frozen=True)
class ReportLink:
    link_id: str
    institution_code: str  # COMPE code, e.g. "341"
    institution_name: str  # e.g. "Itaú": the accounts' brandName
    consents: list[ReportConsent] = field(default_factory=list)
    connection_key: str = ""  # an Open Data connection's: a later link's connectionKey updates it
    open_data_code: int = 200  # the Open Data code its connection succeeded with (202: partial transactions)


def build_report(
    product_name: str,
    *,
    request_id: str,
    tax_id: str,
    now: datetime,
    links: list[ReportLink],
    external_info: dict | None,
    code: int = 200,
    message: str = "ok",
    representative_tax_id: str = "",
) -> dict:
    """The body of one product webhook. A `code` of 5000 or more is a failed report: its
    data keys are empty lists. Otherwise `code` is echoed whatever the data (the caller
    decides when to say 204). `representative_tax_id`: for a pj_ report, the CPF its
    company consent named, if any (enquiryCpf)."""
    product = PRODUCTS.get(product_name)
    if product is None:
        raise ValueError(f"unknown product {product_name!r}")
    moment = _utc(now)
    data = {} if code >= 5000 else _data_by_institution(product, tax_id, moment, links)
    items = [item for items in data.values() for item in items]
    body = {
        "code": code,
        "message": message,
        "requestId": request_id,
        "productName": product.name,
        "productVersion": product.version,
        "productReportId": report_id(request_id, product.name),
        "productReportTime": moment.strftime("%Y-%m-%dT%H:%M:%S"),
        # Klavi documents enquiryCpf; a pj_ report has it too (the representative's CPF, or
        # ""), so a pf_ parser reads it, and the company's CNPJ as enquiryCnpj.
        "enquiryCpf": tax_id if product.person == "pf" else representative_tax_id,
        **({"enquiryCnpj": tax_id} if product.person == "pj" else {}),
        "links": [_link(link, product, data) for link in links],
        product.data_key: items,
    }
    if product.family == "credit_risk":  # one object over every institution, not a list
        body[product.data_key] = credit_risk.credit_risk(items, tax_id, moment.date())
    if product.family in _SUMMARIES:
        body[product.name] = [_SUMMARIES[product.family](item) for item in items]
    body["externalInfo"] = copy.deepcopy(external_info) if external_info else {}
    return body


def report_id(request_id: str, product_name: str) -> str:
    return str(uuid.uuid5(_REPORT_ID_NAMESPACE, f"{request_id}:{product_name}"))


def _data_by_institution(
    product: Product, tax_id: str, moment: datetime, links: list[ReportLink]
) -> dict[str, list[dict[str, Any]]]:
    """Each institution reached through a consent granting the product's permission, once."""
    data: dict[str, list[dict[str, Any]]] = {}
    for link in links:
        if link.institution_code in data or not _grants(link, product.permission):
            continue
        ctx = Context(
            product.person,
            tax_id,
            institution(link.institution_code, link.institution_name),
            moment.date(),
            product.categorized,
        )
        data[link.institution_code] = _BUILDERS[product.family](ctx)
    return data


def _grants(link: ReportLink, permission: str) -> bool:
    return any(permission in consent.permissions_granted for consent in link.consents)


def _link(link: ReportLink, product: Product, data: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    ids = [item[product.id_field] for item in data.get(link.institution_code, [])]
    return {
        "linkId": link.link_id,
        "institutionCode": link.institution_code,
        "consents": [
            {
                "consentId": consent.consent_id,
                "permissions": {
                    perm: {
                        "permissionsGranted": perm in consent.permissions_granted,
                        "accountIds": list(ids)
                        if perm == product.permission and perm in consent.permissions_granted
                        else [],
                    }
                    for perm in PERMISSIONS
                },
            }
            for consent in link.consents
        ],
        **({"connectionKey": link.connection_key} if link.connection_key else {}),
    }


def _utc(moment: datetime) -> datetime:
    """A naive `now` is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
