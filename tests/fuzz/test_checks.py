"""The checks themselves can fail: a successful request changes the snapshot, a traceback is caught."""

from __future__ import annotations

import json

import pytest

from tests.fuzz.checks import assert_robust
from tests.fuzz.requests import base_body, path_params
from tests.fuzz.world import ADMIN_OPS, BEARER_OPS, BODY_OPS, OPERATIONS, PATH_OPS, bearer

# --- the sanity checks: the checks themselves can fail -------------------------------------------


def test_every_operation_is_fuzzed_with_real_inputs(mock):
    """Every path parameter has a real id, and every body schema a valid base body: a new
    operation the helpers cannot serve fails here rather than being fuzzed half-blind."""
    assert len(OPERATIONS) >= 30 and BODY_OPS and BEARER_OPS and ADMIN_OPS and PATH_OPS
    assert {spec.base_path for spec, _ in OPERATIONS} == {"/data/v1", "/payment", "/__mock"}
    world = mock.world()
    for _, op in OPERATIONS:
        assert set(path_params(op)) <= set(world.path_values(op)), f"{op.label}: no real value for {path_params(op)}"
        assert set(op.security) <= {"accessToken", "linkToken", "paymentToken", "adminToken"}, op.label
        if op.body_validator is not None:
            assert op.body_validator.is_valid(base_body(op)), f"{op.label}: the base body {base_body(op)} is off-spec"


def test_the_snapshot_sees_what_an_accepted_request_changes(mock):
    world = mock.world()
    before = mock.snapshot()
    assert mock.http.post("/data/v1/links", json={}, headers=bearer(world.access)).status_code == 200
    after_link = mock.snapshot()
    assert after_link["links"] != before["links"] and after_link["webhooks"] != before["webhooks"]
    assert mock.admin("POST", f"/consents/{world.consent_id}/force", json={"status": "REJECTED"}).status_code == 200
    after_force = mock.snapshot()
    assert after_force["consents"] != after_link["consents"]
    assert (
        mock.admin(
            "PUT", "/tenants/other-app/webhooks", json={"eventsUrl": None, "productsCallbackURL": "https://x.example/r"}
        ).status_code
        == 200
    )
    assert mock.snapshot()["tenants"] != after_force["tenants"]
    assert mock.admin("POST", "/clock/advance", json={"seconds": 1}).status_code == 200
    assert mock.snapshot()["clock"] != before["clock"]
    mock.dirty = True
    # ...and Mock.send turns such a change into a failure when the request was refused.
    mock.last = {**mock.snapshot(), "links": []}
    with pytest.raises(AssertionError, match="was refused .* but changed links"):
        mock.send("GET", "/data/v1/refresh")


class FakeResponse:
    def __init__(self, status: int, text: str, content_type: str = "application/json") -> None:
        self.status_code, self.text, self.headers = status, text, {"content-type": content_type}
        self.request = type("Req", (), {"method": "GET", "url": "/x"})()

    def json(self):
        return json.loads(self.text)


@pytest.mark.parametrize(
    "status, text",
    [
        (500, '{"statusCode":500,"error":"Internal Server Error","message":"boom"}'),
        (
            400,
            '{"statusCode":400,"error":"Bad Request","message":"Traceback (most recent call last):\\n  File \\"x.py\\", line 3, in f"}',
        ),
        (400, '{"statusCode":400,"error":"Bad Request","message":"see klavi_mock/web/server/routing.py"}'),
        (400, '{"statusCode":401,"error":"Bad Request","message":"status differs"}'),
        (400, '{"statusCode":400,"error":"Bad Request"}'),
        (416, '{"statusCode":416,"error":"Requested Range Not Satisfiable","message":"no business code"}'),
        (404, "<html>not json</html>"),
    ],
)
def test_the_response_check_catches_what_it_must(status, text):
    response = FakeResponse(status, text, "text/html" if text.startswith("<") else "application/json")
    with pytest.raises(AssertionError):
        assert_robust(response)
