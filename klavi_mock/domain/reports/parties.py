"""Who the data is about (the holder) and who is on the other side of a transaction."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from klavi_mock.domain.reports.common import Context, cnpj_for_name, digits, rng_for, statement_text
from klavi_mock.domain.reports.seed import load_seed
from klavi_mock.domain.taxid import random_cpf


@dataclass(frozen=True)
class Party:
    """A counterparty with a bank account, as the OFB `partie*` fields describe it."""

    name: str
    tax_id: str
    compe_code: str
    branch_code: str
    number: str
    check_digit: str

    @property
    def person_type(self) -> str:
        return "PESSOA_NATURAL" if len(self.tax_id) == 11 else "PESSOA_JURIDICA"

    def partie_fields(self) -> dict[str, str]:
        return {
            "partieCnpjCpf": self.tax_id,
            "partiePersonType": self.person_type,
            "partieCompeCode": self.compe_code,
            "partieBranchCode": self.branch_code,
            "partieNumber": self.number,
            "partieCheckDigit": self.check_digit,
        }


def person_name(rng: random.Random) -> str:
    seed = load_seed()
    first = rng.choice(seed["first_names"])
    last = rng.sample(seed["surnames"], 2)
    return f"{first} {last[0]} {last[1]}"


def holder_fields(person: str, tax_id: str) -> dict[str, str]:
    """The account owner: civilName, for a business its legal name (pj_ reports have the pf_
    keys, so one parser reads both), plus companyName/tradeName.

    Seeded from the tax id alone, so the same customer has the same name at every bank.
    """
    return dict(_holder_fields(person, tax_id))  # a copy: the cached one stays as it was


# Pure functions of their arguments, asked for again and again while one report is built
# (every account, every movement with a company): cached, as they cost a hash and a seeding.
@functools.lru_cache(maxsize=1024)
def _holder_fields(person: str, tax_id: str) -> tuple[tuple[str, str], ...]:
    rng = rng_for(tax_id, "holder")
    if person == "pf":
        return (("civilName", person_name(rng)),)
    company = rng.choice(load_seed()["companies"])
    return (("civilName", company["name"]), ("companyName", company["name"]), ("tradeName", company["trade_name"]))


def holder_name(person: str, tax_id: str) -> str:
    """The name statements print: a person's civil name, a company's trade name."""
    fields = holder_fields(person, tax_id)
    return fields.get("tradeName") or fields["civilName"]


def _bank_account(rng: random.Random, compe_code: str | None = None) -> tuple[str, str, str, str]:
    code = compe_code or rng.choice(_institution_codes())
    return code, digits(rng, 4), digits(rng, rng.randint(8, 12)), digits(rng, 1)


@functools.cache
def _institution_codes() -> tuple[str, ...]:
    return tuple(sorted(load_seed()["institutions"]))


def random_person(rng: random.Random) -> Party:
    name = person_name(rng)
    return Party(name, random_cpf(rng), *_bank_account(rng))


@functools.lru_cache(maxsize=1024)  # the seed's company names: a few hundred
def company(name: str) -> Party:
    """Companies keep one CNPJ and one bank account across every report."""
    return Party(name, cnpj_for_name(name), *_bank_account(rng_for("company", name)))


def holder_party(ctx: Context, rng: random.Random) -> Party:
    """The holder's own account at the same institution (transfers between own accounts)."""
    return Party(holder_name(ctx.person, ctx.tax_id), ctx.tax_id, *_bank_account(rng, ctx.institution.code))


def institution_party(ctx: Context, rng: random.Random) -> Party:
    """The bank itself, e.g. as the payee of its own card bill."""
    return Party(ctx.institution.legal_name, ctx.institution.cnpj, *_bank_account(rng, ctx.institution.code))


def display_name(party: Party) -> str:
    return statement_text(party.name)
