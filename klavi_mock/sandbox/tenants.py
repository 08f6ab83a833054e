"""Tenants: the partner applications the configuration names, and the settings of theirs
the control API changes (webhook URLs, report settings, webhook chaos). A change is kept
in the store's meta values, so a state file keeps it, and undone with a failed request; a
reset brings back the configured report settings and chaos (the webhook URLs stay)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from klavi_mock import unit_of_work
from klavi_mock.domain.callbacks import normalize_products_callback
from klavi_mock.domain.tenants import Tenant
from klavi_mock.errors import NotFound
from klavi_mock.storage.protocol import Json, Store
from klavi_mock.webhooks.chaos import Chaos

# The meta values the control API's changes are kept in: appId -> what changed.
WEBHOOKS, REPORTS, CHAOS = "tenant_webhooks", "tenant_reports", "tenant_chaos"


class Tenants(Mapping[str, Tenant]):
    """appId -> its Tenant, as it is now."""

    def __init__(self, configured: Sequence[Tenant], store: Store) -> None:
        self._configured = tuple(configured)
        self._store = store
        self._by_app: dict[str, Tenant] = {t.app_id: t for t in configured}
        self._by_key: dict[str, Tenant] = {t.access_key: t for t in configured}
        self._chaos: dict[str, Chaos] = {}  # appId -> its webhook chaos (webhooks/chaos.py)
        self._resume()

    def reload(self) -> None:
        """The control API's changes as the store holds them now (another process may have
        made them: a team sandbox on PostgreSQL)."""
        self._by_app = {t.app_id: t for t in self._configured}
        self._by_key = {t.access_key: t for t in self._configured}
        self._chaos = {}
        self._resume()

    def _resume(self) -> None:
        """What a state file kept of the control API's changes."""
        for key in (WEBHOOKS, REPORTS):
            for app_id, values in self._kept(key).items():
                if app_id in self._by_app and isinstance(values, Mapping):
                    self._set(dataclasses.replace(self._by_app[app_id], **dict[str, Any](values)))
        for tenant in self._configured:
            if tenant.webhook_chaos:
                self._set_chaos(tenant.app_id, tenant.webhook_chaos)
        for app_id, chaos in self._kept(CHAOS).items():
            if app_id in self._by_app and isinstance(chaos, Mapping):
                self._set_chaos(app_id, dict(chaos))

    # -- reading -------------------------------------------------------------------------

    def __getitem__(self, app_id: str) -> Tenant:
        return self._by_app[app_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_app)

    def __len__(self) -> int:
        return len(self._by_app)

    def by_access_key(self, access_key: str) -> Tenant | None:
        return self._by_key.get(access_key)

    def secret_key(self, app_id: str) -> str | None:
        tenant = self._by_app.get(app_id)
        return tenant.secret_key if tenant else None

    def apps_of_partner(self, app_id: str) -> list[str]:
        """The applications of `app_id`'s partner, itself first."""
        tenant = self._by_app[app_id]
        return [app_id] + [
            t.app_id for t in self._by_app.values() if t.partner_id == tenant.partner_id and t.app_id != app_id
        ]

    def chaos(self, app_id: str) -> Chaos | None:
        return self._chaos.get(app_id)

    # -- the control API's changes ---------------------------------------------------------

    def configure_webhooks(
        self,
        app_id: str,
        events_url: str | None,
        products_callback_url: str | dict | None,
        tracking_events: bool | None = None,
        payments_url: str | None = None,
    ) -> Tenant:
        """`tracking_events` None: as it is."""
        known = self._known(app_id)
        callbacks = normalize_products_callback(products_callback_url, "body.productsCallbackURL")
        hooks: dict[str, Any] = {
            "events_url": events_url,
            "products_callback_url": callbacks,
            "tracking_events": known.tracking_events if tracking_events is None else tracking_events,
            "payments_url": payments_url,
        }
        tenant = self._set(dataclasses.replace(known, **hooks))
        self._keep(WEBHOOKS, app_id, hooks)
        return tenant

    def configure_reports(self, app_id: str, changes: dict[str, Any]) -> Tenant:
        """`report_delivery`, `activated_products` (None: every product),
        `encrypt_sensitive_fields`; those not in `changes` keep their value."""
        tenant = self._set(dataclasses.replace(self._known(app_id), **changes))
        kept: dict[str, Json] = {
            "report_delivery": tenant.report_delivery,
            "encrypt_sensitive_fields": tenant.encrypt_sensitive_fields,
            "activated_products": None if tenant.activated_products is None else list(tenant.activated_products),
        }
        self._keep(REPORTS, app_id, kept)
        return tenant

    def set_chaos(self, app_id: str, settings: dict[str, Any] | None) -> Chaos:
        """A tenant's webhook chaos (None: none)."""
        self._known(app_id)
        chaos = self._set_chaos(app_id, settings)
        self._keep(CHAOS, app_id, settings or {})
        return chaos

    def back_to_configured(self) -> None:
        """A reset: each tenant's report settings, trackingEvents and webhook chaos as
        configured (the next test starts clean; the webhook URLs stay as they are)."""
        before = dict(self._chaos)
        self._chaos.clear()
        unit_of_work.on_rollback(lambda: self._chaos.update(before))
        for configured in self._configured:
            self._set(
                dataclasses.replace(
                    self._by_app[configured.app_id],
                    report_delivery=configured.report_delivery,
                    activated_products=configured.activated_products,
                    encrypt_sensitive_fields=configured.encrypt_sensitive_fields,
                    tracking_events=configured.tracking_events,
                )
            )
            if configured.webhook_chaos:
                self._set_chaos(configured.app_id, configured.webhook_chaos)
        self._store.set_meta(CHAOS, {})
        self._store.set_meta(REPORTS, {})
        hooks = {app_id: values for app_id, values in self._kept(WEBHOOKS).items() if isinstance(values, Mapping)}
        self._store.set_meta(
            WEBHOOKS,
            {
                app_id: {**values, "tracking_events": self[app_id].tracking_events}
                for app_id, values in hooks.items()
                if app_id in self
            },
        )

    # -- inside ----------------------------------------------------------------------------

    def _known(self, app_id: str) -> Tenant:
        tenant = self._by_app.get(app_id)
        if tenant is None:
            raise NotFound(f"no tenant with appId {app_id!r}; see GET /__mock/tenants")
        return tenant

    def _set(self, tenant: Tenant) -> Tenant:
        before = self._by_app.get(tenant.app_id)
        self._by_app[tenant.app_id] = tenant
        self._by_key[tenant.access_key] = tenant
        if before is not None:
            unit_of_work.on_rollback(lambda: self._set(before))
        return tenant

    def _set_chaos(self, app_id: str, settings: dict[str, Any] | None) -> Chaos:
        before = self._chaos.get(app_id)
        chaos = Chaos(settings or {})
        self._chaos[app_id] = chaos
        unit_of_work.on_rollback(
            lambda: self._chaos.__setitem__(app_id, before) if before else self._chaos.pop(app_id, None)
        )
        return chaos

    def _kept(self, key: str) -> Mapping[str, Json]:
        kept = self._store.get_meta(key)
        return kept if isinstance(kept, Mapping) else {}

    def _keep(self, key: str, app_id: str, values: Json) -> None:
        self._store.set_meta(key, {**self._kept(key), app_id: values})
