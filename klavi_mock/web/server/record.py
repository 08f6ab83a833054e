"""What the pipeline learns about one request as it handles it: the conformance report, the
fault reactions and the request journal read it once the answer starts."""

from __future__ import annotations

from dataclasses import dataclass

from klavi_mock.domain.tokens import TokenClaims


@dataclass
class Record:
    """What the conformance report keeps of one request, filled in as it is handled."""

    app_id: str | None = None  # whose client sent it, once known
    tolerated: tuple[str, ...] = ()  # deviations accepted anyway
    # For the request journal (klavi_mock/qa/journal): the body read and the token's claims.
    body: bytes = b""
    claims: TokenClaims | None = None
    fault: dict | None = (
        None  # the fault rule that fired on it (faults.Injection.describe), if any; the journal shows it
    )
