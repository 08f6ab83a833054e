"""Access and link tokens: real JWTs (HS256) whose expiry follows the mock's clock.

Claims: `sub` the tenant's app id, `typ` "access", "link" or "payment" (the payments API's
accessToken, from its own /auth), `lnk` the link id (link
tokens), `iat`/`exp` in clock seconds, `jti` unique. PyJWT checks the signature; expiry is
checked here against the mock clock, not the wall clock, so advancing the clock expires
tokens.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

import jwt

from klavi_mock.domain.clock import Clock, iso
from klavi_mock.errors import Unauthorized

ACCESS = "access"
LINK = "link"
PAYMENT = "payment"
ACCESS_TOKEN_TTL = 1800  # seconds, as in every Klavi example
VERIFIED_CACHE_SIZE = 10_000  # tokens whose signature was checked (then forgotten all at once)

# What each kind of token is called in messages, and where a client gets one.
TOKEN_NAMES = {
    ACCESS: ("accessToken", "POST /auth (or GET /refresh)"),
    LINK: ("linkToken", "POST /links"),
    PAYMENT: ("payments accessToken", "POST /payment/customer/v1/auth"),
}


@dataclass(frozen=True)
class TokenClaims:
    kind: str
    tenant_id: str
    exp: int  # unix seconds on the mock clock
    link_id: str | None = None

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.exp, tz=timezone.utc)


# The latest expiry a token may carry: datetime cannot go past the year 9999.
MAX_EXP = int(datetime(9999, 1, 1, tzinfo=timezone.utc).timestamp())


def _a(name: str) -> str:
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _well_formed(claims: dict) -> bool:
    """Claims as the mock issues them (a token signed with a known tokenSecret can carry
    anything): a known `typ`, an integer `exp` a datetime can hold, a string `lnk` on link
    tokens."""
    kind, exp = claims.get("typ"), claims.get("exp")
    if not isinstance(kind, str) or kind not in TOKEN_NAMES:
        return False
    if not isinstance(exp, int) or isinstance(exp, bool) or not 0 <= exp <= MAX_EXP:
        return False
    return kind != LINK or isinstance(claims.get("lnk"), str)


class TokenService:
    def __init__(self, secret: str, clock: Clock) -> None:
        self._secret = secret
        self._clock = clock
        self._verified: dict[str, TokenClaims] = {}

    def forget_verified(self) -> None:
        """Drop the kept claims (a reset gives back what the state held; tokens stay valid
        and are checked again when next seen)."""
        self._verified.clear()

    def _encode(self, claims: dict) -> str:
        return jwt.encode(claims, self._secret, algorithm="HS256", headers={"kid": "klavi-mock"})

    def issue_access(self, tenant_id: str, kind: str = ACCESS) -> str:
        """`kind`: ACCESS (the data API's) or PAYMENT (the payments API's)."""
        now = int(self._clock.timestamp())
        return self._encode(
            {
                "iss": "klavi-mock",
                "sub": tenant_id,
                "typ": kind,
                "iat": now,
                "exp": now + ACCESS_TOKEN_TTL,
                "jti": secrets.token_hex(8),
            }
        )

    def issue_link(self, tenant_id: str, link_id: str, expires_at: datetime) -> str:
        return self._encode(
            {
                "iss": "klavi-mock",
                "sub": tenant_id,
                "typ": LINK,
                "lnk": link_id,
                "iat": int(self._clock.timestamp()),
                "exp": int(expires_at.timestamp()),
                "jti": secrets.token_hex(8),
            }
        )

    def tenant_of(self, token: str) -> str | None:
        """Whose token this is, if it was signed here (expired or of the wrong kind alike)."""
        if token in self._verified:
            return self._verified[token].tenant_id
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            return None
        return str(claims["sub"]) if "sub" in claims else None

    def _decode(self, token: str, endpoint: str, wanted_name: str, wanted_source: str) -> TokenClaims:
        """Check the signature and the claims once per token: a verified token's claims are
        kept, since the signature check is most of the cost of an authenticated request."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                # Times are on the mock clock, not the wall clock: checked by verify().
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["sub", "typ", "exp"],
                },
            )
        except jwt.InvalidSignatureError:
            raise Unauthorized(
                f"the bearer token's signature is not valid (tampered, or from another mock process); {endpoint} takes {_a(wanted_name)} from {wanted_source}"
            ) from None
        except jwt.InvalidAlgorithmError:
            raise Unauthorized(
                f"the bearer token is not signed with HS256 (klavi-mock's algorithm; 'none' is never accepted); {endpoint} takes {_a(wanted_name)} from {wanted_source}"
            ) from None
        except jwt.PyJWTError:
            raise Unauthorized(
                f"the bearer token is not a valid JWT; {endpoint} takes {_a(wanted_name)} from {wanted_source}"
            ) from None
        if not _well_formed(claims):
            raise Unauthorized(
                f"the bearer token is not a klavi-mock token; {endpoint} takes {_a(wanted_name)} from {wanted_source}"
            )
        verified = TokenClaims(
            kind=claims["typ"], tenant_id=str(claims["sub"]), exp=claims["exp"], link_id=claims.get("lnk")
        )
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = verified
        return verified

    def verify(self, token: str, accepted_kinds: tuple[str, ...], endpoint: str) -> TokenClaims:
        """Return the claims of a good token of one of `accepted_kinds`, or raise
        Unauthorized saying exactly what is wrong and what to send instead."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._decode(token, endpoint, *TOKEN_NAMES[accepted_kinds[0]])
        if claims.kind not in accepted_kinds:
            wanted_name, wanted_source = TOKEN_NAMES[accepted_kinds[0]]
            raise Unauthorized(
                f"{endpoint} takes the {wanted_name} returned by {wanted_source}, but {_a(TOKEN_NAMES[claims.kind][0])} was sent; "
                f"send Authorization: Bearer <{wanted_name}>"
            )
        if self._clock.timestamp() >= claims.exp:
            name, source = TOKEN_NAMES[claims.kind]
            raise Unauthorized(f"the {name} expired at {iso(claims.expires_at)}; get a new one from {source}")
        return claims
