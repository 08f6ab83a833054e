"""Encrypted sensitive fields (Klavi's "CPF encoded" reports), and how a partner decrypts them.

Klavi: sensitive fields are sent in plaintext or AES-256 encrypted, chosen per partner, keyed
with its secretKey (docs.klavi.ai/connect/security); its Python example imports
`Crypto.Cipher.AES` with `pad`/`unpad`. The mode, IV and padding are not published. The
docs' example `enquiryCpf` has a shape, though: 92 characters of URL-safe base64 (`-`, `_`,
no `=`), i.e. 69 bytes, for an 11-digit CPF. 69 is no whole number of AES blocks; it is
5 + 16 + 16 + 32, and its bytes 1-4 read as a 2019 unix time. So the mock's choice, the
Fernet layout with a 4-byte time and AES-256 (written in docs/reference/encrypted-fields.md):

    version (1 byte, 0x72) | time (4 bytes, unix seconds, big-endian) | IV (16)
      | AES-256-CBC ciphertext, PKCS#7 padded (16 for a CPF or a CNPJ)
      | HMAC-SHA256 of everything before it (32)

- the AES key: SHA-256 of the secretKey (UTF-8); the HMAC key: SHA-256 of "mac:" + secretKey;
- the IV: the first 16 bytes of HMAC-SHA256(AES key, time | plaintext), so a report is the
  same each time it is built (the mock's reports are deterministic);
- the whole in URL-safe base64 without `=`: 92 characters for a CPF, as the docs' example.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from datetime import datetime

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
VERSION = 0x72  # the docs' example's first byte: every token starts with "c", as it does
_HEADER = struct.Struct(">BI")  # version, unix seconds
_TAG = 32


def _keys(secret_key: str) -> tuple[bytes, bytes]:
    secret = secret_key.encode("utf-8")
    return hashlib.sha256(secret).digest(), hashlib.sha256(b"mac:" + secret).digest()


def encrypt_field(plaintext: str, secret_key: str, at: datetime) -> str:
    """`at`: when the report was made (its time in the token)."""
    aes_key, mac_key = _keys(secret_key)
    data = plaintext.encode("utf-8")
    header = _HEADER.pack(VERSION, int(at.timestamp()) & 0xFFFFFFFF)
    iv = hmac.new(aes_key, header[1:] + data, hashlib.sha256).digest()[:BLOCK]
    padder = padding.PKCS7(BLOCK * 8).padder()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()
    signed = header + iv + ciphertext
    token = signed + hmac.new(mac_key, signed, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(token).rstrip(b"=").decode("ascii")


def decrypt_field(token: str, secret_key: str) -> str:
    """What a partner runs on an encrypted `enquiryCpf` (ValueError: not one, or not for this
    secretKey)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not URL-safe base64") from exc
    body = len(raw) - _HEADER.size - BLOCK - _TAG
    if body < BLOCK or body % BLOCK or raw[0] != VERSION:
        raise ValueError("not an encrypted field: wrong length or version byte")
    aes_key, mac_key = _keys(secret_key)
    signed, tag = raw[:-_TAG], raw[-_TAG:]
    if not hmac.compare_digest(hmac.new(mac_key, signed, hashlib.sha256).digest(), tag):
        raise ValueError("the HMAC does not match: another secretKey, or a changed token")
    iv = signed[_HEADER.size : _HEADER.size + BLOCK]
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(signed[_HEADER.size + BLOCK :]) + decryptor.finalize()
    unpadder = padding.PKCS7(BLOCK * 8).unpadder()
    return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")


ENCODED_VERSION = "V1.1"


def encrypt_report(report: dict, secret_key: str, at: datetime) -> dict:
    """The "CPF encoded" variant: enquiryCpf (and enquiryCnpj) encrypted, no partieCnpjCpf,
    and productVersion V1.1 (Klavi's product pages pair "CPF encoded" with V1.1, "Plain CPF"
    with V1)."""
    report["productVersion"] = ENCODED_VERSION
    for field in ("enquiryCpf", "enquiryCnpj"):
        if report.get(field):
            report[field] = encrypt_field(report[field], secret_key, at)
    _drop(report, "partieCnpjCpf")
    return report


def _drop(node, name: str) -> None:
    if isinstance(node, dict):
        node.pop(name, None)
        for value in node.values():
            _drop(value, name)
    elif isinstance(node, list):
        for value in node:
            _drop(value, name)
