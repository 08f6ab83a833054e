"""Encrypted sensitive fields (Klavi's "CPF encoded" reports), and how a partner decrypts them.

Klavi: sensitive fields are sent in plaintext or AES-256 encrypted, chosen per partner, keyed
with its secretKey (docs.klavi.ai/connect/security). The mode, IV and padding are not
published, so this is the mock's choice, written in docs/reference/encrypted-fields.md:

- key: SHA-256 of the secretKey (UTF-8): AES-256 needs 32 bytes, a secretKey is any length;
- AES-256-CBC with PKCS#7 padding (the docs' example imports `pad`/`unpad`);
- IV: the first 16 bytes of HMAC-SHA256(key, plaintext), so a report is the same each time
  it is built (the mock's reports are deterministic), prepended to the ciphertext;
- the whole, IV + ciphertext, in URL-safe base64 without `=` (as the docs' example value).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16


def _key(secret_key: str) -> bytes:
    return hashlib.sha256(secret_key.encode("utf-8")).digest()


def encrypt_field(plaintext: str, secret_key: str) -> str:
    key = _key(secret_key)
    data = plaintext.encode("utf-8")
    iv = hmac.new(key, data, hashlib.sha256).digest()[:BLOCK]
    padder = padding.PKCS7(BLOCK * 8).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()
    return base64.urlsafe_b64encode(iv + ciphertext).rstrip(b"=").decode("ascii")


def decrypt_field(token: str, secret_key: str) -> str:
    """What a partner runs on an encrypted `enquiryCpf` (raises ValueError if it is not one)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not URL-safe base64") from exc
    if len(raw) < 2 * BLOCK or len(raw) % BLOCK:
        raise ValueError("too short, or not whole AES blocks")
    decryptor = Cipher(algorithms.AES(_key(secret_key)), modes.CBC(raw[:BLOCK])).decryptor()
    padded = decryptor.update(raw[BLOCK:]) + decryptor.finalize()
    unpadder = padding.PKCS7(BLOCK * 8).unpadder()
    return (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")


ENCODED_VERSION = "V1.1"


def encrypt_report(report: dict, secret_key: str) -> dict:
    """The "CPF encoded" variant: enquiryCpf (and enquiryCnpj) encrypted, no partieCnpjCpf,
    and productVersion V1.1 (Klavi's product pages pair "CPF encoded" with V1.1, "Plain CPF"
    with V1)."""
    report["productVersion"] = ENCODED_VERSION
    for field in ("enquiryCpf", "enquiryCnpj"):
        if report.get(field):
            report[field] = encrypt_field(report[field], secret_key)
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
