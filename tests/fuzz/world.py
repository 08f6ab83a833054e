"""The fuzzed mock and its world: the operations of the three contracts (the data API, the
payments API, the control API), the settings, real ids in a
fresh state, and a client that checks every answer and that a refusal changed nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from hypothesis import HealthCheck, settings
from starlette.testclient import TestClient

from klavi_mock.config import Settings
from klavi_mock.spec.operations import Operation, Spec, load_spec
from tests.conftest import PARTNER_RETURN, VALID_CPF
from tests.fuzz.checks import assert_robust
from tests.payments import autopix, instant
from tests.worlds import OTHER_KEYS, SANDBOX_KEYS, world_settings

LIMIT = 2048  # the app's max_body_bytes: small, so oversized bodies are cheap
ADMIN_TOKEN = "robustness-admin-token"
ADMIN_HEADER = "X-Mock-Admin-Token"
TOKEN_SECRET = "robustness-token-secret-long-enough-for-hs512-0123456789abcdef0123456789"
SPECS: dict[str, Spec] = {name: load_spec(name) for name in ("klavi.yaml", "klavi-payments.yaml", "mock-admin.yaml")}
OPERATIONS: list[tuple[Spec, Operation]] = [(spec, op) for spec in SPECS.values() for op in spec.operations.values()]
BODY_OPS = [(s, o) for s, o in OPERATIONS if o.body_schema is not None]
BEARER_SCHEMES = ("accessToken", "linkToken", "paymentToken")
BEARER_OPS = [(s, o) for s, o in OPERATIONS if o.security and o.security[0] in BEARER_SCHEMES]
# A token of another kind, for each scheme: what a confused client sends instead.
WRONG_KIND = {"accessToken": "linkToken", "linkToken": "accessToken", "paymentToken": "accessToken"}
ADMIN_OPS = [(s, o) for s, o in OPERATIONS if o.security == ("adminToken",)]
PATH_OPS = [(s, o) for s, o in OPERATIONS if any(p.location == "path" for p in o.parameters)]
SCALE = float(os.environ.get("KLAVI_FUZZ_SCALE", "1"))


def ids(pairs: list[tuple[Spec, Operation]]) -> list[str]:
    return [op.operation_id for _, op in pairs]


def fuzz(examples: int):
    return settings(
        max_examples=max(1, round(examples * SCALE)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )


# --- the mock, its state, and the ids the tests use -------------------------------------------


@dataclass
class World:
    """Real ids in a fresh state: tokens of both tenants (data and payments), a link, a consent,
    a task, a delivery, a report; an instant payment (refused at the bank: it stays as it is),
    an Automatic Pix consent (authorised) and a payment scheduled against it (days ahead)."""

    access: str
    link_id: str
    link_token: str
    consent_id: str
    task_id: str
    delivery_id: str
    other_access: str
    other_link_token: str
    journal_id: str
    report_id: str
    fault_id: str
    payment: str
    other_payment: str
    instant_payment_id: str
    automatic_consent_id: str
    automatic_payment_id: str

    def path_values(self, op: Operation | None = None) -> dict[str, str]:
        """The real id of each path parameter; the payments API's `id` and `consentId` are its
        own resources' (an instant payment's, an Automatic Pix consent's)."""
        if op is not None and op.path.startswith("/customer/v1/"):
            automatic = op.path.startswith("/customer/v1/automatic/")
            return {
                "id": self.automatic_consent_id if automatic else self.instant_payment_id,
                "consentId": self.automatic_consent_id,
                "paymentId": self.automatic_payment_id,
            }
        if op is not None and op.path.startswith("/payments/"):  # the control API's views of them
            instant = op.path.startswith("/payments/instant/")
            return {
                "paymentId": self.instant_payment_id if instant else self.automatic_payment_id,
                "consentId": self.automatic_consent_id,
            }
        return {
            "consentId": self.consent_id,
            "taskId": self.task_id,
            "deliveryId": self.delivery_id,
            "appId": "sandbox-app",
            "name": "klavi.yaml",
            "journalId": self.journal_id,
            "productReportId": self.report_id,
            "faultId": self.fault_id,
        }

    def token(self, scheme: str, other: bool = False) -> str:
        if scheme == "paymentToken":
            return self.other_payment if other else self.payment
        if scheme == "accessToken":
            return self.other_access if other else self.access
        return self.other_link_token if other else self.link_token


@dataclass
class Mock:
    http: TestClient
    last: dict | None = None  # the snapshot after the latest request
    world_: World | None = None
    dirty: bool = True  # an accepted request may have changed what the world's ids point at
    _observer: httpx.AsyncClient | None = None

    def admin(self, method: str, path: str, **kwargs):
        headers = {ADMIN_HEADER: ADMIN_TOKEN, **kwargs.pop("headers", {})}
        return self.http.request(method, "/__mock" + path, headers=headers, **kwargs)

    def snapshot(self) -> dict:
        """The state as the control API shows it. Its five GETs go through httpx's ASGI
        transport inside the app's event loop: one thread hop instead of forty."""
        return self.http.portal.call(self._snapshot)

    async def _snapshot(self) -> dict:
        if self._observer is None:
            self._observer = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.http.app),
                base_url="http://testserver",
                headers={ADMIN_HEADER: ADMIN_TOKEN},
            )
        state = {}
        for name in ("consents", "links", "webhooks", "tenants", "clock", "faults"):
            response = await self._observer.get("/__mock/" + name)
            assert response.status_code == 200, response.text
            state[name] = response.json()
        state["clock"] = state["clock"]["offsetSeconds"]  # not the time itself, which runs
        # Which fault rules exist (a rule added by a fuzzed request must not outlive its test:
        # it would fault the next ones), not their counts, which every matching request moves.
        state["faults"] = [rule["faultId"] for rule in state["faults"]]
        return state

    def close(self) -> None:
        if self._observer is not None:
            self.http.portal.call(self._observer.aclose)

    def send(self, method: str, url: str, headers: dict | None = None, content: Any = None, *, pages: bool = False):
        """One request as a client sends it; checks the answer, and that a refusal changed nothing."""
        if self.last is None:
            self.last = self.snapshot()
        response = self.http.request(method, url, headers=headers or {}, content=content)
        # The Basic WhiteLabel URL is opened in a browser: its refusals are pages too.
        assert_robust(
            response, pages=pages or urlsplit(str(response.request.url)).path.startswith("/data/v1/basic-links/")
        )
        after = self.snapshot()
        if 400 <= response.status_code < 500:
            changed = sorted(k for k in after if after[k] != self.last[k])
            assert not changed, (
                f"{method} {url} was refused ({response.status_code}: {response.text[:300]}) "
                f"but changed {', '.join(changed)}{_new_deliveries(self.last, after)}"
            )
        elif after != self.last:
            self.dirty = True  # the next test starts from a fresh world
        self.last = after
        return response

    def world(self) -> World:
        if self.dirty or self.world_ is None:
            self.world_ = self._fresh_world()
            self.dirty = False
        return self.world_

    def _fresh_world(self) -> World:
        http = self.http
        assert self.admin("POST", "/reset").status_code == 200
        for app_id in ("sandbox-app", "other-app"):  # deliveries go nowhere: no state changes behind our back
            response = self.admin(
                "PUT",
                f"/tenants/{app_id}/webhooks",
                # A reset keeps webhook URLs: one a fuzzed request set would get retried deliveries.
                json={"eventsUrl": None, "productsCallbackURL": None, "paymentsUrl": None},
            )
            assert response.status_code == 200, response.text
            # Reports on request only: automatic ones are built on a thread, after the snapshot.
            response = self.admin(
                "PUT", f"/tenants/{app_id}/reports", json={"reportDelivery": "on-request", "activatedProducts": None}
            )
            assert response.status_code == 200, response.text
        access = http.post("/data/v1/auth", json=SANDBOX_KEYS).json()["accessToken"]
        other_access = http.post("/data/v1/auth", json=OTHER_KEYS).json()["accessToken"]
        payment = http.post("/payment/customer/v1/auth", json=SANDBOX_KEYS).json()["accessToken"]
        other_payment = http.post("/payment/customer/v1/auth", json=OTHER_KEYS).json()["accessToken"]
        link = http.post("/data/v1/links", json={"personalTaxId": VALID_CPF}, headers=bearer(access)).json()
        other_link = http.post("/data/v1/links", json={"personalTaxId": VALID_CPF}, headers=bearer(other_access)).json()
        consent = http.post(
            "/data/v1/consents",
            headers=bearer(link["linkToken"]),
            json={
                "externalTrackId": "robustness-1",
                "personalTaxId": VALID_CPF,
                "institutionCode": "341",
                "redirectURL": PARTNER_RETURN,
            },
        )
        assert consent.status_code == 200, consent.text
        institutions = http.get("/data/v1/links/institutions", headers=bearer(link["linkToken"])).json()
        open_data = next(i["institutionCode"] for i in institutions if i["institutionType"] == 2)
        task = self.admin(
            "POST", "/tasks", json={"linkId": link["linkId"], "institutionCode": open_data, "status": "needMFA"}
        )
        assert task.status_code == 200, task.text
        reported = http.post(
            "/data/v1/consents",
            headers=bearer(link["linkToken"]),
            json={
                "externalTrackId": "robustness-2",
                "personalTaxId": VALID_CPF,
                "institutionCode": "341",
                "redirectURL": PARTNER_RETURN,
            },
        ).json()["consentId"]
        assert self.admin("POST", f"/consents/{reported}/force", json={"status": "AUTHORISED"}).status_code == 200
        asked = http.post(
            "/data/v1/personal/user-data",
            headers=bearer(access),
            json={"taxId": VALID_CPF, "products": ["pf_checking_account"], "consentIds": [reported]},
        )
        assert asked.status_code == 200, asked.text
        deliveries = self.admin("GET", "/webhooks").json()["items"]
        journaled = self.admin("GET", "/requests", params={"operationId": "listInstitutions"}).json()["items"]
        report = next(d for d in deliveries if d["name"] == "product_generated_success")
        fault = self.admin("POST", "/faults", json={"appId": "nobody", "status": 503})  # matches no request
        assert fault.status_code == 200, fault.text
        instant_payment, automatic_consent, automatic_payment = self._payments(payment)
        self.last = self.snapshot()
        return World(
            access=access,
            link_id=link["linkId"],
            link_token=link["linkToken"],
            consent_id=consent.json()["consentId"],
            task_id=task.json()["taskId"],
            delivery_id=deliveries[0]["deliveryId"],
            other_access=other_access,
            other_link_token=other_link["linkToken"],
            journal_id=journaled[0]["journalId"],
            report_id=report["body"][0]["payload"]["productReportId"],
            fault_id=fault.json()["faultId"],
            payment=payment,
            other_payment=other_payment,
            instant_payment_id=instant_payment,
            automatic_consent_id=automatic_consent,
            automatic_payment_id=automatic_payment,
        )

    def _payments(self, token: str) -> tuple[str, str, str]:
        """An instant payment the payer refused (final: no clock step moves it), an authorised
        Automatic Pix consent without a first payment, and a charge scheduled 5 days ahead
        (nothing happens to either before its date)."""
        http = self.http
        created = http.post(instant.PAYMENTS, json=instant.body(), headers=bearer(token))
        assert created.status_code == 201, created.text
        refused = http.get(created.json()["redirectConsentURL"] + "&decision=deny", follow_redirects=False)
        assert refused.status_code == 302, refused.text
        now = datetime.fromisoformat(self.admin("GET", "/clock").json()["now"].replace("Z", "+00:00"))
        today = now.astimezone(autopix.BRASILIA).date()
        consent = http.post(
            f"{autopix.BASE}/consents",
            json=autopix.consent_body(today, firstPayment=None),
            headers=bearer(token),
        )
        assert consent.status_code == 201, consent.text
        approved = http.get(
            consent.json()["redirectConsentURL"], params={"decision": "approve"}, follow_redirects=False
        )
        assert approved.status_code == 302, approved.text
        consent_id = consent.json()["id"]
        charge = http.post(
            f"{autopix.BASE}/consents/{consent_id}/payments",
            json={
                "clientRequestId": "robustness-charge",
                "date": (today + timedelta(days=5)).isoformat(),
                "amount": "90.00",
            },
            headers=bearer(token),
        )
        assert charge.status_code == 201, charge.text
        return created.json()["id"], consent_id, charge.json()["id"]


def _new_deliveries(before: dict, after: dict) -> str:
    """The deliveries that appeared or changed, named, for a failure message."""
    seen = {d["deliveryId"]: d for d in before["webhooks"]["items"]}
    new = [
        f"{d['name']} {d['status']} ({d.get('orderingKey')})"
        for d in after["webhooks"]["items"]
        if seen.get(d["deliveryId"]) != d
    ]
    return f": deliveries {new}" if new else ""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fuzz_settings(**overrides) -> Settings:
    # No allowed hosts: with an admin token the control API answers any Host.
    values = dict(allowed_hosts=(), max_body_bytes=LIMIT, admin_token=ADMIN_TOKEN, token_secret=TOKEN_SECRET)
    return world_settings(**{**values, **overrides})
