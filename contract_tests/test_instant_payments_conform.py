"""schemathesis against the mock in-process: the instant payment operations of
openapi/klavi-payments.yaml (create, get, status, WhiteLabel payment-links), with all default
checks: no 5xx, nothing outside the spec. A payments accessToken is wired in so generated
requests reach the handlers; schemathesis still sends requests without one on purpose.
(schemathesis.toml says why a 400 answers some schema-valid payments.)"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from starlette.testclient import TestClient

from klavi_mock.app import create_app
from klavi_mock.config import Settings
from klavi_mock.contract.schemathesis_setup import SANDBOX_KEYS, register_formats
from tests.worlds import TEST_HOSTS

register_formats()

INSTANT = ["createInstantPayment", "getInstantPayment", "getInstantPaymentStatus", "createInstantPaymentLink"]

app = create_app(Settings(strict=True, allowed_hosts=TEST_HOSTS))
client = TestClient(app)
schema = schemathesis.openapi.from_asgi("/__mock/openapi/klavi-payments.yaml", app).include(operation_id=INSTANT)


@schema.auth()
class PaymentAuth:
    def get(self, case, context):
        return client.post("/payment/customer/v1/auth", json=SANDBOX_KEYS).json()["accessToken"]

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_instant_payment_operations_conform(case):
    case.call_and_validate()
