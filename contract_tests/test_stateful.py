"""Stateful schemathesis: sequences along the spec's OpenAPI links (auth -> link -> consent
-> get / revoke consent, link -> consent list), with all default checks plus the stateful
ones (use_after_free, ensure_resource_availability).

Each scenario starts from a reset mock, so a scenario's answers depend only on its own
steps (hypothesis replays scenarios and needs that); tokens are therefore fetched afresh for
every call (`refresh_interval=None`), since a reset forgets the links behind cached ones."""

import schemathesis
from hypothesis import HealthCheck, settings

from klavi_mock.contract.schemathesis_setup import SANDBOX_KEYS, klavi_auth

from .test_mock_conforms import app, client

schema = schemathesis.openapi.from_asgi("/__mock/openapi/klavi.yaml", app)
schema.auth(refresh_interval=None)(klavi_auth(client, "/data/v1", SANDBOX_KEYS))


class KlaviWorkflow(schema.as_state_machine()):
    def setup(self):
        assert client.post("/__mock/reset").status_code == 200


TestKlaviWorkflow = KlaviWorkflow.TestCase
TestKlaviWorkflow.settings = settings(
    max_examples=40,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
