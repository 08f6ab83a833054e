"""schemathesis against the mock in-process: every served operation of openapi/klavi.yaml,
with all default checks. Tokens are wired by `KlaviAuth` so generated requests reach the
handlers; schemathesis still sends requests without and with broken tokens on purpose.

The auth provider and the CPF/CNPJ formats come from klavi_mock.contract.schemathesis_setup,
which `klavi-mock check` uses too."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from starlette.testclient import TestClient

from klavi_mock.app import create_app
from klavi_mock.config import Settings
from klavi_mock.contract.schemathesis_setup import SANDBOX_KEYS, klavi_auth, register_formats
from klavi_mock.web.apis.data_v1.handlers import NOT_SERVED
from tests.worlds import TEST_HOSTS

register_formats()

app = create_app(Settings(strict=True, allowed_hosts=TEST_HOSTS))
client = TestClient(app)
schema = schemathesis.openapi.from_asgi("/__mock/openapi/klavi.yaml", app).exclude(operation_id=sorted(NOT_SERVED))

KEYS = SANDBOX_KEYS

# A fresh accessToken and linkToken; each operation gets the one its security names.
KlaviAuth = schema.auth()(klavi_auth(client, "/data/v1", KEYS))


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_served_operations_conform(case):
    case.call_and_validate()
