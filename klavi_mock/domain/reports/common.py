"""Small shared pieces of the report generator: seeding, money, dates, ids, the context.

Everything random goes through a `random.Random` seeded from a hash of what the data is
about (tax id, institution, product family), never the global generator, so a report is a
pure function of its inputs.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import random
import string
import struct
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from klavi_mock.domain.reports.seed import load_seed
from klavi_mock.domain.taxid import make_cnpj

# Transactions cover the 90 days before the report: [today - 89, today - 1]. Stopping at
# yesterday keeps every timestamp in the past whatever the time of day, so the data depends
# on now's date only.
WINDOW_DAYS = 90

FOUR_PLACES = Decimal("0.0001")
CENTS = Decimal("0.01")
_ID_ALPHABET = string.ascii_letters + string.digits


def rng_for(*parts: str) -> random.Random:
    digest = hashlib.sha256("|".join(parts).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


# --- money -----------------------------------------------------------------------------


def amount_str(value: Decimal) -> str:
    """Klavi writes amounts as strings with 4 decimals: "1234.5600"."""
    return str(value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP))


def money(value: Decimal, currency: str = "BRL") -> dict[str, str]:
    return {"amount": amount_str(value), "currency": currency}


def rand_amount(rng: random.Random, bounds: Sequence[float], step: int = 0) -> Decimal:
    """A value in reais between bounds, to the cent (or to a multiple of `step` reais)."""
    lo, hi = round(bounds[0] * 100), round(bounds[1] * 100)
    value = Decimal(rng.randint(lo, hi)) / 100
    if step:
        value = max(Decimal(step), (value / step).quantize(Decimal(1)) * step)
    return value


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENTS, rounding=ROUND_HALF_UP)


def rate_str(value: float, places: int = 6) -> str:
    """OFB rates are decimal fractions with 6 places: 0.029000 for 2.9%."""
    return f"{value:.{places}f}"


# --- dates -----------------------------------------------------------------------------


def window(today: date) -> tuple[date, date]:
    """First and last day on which report transactions may fall."""
    return today - timedelta(days=WINDOW_DAYS - 1), today - timedelta(days=1)


def add_months(day: date, months: int, day_of_month: int | None = None) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day_of_month or day.day, last))


def random_day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def moment(rng: random.Random, day: date, earliest: int = 6, latest: int = 22) -> str:
    """A time on `day` between the given hours, with milliseconds, in UTC, as iso_ms writes
    it: 2016-01-29T12:29:03.374Z (formatted here: a datetime for each movement costs more)."""
    hour, minute, second, millisecond = (
        rng.randint(earliest, latest),
        rng.randrange(60),
        rng.randrange(60),
        rng.randrange(1000),
    )
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}:{second:02d}.{millisecond:03d}Z"


def iso_ms(moment_: datetime) -> str:
    """2016-01-29T12:29:03.374Z, as OFB and Klavi write transaction times."""
    utc = moment_.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


# --- ids and text ----------------------------------------------------------------------


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def transaction_id(rng: random.Random) -> str:
    """Opaque, base64-looking, like Klavi's example TXpRMU9UQTROMWhZV2xSU1FUazJSMDl."""
    return _draw(rng, _ID_ALPHABET, 32)


def digits(rng: random.Random, count: int) -> str:
    return _draw(rng, "0123456789", count)


def _draw(rng: random.Random, alphabet: str, count: int) -> str:
    """`count` of `rng.choice(alphabet)`, the very same draws, without choice's Python calls
    per character (these ids are most of a report's building time). CPython's choice takes
    getrandbits(the length's bit length) again while out of range; getrandbits(k <= 32) is
    the top k bits of one 32-bit word of the generator, and getrandbits(32 * n) is n such
    words, the first the least significant. So the words come n at a time, n being what the
    draws still need: never more, which would leave the generator past where choice does."""
    size = len(alphabet)
    shift = 32 - size.bit_length()
    drawn: list[str] = []
    needed = count
    while needed:
        words = struct.unpack(f"<{needed}I", rng.getrandbits(32 * needed).to_bytes(4 * needed, "little"))
        drawn += [alphabet[word >> shift] for word in words if word >> shift < size]
        needed = count - len(drawn)
    return "".join(drawn)


@functools.lru_cache(maxsize=4096)  # the same payees' names, movement after movement
def statement_text(name: str) -> str:
    """Bank statements print names upper-case and without accents."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return " ".join(plain.upper().split())


def cnpj_for_name(name: str) -> str:
    """The same company always gets the same (valid, fictitious) head-office CNPJ."""
    root = str(int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16))[:8].rjust(8, "1")
    return make_cnpj(root + "0001")


def isin(prefix: str, rng: random.Random) -> str:
    """A 12-character ISIN (BR + 9 characters + Luhn check digit) starting with `prefix`."""
    body = prefix + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(11 - len(prefix)))
    return body + isin_check_digit(body)


def isin_check_digit(body: str) -> str:
    expanded = "".join(str(int(c, 36)) for c in body)
    total = 0
    for index, char in enumerate(reversed(expanded)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value // 10 + value % 10
    return str((10 - total % 10) % 10)


# --- the institution and the context of one generation -----------------------------------


@dataclass(frozen=True)
class Institution:
    code: str  # COMPE code, e.g. "341"
    name: str  # the name the link carries: brandName
    legal_name: str  # the name registered at the Central Bank: bacenName
    cnpj: str  # the institution's CNPJ: companyCnpj


def institution(code: str, name: str) -> Institution:
    """Known COMPE codes get their real legal name and CNPJ; others a stable made-up CNPJ."""
    known = load_seed()["institutions"].get(code)
    if known:
        return Institution(code, name or known["name"], known["name"], known["cnpj"])
    return Institution(code, name or code, name or code, cnpj_for_name(f"institution {code}"))


@dataclass(frozen=True)
class Context:
    """What one product family's data depends on."""

    person: str  # "pf" or "pj"
    tax_id: str
    institution: Institution
    today: date
    level: int = 0  # 0 raw, 2 or 3 categorized

    def rng(self, family: str) -> random.Random:
        return rng_for(self.tax_id, self.institution.code, family)

    def seed(self) -> dict[str, Any]:
        return load_seed()

    def institution_header(self) -> dict[str, str]:
        """The fields every account, card, contract and investment starts with."""
        return {
            "brandName": self.institution.name,
            "bacenName": self.institution.legal_name,
            "compeCode": self.institution.code,
            "companyCnpj": self.institution.cnpj,
        }
