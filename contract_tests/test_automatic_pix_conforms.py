"""schemathesis against the mock in-process: the Automatic Pix and management operations of
openapi/klavi-payments.yaml, with all default checks (no 5xx, no answer outside the spec).
A fresh payments token is wired for each case; schemathesis still sends requests without
and with broken tokens on purpose. Not checked: that every schema-valid body is accepted
(positive_data_acceptance): Pix Automático's rules depend on today's date, the consent's
amounts and check digits, which no schema can say; they answer 400 naming the field."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from starlette.testclient import TestClient

from klavi_mock.app import create_app
from klavi_mock.config import Settings
from klavi_mock.contract.schemathesis_setup import SANDBOX_KEYS, register_formats
from tests.worlds import TEST_HOSTS

register_formats()

app = create_app(Settings(strict=True, allowed_hosts=TEST_HOSTS))
client = TestClient(app)
schema = schemathesis.openapi.from_asgi("/__mock/openapi/klavi-payments.yaml", app).include(
    tag=["Automatic Pix", "Management"]
)


@schema.auth()
class PaymentAuth:
    def get(self, case, context):
        return client.post("/payment/customer/v1/auth", json=SANDBOX_KEYS).json()["accessToken"]

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_automatic_pix_operations_conform(case):
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
