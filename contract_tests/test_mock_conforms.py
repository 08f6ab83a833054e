"""schemathesis against the mock in-process: every served operation of openapi/klavi.yaml,
with all default checks. Tokens are wired by `KlaviAuth` so generated requests reach the
handlers; schemathesis still sends requests without and with broken tokens on purpose."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mock_server.api import NOT_SERVED
from mock_server.app import create_app
from mock_server.config import Settings
from mock_server.domain.taxid import make_cnpj, make_cpf

# The spec writes CPF and CNPJ as formats (a pattern cannot carry check digits); teach the
# generator to make valid ones, or every "valid" example would be refused with 400.
schemathesis.openapi.format(
    "cpf", st.from_regex(r"\A[0-9]{9}\Z").filter(lambda base: len(set(base)) > 1).map(make_cpf))
schemathesis.openapi.format(
    "cnpj", st.from_regex(r"\A[0-9A-Z]{12}\Z").filter(lambda base: len(set(base)) > 1).map(make_cnpj))

app = create_app(Settings(strict=True))
client = TestClient(app)
schema = schemathesis.openapi.from_asgi("/__mock/openapi/klavi.yaml", app).exclude(operation_id=sorted(NOT_SERVED))

KEYS = {"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}


@schema.auth()
class KlaviAuth:
    """A fresh accessToken and linkToken; each operation gets the one its security names."""

    def get(self, case, context):
        access = client.post("/data/v1/auth", json=KEYS).json()["accessToken"]
        link = client.post("/data/v1/links", json={}, headers={"Authorization": f"Bearer {access}"}).json()["linkToken"]
        return {"accessToken": access, "linkToken": link}

    def set(self, case, tokens, context):
        security = case.operation.definition.raw.get("security") or []
        for requirement in security:
            for scheme in requirement:
                case.headers = {**(case.headers or {}), "Authorization": f"Bearer {tokens[scheme]}"}
                return


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_served_operations_conform(case):
    case.call_and_validate()
