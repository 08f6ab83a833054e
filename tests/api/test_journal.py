"""The request journal (GET /__mock/requests): every Klavi API request and its answer,
masked, in a bounded ring; filters, pagination, one entry, replay."""

from __future__ import annotations

import json

import pytest

from klavi_mock.config import Settings
from tests.conftest import API, bearer
from tests.worlds import SANDBOX_KEYS, in_process


def journal(client, **query) -> dict:
    response = client.get("/__mock/requests", params=query)
    assert response.status_code == 200, response.text
    return response.json()


def test_each_api_request_is_journaled_with_its_answer(klavi, client):
    token = klavi.access_token()
    link = klavi.create_link(token, personalTaxId="52998224725")
    entries = journal(client)["items"]
    assert [e["operationId"] for e in entries] == ["createLink", "createAccessToken"]  # newest first
    created = entries[0]
    assert created["method"] == "POST" and created["path"] == f"{API}/links" and created["status"] == 200
    assert created["appId"] == "sandbox-app" and created["latencyMs"] >= 0 and created["fault"] is None
    assert created["requestBody"] == {"personalTaxId": "52998224725"}
    assert created["responseBody"]["linkId"] == link["linkId"]
    assert created["replayOf"] is None
    assert client.get(f"/__mock/requests/{created['journalId']}").json() == created


def test_tokens_and_secrets_are_masked(klavi, client):
    token = klavi.access_token()
    link = klavi.create_link(token)
    text = json.dumps(journal(client))
    for secret in (SANDBOX_KEYS["secretKey"], SANDBOX_KEYS["accessKey"], token, link["linkToken"]):
        assert secret not in text
    auth, created = (
        journal(client, operationId="createAccessToken")["items"][0],
        journal(client, operationId="createLink")["items"][0],
    )
    assert auth["requestBody"] == {"accessKey": "***", "secretKey": "***"}
    assert auth["responseBody"]["accessToken"] == "***"
    assert created["requestHeaders"]["authorization"] == "Bearer ***"
    assert created["responseBody"]["linkToken"] == "***"


def test_refusals_are_journaled_too(client):
    response = client.post(f"{API}/links", json={}, headers=bearer("not-a-token"))
    assert response.status_code == 401
    entry = journal(client)["items"][0]
    assert entry["status"] == 401 and entry["operationId"] == "createLink" and entry["appId"] is None
    assert entry["responseBody"]["statusCode"] == 401


def test_filters(klavi, client):
    token = klavi.access_token()
    klavi.create_link(token)
    client.post(f"{API}/links", json={}, headers=bearer("bad"))
    assert {e["status"] for e in journal(client, status=401)["items"]} == {401}
    assert [e["operationId"] for e in journal(client, operationId="createAccessToken")["items"]] == [
        "createAccessToken"
    ]
    assert all(e["method"] == "POST" for e in journal(client, method="post")["items"])
    assert journal(client, method="GET")["items"] == []
    assert {e["path"] for e in journal(client, pathPrefix=f"{API}/links")["items"]} == {f"{API}/links"}
    assert all(e["appId"] == "sandbox-app" for e in journal(client, appId="sandbox-app")["items"])
    assert len(journal(client, appId="sandbox-app")["items"]) == 2


def test_pages_follow_the_cursor_to_the_end(klavi, client):
    for _ in range(5):
        klavi.access_token()
    seen, cursor = [], None
    while True:
        page = journal(client, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [e["journalId"] for e in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and len(set(seen)) == 5
    assert seen == [e["journalId"] for e in journal(client)["items"]]


@pytest.mark.parametrize(
    "query, field",
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 1001}, "query.limit"),
        ({"cursor": "nope"}, "query.cursor"),
        ({"status": "abc"}, "query.status"),
        ({"method": "TRACE"}, "query.method"),
    ],
)
def test_bad_filters_get_a_klavi_shaped_400(client, query, field):
    response = client.get("/__mock/requests", params=query)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"statusCode", "error", "message"} and field in body["message"]


def test_an_unknown_entry_is_a_404(client):
    for entry_id in ("r999", "nope"):
        for response in (
            client.get(f"/__mock/requests/{entry_id}"),
            client.post(f"/__mock/requests/{entry_id}/replay"),
        ):
            assert response.status_code == 404 and response.json()["statusCode"] == 404


def test_the_ring_keeps_the_newest(settings):
    settings.journal_size = 3
    with in_process(settings) as client:
        for _ in range(5):
            client.post(f"{API}/auth", json=SANDBOX_KEYS)
        page = client.get("/__mock/requests").json()
    assert page["size"] == 3 and [e["journalId"] for e in page["items"]] == ["r5", "r4", "r3"]


def test_reset_empties_the_journal(klavi, client):
    klavi.access_token()
    assert client.post("/__mock/reset").status_code == 200
    assert journal(client)["items"] == []


def test_replay_sends_the_request_again_with_fresh_credentials(klavi, client):
    token = klavi.access_token()
    klavi.create_link(token, personalTaxId="52998224725")
    original = journal(client, operationId="createLink")["items"][0]
    response = client.post(f"/__mock/requests/{original['journalId']}/replay")
    assert response.status_code == 200, response.text
    replay = response.json()
    assert replay["replayOf"] == original["journalId"] and replay["journalId"] != original["journalId"]
    assert replay["status"] == 200 and replay["operationId"] == "createLink"
    assert replay["responseBody"]["linkId"] != original["responseBody"]["linkId"]  # a second link
    links = client.get("/__mock/links").json()
    assert {original["responseBody"]["linkId"], replay["responseBody"]["linkId"]} <= {x["linkId"] for x in links}


def test_replay_of_auth_logs_in_again(client):
    client.post(f"{API}/auth", json=SANDBOX_KEYS)
    original = journal(client)["items"][0]
    replay = client.post(f"/__mock/requests/{original['journalId']}/replay").json()
    assert replay["status"] == 200 and replay["operationId"] == "createAccessToken"


def test_replay_of_a_refused_request_is_refused_again(client):
    client.post(f"{API}/links", json={}, headers=bearer("bad"))
    original = journal(client)["items"][0]
    assert client.post(f"/__mock/requests/{original['journalId']}/replay").json()["status"] == 401


def test_a_fault_layer_can_mark_the_entry(klavi, client, monkeypatch):
    """routing.Record.fault (set by fault injection) is the entry's `fault`."""
    from klavi_mock.web.server import routing

    original = routing.PathDispatcher._handle

    async def faulted(self, request, operation, record):
        record.fault = {"kind": "latency", "ms": 5}
        return await original(self, request, operation, record)

    monkeypatch.setattr(routing.PathDispatcher, "_handle", faulted)
    klavi.access_token()
    assert journal(client)["items"][0]["fault"] == {"kind": "latency", "ms": 5}


def test_journal_size_setting_is_checked():
    from klavi_mock.config import ConfigError, check_settings, parse_config, settings_from_environment

    with pytest.raises(ConfigError, match="journal-size"):
        check_settings(Settings(journal_size=0))
    assert settings_from_environment({"KLAVI_MOCK_JOURNAL_SIZE": "50"}).journal_size == 50
    with pytest.raises(ConfigError, match="KLAVI_MOCK_JOURNAL_SIZE"):
        settings_from_environment({"KLAVI_MOCK_JOURNAL_SIZE": "many"})
    assert parse_config({"journalSize": 20}, "file") == {"journal_size": 20}


def test_secrets_nested_in_a_body_are_masked(klavi, client):
    token = klavi.access_token()
    klavi.create_link(token, externalInfo={"order": "o-1", "password": "hunter2", "deep": [{"apiKey": "k-123"}]})
    entry = journal(client, operationId="createLink")["items"][0]
    assert entry["requestBody"]["externalInfo"] == {"order": "o-1", "password": "***", "deep": [{"apiKey": "***"}]}
    assert "hunter2" not in json.dumps(journal(client)) and "k-123" not in json.dumps(journal(client))


def test_a_path_the_spec_does_not_have_is_journaled(client):
    assert client.get(f"{API}/no-such-thing").status_code == 404
    entry = journal(client)["items"][0]
    assert entry["path"] == f"{API}/no-such-thing" and entry["status"] == 404
    assert entry["operationId"] == f"GET {API}/no-such-thing"
    replay = client.post(f"/__mock/requests/{entry['journalId']}/replay")
    assert replay.status_code == 200 and replay.json()["replayOf"] == entry["journalId"]


def test_a_big_body_is_kept_cut_short(klavi, client):
    from klavi_mock.web.server.recording import KEPT_BODY_BYTES

    token = klavi.access_token()
    client.post(f"{API}/links", json={"externalInfo": {"note": "x" * (KEPT_BODY_BYTES + 10)}}, headers=bearer(token))
    entry = journal(client, operationId="createLink")["items"][0]
    assert isinstance(entry["requestBody"], str) and len(entry["requestBody"]) == KEPT_BODY_BYTES


def test_an_open_data_password_is_masked(klavi, client):
    link = klavi.create_link(personalTaxId="52998224725")
    institutions = client.get(f"{API}/links/institutions", headers=bearer(link["linkToken"])).json()
    open_data = next(i["institutionCode"] for i in institutions if i["institutionType"] == 2)
    task = client.post(
        "/__mock/tasks", json={"linkId": link["linkId"], "institutionCode": open_data, "status": "needMFA"}
    ).json()
    client.post(
        f"{API}/tasks/{task['taskId']}/mfa",
        headers=bearer(link["linkToken"]),
        json={"mfaId": 1, "username": "ana", "password": "s3cret-pass"},
    )
    entry = journal(client, pathPrefix=f"{API}/tasks/")["items"][0]
    assert entry["requestBody"]["password"] == "***" and entry["requestBody"]["username"] == "ana"
    assert "s3cret-pass" not in json.dumps(journal(client))


def test_a_faulted_request_shows_its_fault(klavi, client):
    token = klavi.access_token()
    rule = client.post("/__mock/faults", json={"operationId": "createLink", "status": 503})
    assert rule.status_code in (200, 201), rule.text
    response = client.post(f"{API}/links", json={}, headers=bearer(token))
    assert response.status_code == 503
    entry = journal(client, operationId="createLink")["items"][0]
    assert entry["status"] == 503 and entry["fault"] and entry["fault"].get("faultId") == rule.json()["faultId"]
