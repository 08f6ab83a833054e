"""The sandbox: one object that owns the clock, the state and the rules, and that the
HTTP handlers call. It speaks in domain terms (tenants, links, tokens), never HTTP."""

from __future__ import annotations

import hmac
from datetime import datetime

from .clock import Clock
from .config import Settings, Tenant
from .domain.institutions import InstitutionCatalog
from .domain.links import Link, new_link
from .domain.personas import PersonaCatalog
from .domain.tokens import ACCESS, ACCESS_TOKEN_TTL, LINK, TokenClaims, TokenService
from .errors import Unauthorized
from .lifecycle import ConsentLifecycle
from .resources import fixtures_dir
from .store import MemoryStore
from .timeline import Timeline


class Sandbox:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or Clock()
        self.store = MemoryStore()
        self.tokens = TokenService(settings.token_secret, self.clock)
        self.institutions = InstitutionCatalog.from_file(fixtures_dir() / "institutions.yaml")
        self.personas = PersonaCatalog.from_file(fixtures_dir() / "personas.yaml")
        self.timeline = Timeline()
        self.consents = ConsentLifecycle(self.store, self.clock, self.institutions, self.personas, self.timeline)
        self.tenants = {t.app_id: t for t in settings.tenants}
        self._tenants_by_key = {t.access_key: t for t in settings.tenants}

    # -- authentication ------------------------------------------------------------

    def log_in(self, access_key: str, secret_key: str) -> tuple[str, int]:
        tenant = self._tenants_by_key.get(access_key)
        if tenant is None or not hmac.compare_digest(tenant.secret_key.encode(), secret_key.encode()):
            raise Unauthorized("Invalid accessKey or secretKey")
        return self.tokens.issue_access(tenant.app_id), ACCESS_TOKEN_TTL

    def refresh(self, tenant: Tenant) -> tuple[str, int]:
        return self.tokens.issue_access(tenant.app_id), ACCESS_TOKEN_TTL

    def authenticate(self, token: str, accepted_kinds: tuple[str, ...], endpoint: str) -> tuple[Tenant, TokenClaims]:
        """The tenant behind a bearer token of an accepted kind, or Unauthorized."""
        claims = self.tokens.verify(token, accepted_kinds, endpoint)
        tenant = self.tenants.get(claims.tenant_id)
        if tenant is None:
            raise Unauthorized(f"the token belongs to app {claims.tenant_id!r}, which this mock is not configured with")
        if claims.kind == LINK and self.store.get_link(tenant.app_id, claims.link_id or "") is None:
            raise Unauthorized("the linkToken's link no longer exists (the mock was reset or restarted); create a new link with POST /links")
        return tenant, claims

    # -- links -------------------------------------------------------------------------

    def create_link(self, tenant: Tenant, request: dict) -> tuple[Link, str]:
        link = new_link(tenant.app_id, request, self.clock.now(), self.institutions)
        token = self.tokens.issue_link(tenant.app_id, link.id, link.expires_at)
        self.store.add_link(link)
        return link, token

    def link_of(self, tenant: Tenant, claims: TokenClaims) -> Link:
        link = self.store.get_link(tenant.app_id, claims.link_id or "")
        assert link is not None, "authenticate() checked the link exists"
        return link

    # -- time and control ------------------------------------------------------------

    def run_due(self) -> None:
        """Carry out whatever the clock has made due (cheap when nothing is)."""
        self.consents.run_due()

    def advance_clock(self, seconds: float) -> datetime:
        now = self.clock.advance(seconds)
        self.run_due()
        return now

    def reset(self) -> None:
        self.store.reset()
        self.timeline.clear()


TOKEN_KINDS = {"accessToken": ACCESS, "linkToken": LINK}
