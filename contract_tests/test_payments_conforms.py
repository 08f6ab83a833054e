"""schemathesis against the mock in-process over the payments contract
(openapi/klavi-payments.yaml, mounted at /payment): every served operation, all default checks
(no 5xx, no status, header or body outside the spec), with the spec's formats registered and a
payments accessToken (the `paymentToken` scheme) wired by `klavi_auth(contract="payments")`;
schemathesis still sends requests without and with broken tokens on purpose.

schemathesis.toml says why a 400 answers some schema-valid payments (rules no schema can
say: BR Codes, Pix keys, dates ahead, Pix Automático's periods and limits). Fewer examples
per operation than the data API's suite: the contract has many operations with large bodies."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings

from klavi_mock.contract.schemathesis_setup import SANDBOX_KEYS, klavi_auth, register_formats
from klavi_mock.web.apis.payments.handlers import NOT_SERVED

from .test_mock_conforms import app, client

register_formats()

schema = schemathesis.openapi.from_asgi("/__mock/openapi/klavi-payments.yaml", app).exclude(
    operation_id=sorted(NOT_SERVED)
)

PaymentsAuth = schema.auth()(klavi_auth(client, "/payment", SANDBOX_KEYS, contract="payments"))


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_served_payments_operations_conform(case):
    case.call_and_validate()
