"""Brazilian tax ids: CPF (people) and CNPJ (companies, numeric or alphanumeric).

Klavi sends both bare: 11 or 14 characters, no punctuation.
"""

from __future__ import annotations

import random

_CNPJ_WEIGHTS_1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_WEIGHTS_2 = (6,) + _CNPJ_WEIGHTS_1


def _check_digit(values: list[int], weights: tuple[int, ...] | range) -> int:
    remainder = sum(v * w for v, w in zip(values, weights, strict=False)) % 11
    return 0 if remainder < 2 else 11 - remainder


def is_well_formed_cpf(value: str) -> bool:
    """11 digits, whatever the check digits say."""
    return len(value) == 11 and value.isascii() and value.isdigit()


def is_well_formed_cnpj(value: str) -> bool:
    """12 characters of 0-9 or A-Z, then 2 digits, whatever the check digits say."""
    return (
        len(value) == 14
        and value.isascii()
        and value[12:].isdigit()
        and all(c.isdigit() or "A" <= c <= "Z" for c in value[:12])
    )


def is_valid_cpf(value: str) -> bool:
    """11 digits with both check digits right; the ten all-same-digit CPFs pass the
    arithmetic but are not real, so they are refused."""
    if len(value) != 11 or not value.isascii() or not value.isdigit() or len(set(value)) == 1:
        return False
    digits = [int(c) for c in value]
    return digits[9] == _check_digit(digits[:9], range(10, 1, -1)) and digits[10] == _check_digit(
        digits[:10], range(11, 1, -1)
    )


def is_valid_cnpj(value: str) -> bool:
    """14 characters: 12 of 0-9 or A-Z (alphanumeric CNPJ, RFB IN 2.229/2024), then
    two numeric check digits. Each character counts as its ASCII code minus 48."""
    if len(value) != 14 or not value.isascii() or not value[12:].isdigit() or len(set(value)) == 1:
        return False
    if not all(c.isdigit() or "A" <= c <= "Z" for c in value[:12]):
        return False
    values = [ord(c) - 48 for c in value]
    return values[12] == _check_digit(values[:12], _CNPJ_WEIGHTS_1) and values[13] == _check_digit(
        values[:13], _CNPJ_WEIGHTS_2
    )


def make_cpf(base: str) -> str:
    """Append the check digits to a 9-digit base."""
    digits = [int(c) for c in base]
    digits.append(_check_digit(digits, range(10, 1, -1)))
    digits.append(_check_digit(digits, range(11, 1, -1)))
    return "".join(map(str, digits))


def make_cnpj(base: str) -> str:
    """Append the check digits to a 12-character base (digits or A-Z)."""
    values = [ord(c) - 48 for c in base]
    dv1 = _check_digit(values, _CNPJ_WEIGHTS_1)
    dv2 = _check_digit(values + [dv1], _CNPJ_WEIGHTS_2)
    return f"{base}{dv1}{dv2}"


def random_cpf(rng: random.Random) -> str:
    while True:
        base = "".join(str(rng.randrange(10)) for _ in range(9))
        if len(set(base)) > 1:
            return make_cpf(base)


def random_cnpj(rng: random.Random) -> str:
    """A numeric head-office CNPJ (order 0001)."""
    root = "".join(str(rng.randrange(10)) for _ in range(8))
    return make_cnpj(root + "0001")


def mask_cpf(cpf: str) -> str:
    """Show a CPF the way Brazilian consent screens do: ***.982.247-**."""
    return f"***.{cpf[3:6]}.{cpf[6:9]}-**"


def mask_cnpj(cnpj: str) -> str:
    """The same way, as the CPF is: the first two characters and the check digits hidden,
    **.222.333/0001-**."""
    return f"**.{cnpj[2:5]}.{cnpj[5:8]}/{cnpj[8:12]}-**"
