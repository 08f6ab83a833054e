"""Report requests: which consents a request covers (reference §1.10), and the reports and
events it sends. The request is answered as soon as it is recorded (with its
product_request_received event), as Klavi answers `requestId` and builds later: once the
request commits, its reports are built off the event loop (report_builder.py: a thread, or
`serve`'s builder process) and go through the outbox with their product_generated_* events,
in one step. A request rolled back schedules nothing; one recorded but not built when the
mock stopped (`built` False in a state file) is built at the next start (`resume`), and on
a shared database, one another instance left unbuilt is built by a running instance
(`build_owed`). The reports sent on authorisation (reportDelivery automatic or manual) are a
request recorded with the authorisation. A report that fails to build goes as a failed
report (code 5000, an x-mock-choice) with its product_generated_failed event.

Scope: every AUTHORISED consent of the partner for the taxId (at the institution, for
institution-level products), or only those of `linkId`, or only `consentIds`. With neither,
institution-level reports use the most recent consent and user-level reports all of them
(the widest permissions).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from klavi_mock import unit_of_work
from klavi_mock.domain import consents as states
from klavi_mock.domain.callbacks import normalize_products_callback
from klavi_mock.domain.clock import Clock
from klavi_mock.domain.consents import Consent
from klavi_mock.domain.deliveries import consent_key
from klavi_mock.domain.institutions import InstitutionCatalog
from klavi_mock.domain.personas import PersonaCatalog
from klavi_mock.domain.report_requests import ReportRequest
from klavi_mock.domain.reports import ECO_PRODUCTS, PRODUCTS, ReportConsent, ReportLink, products_for
from klavi_mock.domain.tasks import PARTIAL_TRANSACTIONS
from klavi_mock.domain.tenants import Tenant
from klavi_mock.domain.throttle import Throttle
from klavi_mock.errors import BusinessRuleError, Forbidden, NotFound
from klavi_mock.sandbox import report_building
from klavi_mock.sandbox.report_builder import ReportBuilder, ThreadBuilder
from klavi_mock.sandbox.report_building import Built, Scripted
from klavi_mock.sandbox.tenants import Tenants
from klavi_mock.storage.protocol import StorageError, Store
from klavi_mock.webhooks.service import Webhooks, callback_url

LEVEL_ENDPOINTS = {
    ("pf", "institution"): "POST /personal/institution-data",
    ("pf", "user"): "POST /personal/user-data",
    ("pj", "institution"): "POST /business/institution-data",
    ("pj", "user"): "POST /business/user-data",
}

log = logging.getLogger("klavi_mock")

# A request still unbuilt this long after it was made (on the mock's clock) was left by an
# instance that died: a build takes milliseconds to a few seconds.
OWED_AFTER = timedelta(seconds=30)


class ReportService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        institutions: InstitutionCatalog,
        personas: PersonaCatalog,
        tenants: Tenants,
        webhooks: Webhooks,
        builder: ReportBuilder | None = None,
    ) -> None:
        self.store = store
        self.builder = builder or ThreadBuilder()  # where reports are built, off the event loop
        self.clock = clock
        self.institutions = institutions
        self.personas = personas
        self.tenants = tenants
        self.webhooks = webhooks
        self.throttle = Throttle()  # the rate-limited persona's 429s
        self._background: set[asyncio.Task] = set()  # report builds and deliveries still running
        self._building: set[str] = set()  # the requests this process is building now

    def request(self, tenant: Tenant, person: str, level: str, body: dict[str, Any]) -> ReportRequest:
        """Check everything first (nothing is sent for a refused request), then record the
        request and its product_request_received event; the reports are built once the
        request commits (`_complete`), so the answer does not wait for them."""
        self._persona_refusal(tenant, body["taxId"])
        products = self._products(tenant, person, level, body["products"])
        # 4008 and 4009 are "eco product only": for a request that names one ("all" asks for
        # every product and keeps the general answers)
        eco = [] if "all" in body["products"] else [name for name in products if name in ECO_PRODUCTS]
        if eco and self.personas.for_tax_id(body["taxId"]).report_request == "kyc-needed":
            raise BusinessRuleError(
                4009,
                f"Insufficient authorization info: {', '.join(eco)} needs a KYC process for taxId "
                f"{body['taxId']} before its data can be inquired",
            )
        callbacks = normalize_products_callback(body.get("productsCallbackURL"), "body.productsCallbackURL")
        for key in callbacks or {}:
            if key not in ("all", "other") and key not in PRODUCTS:
                raise BusinessRuleError(
                    4006, f"body.productsCallbackURL: {key!r} is not a product name, 'other' or 'all'"
                )
        consents = self._scope(tenant, person, level, body, eco)
        # the link's settings (productsCallbackURL, externalInfo) are its application's own
        newest_link = self.store.get_link(tenant.app_id, consents[0].link_id)
        request = self._new_request(
            tenant,
            person,
            level,
            body["taxId"],
            products,
            consents,
            consent_ids=body.get("consentIds") or [],
            link_id=body.get("linkId"),
            products_callback_url=callbacks,
            external_info=body.get("externalInfo") or (newest_link.external_info if newest_link else {}),
            built=False,
        )
        self.store.add_report_request(request)
        self._announce(tenant, request)
        unit_of_work.after_commit(lambda: self.in_background(self._complete(request.id), "building reports"))
        return request

    def resume(self) -> None:
        """At start-up (on the event loop): build the requests a stop left unbuilt, oldest first."""
        for request in self.store.owed_report_requests():
            self.in_background(self._complete(request.id), "building reports")

    def build_owed(self) -> None:
        """A team sandbox (on the ticker): build the requests another instance recorded and
        has not built for OWED_AFTER (it was killed before it sent their reports). One that
        is only slow loses nothing: whichever build ends first sends, once (`_complete`)."""
        for request in self.store.owed_report_requests(self.clock.now() - OWED_AFTER):
            if request.id not in self._building:
                log.warning("report request %s was left unbuilt by another instance; building it here", request.id)
                self.in_background(self._complete(request.id), "building reports")

    def in_background(self, work: Coroutine[Any, Any, object], what: str) -> None:
        """Run `work` on the event loop, after the request that started it, on its own: it
        applies and commits its changes itself."""

        async def run() -> None:
            unit_of_work.detach()
            try:
                await work
                self.store.commit()
            except StorageError as exc:  # kept in memory, written by a later commit
                log.warning("%s; trying again", exc)
            except Exception:  # never a silent loss: the log says why the reports did not go
                log.exception("%s failed", what)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settle(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the builds under way now (not those started
        meanwhile, so a read under load is not held up for ever); True when they ended."""
        if not self._background:
            return True
        _, pending = await asyncio.wait(set(self._background), timeout=timeout)
        return not pending

    async def _complete(self, request_id: str) -> None:
        """Build a recorded request's reports off the loop, then put them and their events in
        the outbox and mark it built, in one step on the loop (a restart builds it again
        only if that step never happened)."""
        request = self.store.get_report_request(request_id)
        if request is None or request.built or request_id in self._building:
            return
        tenant = self.tenants.get(request.tenant_id)
        persona = self.personas.for_tax_id(request.tax_id)
        self._building.add(request_id)
        try:
            reports, failures = await self.builder.build(
                request, Scripted.of(persona), tenant.secret_key if tenant else ""
            )
        finally:
            self._building.discard(request_id)
        for failure in failures:  # each went as a failed report (code 5000)
            log.error("%s", failure)
        # One sender: instances over one database that each resumed this request at start-up
        # may all have built it; the first to get here sends, the others find it built.
        with self.store.exclusive(f"report-request:{request_id}") as mine:
            current = self.store.get_report_request(request_id)
            if not mine or current is None or current.built or tenant is None:  # or reset meanwhile
                return
            link = self.store.get_link(request.tenant_id, request.scope[0].link_id) if request.scope else None
            # An automatic request's reports go only when the partner's reportDelivery is automatic.
            push = not current.automatic or tenant.report_delivery == "automatic"
            self._send_reports(tenant, current, persona, reports, link.products_callback_url if link else None, push)
            with self.store.updating(current):
                current.built = True

    def record_on_authorisation(self, tenant: Tenant, consent: Consent) -> ReportRequest | None:
        """reportDelivery automatic or manual: the consent just became AUTHORISED (in its
        unit), so a request for its reports (every activated product of its kind, both
        levels) is recorded with it and built once the unit commits, as a partner's request
        is (a killed instance leaves it owed, not lost). In manual mode only the events go;
        the reports wait at GET /__mock/reports/{id}."""
        products = self.activated(tenant, consent.person)  # every product at both levels (see _products)
        if not products or consent.status != states.AUTHORISED:
            return None
        link = self.store.get_link(tenant.app_id, consent.link_id)
        request = self._new_request(
            tenant,
            consent.person,
            "user",
            consent.tax_id,
            products,
            [consent],
            consent_ids=[consent.id],
            link_id=consent.link_id,
            external_info=link.external_info if link else {},
            automatic=True,
            built=False,
        )
        self.store.add_report_request(request)
        self._announce(tenant, request)
        unit_of_work.after_commit(lambda: self.in_background(self._complete(request.id), "automatic report delivery"))
        return request

    def report(self, product_report_id: str) -> dict[str, Any]:
        """A report as it was (or would have been) sent, by its productReportId."""
        found = self.store.report_of(product_report_id)
        if found is None:
            raise NotFound(f"no report with productReportId {product_report_id}; see GET /__mock/webhooks?kind=report")
        request, product = found
        tenant = self.tenants.get(request.tenant_id)
        scripted = Scripted.of(self.personas.for_tax_id(request.tax_id))
        return report_building.report_as_sent(request, scripted, tenant.secret_key if tenant else "", product)

    def activated(self, tenant: Tenant, person: str) -> list[str]:
        """The products this partner may ask for, of `person` (pf or pj)."""
        names = [p.name for p in PRODUCTS.values() if p.person == person]
        return names if tenant.activated_products is None else [n for n in names if n in tenant.activated_products]

    def _new_request(
        self,
        tenant: Tenant,
        person: str,
        level: str,
        tax_id: str,
        products: list[str],
        consents: list[Consent],
        **fields: Any,
    ) -> ReportRequest:
        return ReportRequest(
            id=str(uuid.uuid4()),
            tenant_id=tenant.app_id,
            person=person,
            level=level,
            tax_id=tax_id,
            products=products,
            created_at=self.clock.now(),
            scope=self._report_links(consents),
            # A company's consent may name its representative's CPF: pj_ reports echo it as enquiryCpf.
            representative_tax_id=next(
                (c.personal_tax_id for c in consents if c.person == "pj" and c.personal_tax_id), ""
            ),
            encrypted=tenant.encrypt_sensitive_fields,
            **{"consent_ids": [], **fields},
        )

    def _persona_refusal(self, tenant: Tenant, tax_id: str) -> None:
        """What a persona scripts for the request itself: 429, 403 or 4007."""
        persona = self.personas.for_tax_id(tax_id)
        if persona.throttle_seconds:
            self.throttle.check(
                (tenant.app_id, tax_id),
                persona.throttle_seconds,
                self.clock.timestamp(),
                f"report requests of taxId {tax_id}",
            )
        if persona.report_request == "forbidden":
            raise Forbidden(f"this partner's accessToken has no permission for the data of taxId {tax_id}")
        if persona.report_request == "fail":
            raise BusinessRuleError(
                4007, f"Product request failed for taxId {tax_id}: the institution did not accept the data request"
            )

    def _products(self, tenant: Tenant, person: str, level: str, asked: list[str]) -> list[str]:
        """The products asked for; ["all"] means those whose home level is this endpoint's,
        of the ones the partner activated (`activatedProducts`; by default every one)."""
        endpoint = LEVEL_ENDPOINTS[(person, level)]
        if not asked:
            raise BusinessRuleError(4005, 'body.products: must have at least 1 item (a product name, or "all")')
        if "all" in asked:
            if len(set(asked)) > 1:
                raise BusinessRuleError(4002, 'body.products: "all" cannot be combined with product names')
            chosen = [name for name in products_for(person, level) if name in self.activated(tenant, person)]
            if not chosen:
                raise BusinessRuleError(
                    4002,
                    f"body.products: this partner activated no {person}_ product of {endpoint}'s level; "
                    "ask for one by name, or activate some (activatedProducts)",
                )
            return chosen
        for name in asked:
            product = PRODUCTS.get(name)
            if product is None:
                raise BusinessRuleError(4002, f"body.products: {name!r} is not a product")
            if product.person != person:
                kind = "business (pj_)" if product.person == "pj" else "personal (pf_)"
                raise BusinessRuleError(
                    4002, f"body.products: {name} is a {kind} product; {endpoint} takes {person}_ products"
                )
            if name not in self.activated(tenant, person):
                raise BusinessRuleError(
                    4002,
                    f"body.products: {name} is not among the products this partner activated "
                    f"at onboarding ({', '.join(self.activated(tenant, person)) or 'none'})",
                )
            # Any product at either level: the docs name no split, and Klavi support told a
            # partner that pj_ products (categorized ones included) are institution-level.
        return list(dict.fromkeys(asked))

    def _scope(
        self, tenant: Tenant, person: str, level: str, body: dict[str, Any], eco: list[str] | None = None
    ) -> list[Consent]:
        """The AUTHORISED consents the request covers, newest first (4001 when none; 4008
        when an eco product is asked for: "no Open Finance consent available")."""
        tax_id, code = body["taxId"], body.get("institutionCode")
        if code is not None and self.institutions.get(code) is None:
            raise BusinessRuleError(
                4004, f"body.institutionCode: {code!r} is not an institution of GET /links/institutions"
            )
        # A company's consent that also names its representative's CPF is the company's.
        # Another application of the same partner may ask for reports on a consent (Klavi);
        # other partners' consents stay invisible (4001 as if they did not exist).
        mine = [
            c
            for app_id in self.tenants.apps_of_partner(tenant.app_id)
            for c in self.store.list_consents(app_id, tax_id)
            if c.person == person
        ]
        if body.get("consentIds"):
            by_id = {c.id: c for c in mine}
            chosen = []
            for consent_id in body["consentIds"]:
                consent = by_id.get(consent_id)
                if consent is None:
                    raise BusinessRuleError(
                        4001, f"body.consentIds: consent {consent_id} does not exist for taxId {tax_id}"
                    )
                if consent.status != states.AUTHORISED:
                    raise BusinessRuleError(
                        4001, f"body.consentIds: consent {consent_id} is {consent.status}, not AUTHORISED"
                    )
                chosen.append(consent)
        else:
            chosen = [c for c in mine if c.status == states.AUTHORISED]
            if body.get("linkId"):
                chosen = [c for c in chosen if c.link_id == body["linkId"]]
        if level == "institution" and code is not None:
            chosen = [c for c in chosen if c.institution_code == code]
        chosen.sort(key=lambda c: c.created_at, reverse=True)
        if not chosen:
            where = f" at institution {code}" if code else ""
            via = f" on link {body['linkId']}" if body.get("linkId") else ""
            if eco:
                raise BusinessRuleError(
                    4008,
                    f"Insufficient authorization info: no Open Finance consent available for taxId {tax_id}"
                    f"{where}{via} to build {', '.join(eco)}; the user must authorise one first",
                )
            raise BusinessRuleError(
                4001, f"no AUTHORISED consent for taxId {tax_id}{where}{via}; the user must authorise one first"
            )
        if level == "institution" and not body.get("linkId") and not body.get("consentIds"):
            return chosen[:1]  # Klavi: the most recent consent's permissions
        return chosen

    @staticmethod
    def _ordering_key(request: ReportRequest) -> str:
        # An automatic delivery's events follow its consent's (consent_authorised first).
        return (
            consent_key(request.link_id or "", request.consent_ids[0]) if request.automatic else f"request:{request.id}"
        )

    def _announce(self, tenant: Tenant, request: ReportRequest) -> None:
        """product_request_received: first in the request's line, before its reports."""
        self.webhooks.emit(
            tenant.app_id,
            "product_request_received",
            {
                "requestId": request.id,
                "taxId": request.tax_id,
                "linkId": request.link_id,
                "consentIds": request.consent_ids,
                "products": request.products,
            },
            request.external_info,
            request_id=request.id,
            ordering_key=self._ordering_key(request),
        )

    def _send_reports(
        self,
        tenant: Tenant,
        request: ReportRequest,
        persona,
        reports: list[Built],
        link_callbacks: dict | None,
        push_reports: bool,
    ) -> None:
        """Each report (unless manual) and its product_generated_* event; a persona's delay
        counts from the request."""
        delay = persona.report_delay_seconds
        later = request.created_at + timedelta(seconds=delay) if delay else None
        key = self._ordering_key(request)
        tenant_callbacks = normalize_products_callback(tenant.products_callback_url, "productsCallbackURL")
        for report in reports:
            name, code, message = report.product, report.code, report.message
            if push_reports:
                destination = callback_url(name, request.products_callback_url, link_callbacks, tenant_callbacks)
                self.webhooks.send_report(tenant.app_id, name, report.body, destination, later, request.id, key)
            if code >= 5000:
                event, payload = (
                    "product_generated_failed",
                    {"requestId": request.id, "productName": name, "code": code, "message": message},
                )
            else:
                event, payload = (
                    "product_generated_success",
                    {
                        "requestId": request.id,
                        "productName": name,
                        "productReportId": report.report_id,
                        "code": code,
                    },
                )
            self.webhooks.emit(
                tenant.app_id,
                event,
                payload,
                request.external_info,
                not_before=later,
                request_id=request.id,
                ordering_key=key,
            )

    def _report_links(self, consents: list[Consent]) -> list[ReportLink]:
        grouped: dict[tuple[str, str], list[Consent]] = {}
        for consent in consents:
            grouped.setdefault((consent.link_id, consent.institution_code), []).append(consent)
        return [
            ReportLink(
                link_id=link_id,
                institution_code=code,
                institution_name=self.institutions.name_of(code),
                consents=[ReportConsent(c.id, list(c.permissions_granted)) for c in group],
                connection_key=next((c.connection_key for c in group if c.connection_key), ""),
                open_data_code=PARTIAL_TRANSACTIONS
                if any(c.open_data_code == PARTIAL_TRANSACTIONS for c in group)
                else 200,
            )
            for (link_id, code), group in grouped.items()
        ]
