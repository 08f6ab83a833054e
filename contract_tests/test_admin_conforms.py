"""schemathesis over the control API (openapi/mock-admin.yaml), in-process, with all default
checks: malformed JSON, wrong types, unknown fields and odd unicode never get a 500, and
every answer matches the control API's own contract."""

import schemathesis
from hypothesis import HealthCheck, settings

from klavi_mock.app import create_app
from klavi_mock.config import Settings
from tests.worlds import TEST_HOSTS

app = create_app(Settings(strict=True, allowed_hosts=TEST_HOSTS))
schema = schemathesis.openapi.from_asgi("/__mock/openapi/mock-admin.yaml", app)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_the_control_api_conforms(case):
    case.call_and_validate()
