"""The report product catalogue: 19 product kinds for people (pf_) and the same 19 for
businesses (pj_), and pf_credit_risk (people only, as documented): 39 products.

Klavi's docs say products have a level (institution or user) but not which is which, and
production clients ask for categorized pj_ products at institution level. So every product
is accepted at both levels; each has a home level only for what `["all"]` means at an
endpoint (mock choice): the raw products (checking_account .. funds) at institution level,
the six categorized_* products at user level.
"""

from __future__ import annotations

from dataclasses import dataclass

# Klavi's "eco" products, the only ones 4008 (no Open Finance consent available) and 4009
# (KYC needed) apply to. The docs don't list them (mock choice): the products outside the
# Statement family, i.e. Credit Risk's pf_credit_risk.
ECO_PRODUCTS = frozenset({"pf_credit_risk"})

PERSONS = ("pf", "pj")
LEVELS = ("institution", "user")
PERMISSIONS = ("REGISTRATION_ALL", "ACCOUNTS_ALL", "CREDIT_CARDS_ALL", "CREDIT_OPERATIONS_ALL", "INVESTMENTS_ALL")


@dataclass(frozen=True)
class Product:
    name: str  # e.g. "pf_checking_account"
    person: str  # "pf" (CPF) or "pj" (CNPJ)
    suffix: str  # the name without the person prefix
    family: str  # the raw product whose data it reports: "checking_account" for categorized_checking_l3
    level: str  # "institution" or "user": its home level, what ["all"] at that level includes
    data_key: str  # where the data goes in the report body: "checkingAccounts"
    version: str  # productVersion
    permission: str  # the Klavi consent permission that must be granted
    categorized: int  # 0 for raw data, 2 or 3 for the categorized levels
    id_field: str  # the id of each reported item, listed in links[].consents[].permissions

    @property
    def schema_name(self) -> str:
        """Its report schema in openapi/klavi.yaml: PfCheckingAccountReport."""
        return "".join(part.capitalize() for part in self.name.split("_")) + "Report"


# suffix: (data key, version, permission, id field). The version is the "Plain CPF" one:
# Klavi's product pages pair "Plain CPF" with V1 and "CPF encoded" with V1.1, so every
# product is V1 here and the CPF-encoded variant says V1.1 (encryption.encrypt_report).
_RAW = {
    "checking_account": ("checkingAccounts", "V1", "ACCOUNTS_ALL", "accountId"),
    "savings_account": ("savingsAccounts", "V1", "ACCOUNTS_ALL", "accountId"),
    "credit_card": ("creditCards", "V1", "CREDIT_CARDS_ALL", "creditCardAccountId"),
    "balance": ("balances", "V1", "ACCOUNTS_ALL", "accountId"),
    "loans": ("loans", "V1", "CREDIT_OPERATIONS_ALL", "contractId"),
    "financing": ("financings", "V1", "CREDIT_OPERATIONS_ALL", "contractId"),
    "unarranged_account_overdraft": ("unarrangedAccountOverdrafts", "V1", "CREDIT_OPERATIONS_ALL", "contractId"),
    "invoice_financing": ("invoiceFinancings", "V1", "CREDIT_OPERATIONS_ALL", "contractId"),
    "bank_fixed_incomes": ("bankFixedIncomes", "V1", "INVESTMENTS_ALL", "investmentId"),
    "credit_fixed_incomes": ("creditFixedIncomes", "V1", "INVESTMENTS_ALL", "investmentId"),
    "variable_incomes": ("variableIncomes", "V1", "INVESTMENTS_ALL", "investmentId"),
    "treasure_titles": ("treasureTitles", "V1", "INVESTMENTS_ALL", "investmentId"),
    "funds": ("funds", "V1", "INVESTMENTS_ALL", "investmentId"),
}

# categorized suffix: (base product, level of categorization, version)
_CATEGORIZED = {
    "categorized_checking_l2": ("checking_account", 2, "V1"),
    "categorized_savings_l2": ("savings_account", 2, "V1"),
    "categorized_creditcard_l2": ("credit_card", 2, "V1"),
    "categorized_checking_l3": ("checking_account", 3, "V1"),
    "categorized_savings_l3": ("savings_account", 3, "V1"),
    "categorized_creditcard_l3": ("credit_card", 3, "V1"),
}


# Documented for people only (docs.klavi.ai/link/KGqy-v11): one `creditRisk` object over
# every institution, computed from the checking accounts (their ids go in links[]).
_PERSONAL_ONLY = {"credit_risk": ("creditRisk", "V1", "ACCOUNTS_ALL", "accountId")}


def _build() -> dict[str, Product]:
    products: dict[str, Product] = {}
    for person in PERSONS:
        for suffix, (key, version, permission, id_field) in _RAW.items():
            products[f"{person}_{suffix}"] = Product(
                f"{person}_{suffix}", person, suffix, suffix, "institution", key, version, permission, 0, id_field
            )
        for suffix, (base, level, version) in _CATEGORIZED.items():
            key, _, permission, id_field = _RAW[base]
            products[f"{person}_{suffix}"] = Product(
                f"{person}_{suffix}", person, suffix, base, "user", key, version, permission, level, id_field
            )
    for suffix, (key, version, permission, id_field) in _PERSONAL_ONLY.items():
        products[f"pf_{suffix}"] = Product(
            f"pf_{suffix}", "pf", suffix, suffix, "user", key, version, permission, 0, id_field
        )
    return products


PRODUCTS: dict[str, Product] = _build()


def products_for(person: str, level: str) -> list[str]:
    """The products `["all"]` means at a report endpoint, e.g. ("pf", "institution")."""
    if person not in PERSONS or level not in LEVELS:
        raise ValueError(f"person must be one of {PERSONS} and level one of {LEVELS}")
    return [p.name for p in PRODUCTS.values() if p.person == person and p.level == level]
