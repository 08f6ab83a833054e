"""The contracts themselves: valid OpenAPI 3.1, and complete where clients rely on them."""

import pytest
import yaml
from openapi_spec_validator import validate

from klavi_mock.resources import openapi_dir
from klavi_mock.spec.operations import klavi_operations, load_spec


@pytest.mark.parametrize("name", ["klavi.yaml", "klavi-payments.yaml", "mock-admin.yaml"])
def test_contract_is_valid_openapi_3_1(name):
    document = yaml.safe_load((openapi_dir() / name).read_text())
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema


@pytest.mark.parametrize("name", ["klavi.yaml", "klavi-payments.yaml", "mock-admin.yaml"])
def test_no_key_of_a_contract_is_a_stray_piece_of_a_description(name):
    """An unquoted `{description: The page, from 1.}` makes YAML read a key `from 1.` with no
    value: a JSON Schema takes it silently. No key of the contracts has a null value."""
    strays: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if value is None and key not in ("default", "example", "const"):
                    strays.append(f"{where}/{key}")
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(yaml.safe_load((openapi_dir() / name).read_text()), "")
    assert strays == []


def test_klavi_spec_has_every_documented_operation():
    operations = {op.label for op in load_spec("klavi.yaml").operations.values()}
    assert operations == {
        "POST /auth",
        "GET /refresh",
        "POST /links",
        "GET /links/institutions",
        "GET /links/institutions/status",
        "POST /consents",
        "GET /consents",
        "GET /consents/{consentId}",
        "DELETE /consents/{consentId}/revoke",
        "POST /personal/institution-data",
        "POST /personal/user-data",
        "POST /business/institution-data",
        "POST /business/user-data",
        "GET /tasks/{taskId}/status",
        "POST /tasks/{taskId}/mfa",
        "GET /basic-links/{appId}",  # Basic WhiteLabel: opened in the user's browser
    }


def test_servers_are_sandbox_production_and_the_local_mock():
    urls = [s["url"] for s in load_spec("klavi.yaml").document["servers"]]
    assert urls == [
        "https://api-sandbox.klavi.ai/data/v1",
        "https://api.klavi.ai/data/v1",
        "http://127.0.0.1:8080/data/v1",
    ]


def test_each_operation_declares_its_token_and_a_401():
    spec = load_spec("klavi.yaml")
    link_token_operations = {
        "listInstitutions",
        "getInstitutionsStatus",
        "createConsent",
        "getTaskStatus",
        "submitTaskMfa",
    }
    for op in spec.operations.values():
        if op.operation_id in ("createAccessToken", "openBasicLink"):  # no token: keys; the appId in the path
            assert op.security == ()
            continue
        expected = "linkToken" if op.operation_id in link_token_operations else "accessToken"
        assert op.security == (expected,), op.operation_id
        assert 401 in op.declared_statuses, op.operation_id


def test_business_error_codes_are_documented():
    schema = load_spec("klavi.yaml").resolved["components"]["schemas"]["BusinessErrorBody"]
    assert schema["properties"]["statusCode"]["enum"] == list(range(4001, 4010))


def test_links_chain_auth_to_links_to_consents():
    paths = load_spec("klavi.yaml").document["paths"]
    auth_links = paths["/auth"]["post"]["responses"]["200"]["links"]
    link_links = paths["/links"]["post"]["responses"]["200"]["links"]
    consent_links = paths["/consents"]["post"]["responses"]["200"]["links"]
    assert {x["operationId"] for x in auth_links.values()} == {"createLink"}
    assert "createConsent" in {x["operationId"] for x in link_links.values()}
    assert {x["operationId"] for x in consent_links.values()} == {"getConsent", "revokeConsent"}
    for link in consent_links.values():
        assert link["parameters"] == {"consentId": "$response.body#/consentId"}
    every_id = set(load_spec("klavi.yaml").operations)
    for links in (auth_links, link_links, consent_links):
        assert {x["operationId"] for x in links.values()} <= every_id


@pytest.mark.parametrize("name", ["klavi.yaml", "mock-admin.yaml"])
def test_no_description_was_cut_by_a_comma_in_a_flow_mapping(name):
    """`{type: string, description: a, b}` is YAML for a description "a" and a key "b": null."""
    document = yaml.safe_load((openapi_dir() / name).read_text())
    cut: list[str] = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("example", "examples", "default", "const", "enum"):
                    continue  # values, where null is meant
                if value is None:
                    cut.append("/".join(map(str, path + [key])))
                walk(value, path + [key])
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, path + [index])

    walk(document, [])
    assert not cut, f"keys with no value (a description cut at a comma?): {cut}"


def test_a_fault_rule_names_exactly_the_operations_of_both_klavi_contracts():
    """mock-admin.yaml lists the operationIds a fault rule may name (the control API's clients
    and the cockpit's form read the list): every one of klavi.yaml's and klavi-payments.yaml's,
    in their order. A new operation must be added there too."""
    admin = load_spec("mock-admin.yaml").resolved["components"]["schemas"]["FaultRuleInput"]
    listed = admin["properties"]["operationId"]["enum"]
    assert listed == [op for operations in klavi_operations().values() for op in operations]
    # The data API's business codes are refused on the payments operations, named here too.
    [payments_only] = [
        rule["not"] for rule in admin["allOf"] if "operationId" in rule.get("not", {}).get("required", [])
    ]
    assert payments_only["properties"]["operationId"]["enum"] == klavi_operations()["payments"]
