"""Open Data tasks: created through the control API, read and completed with the linkToken."""

import pytest

from tests.conftest import API, bearer


@pytest.fixture
def link(klavi):
    return klavi.create_link()


def create_task(client, link, **body):
    response = client.post("/__mock/tasks", json={"linkId": link["linkId"], "institutionCode": "389", **body})
    assert response.status_code == 200, response.text
    return response.json()["taskId"]


def status(client, link, task_id):
    return client.get(f"{API}/tasks/{task_id}/status", headers=bearer(link["linkToken"]))


def test_a_task_needing_mfa_shows_the_question_and_completes_with_the_mfa_id(client, link):
    task_id = create_task(client, link, status="needMFA")
    body = status(client, link, task_id).json()
    assert body["status"] == "needMFA" and body["code"] == 200
    assert body["mfaInfo"]["mfaType"] == "questions" and body["mfaInfo"]["questions"][0]["options"]
    wrong = client.post(
        f"{API}/tasks/{task_id}/mfa", json={"mfaId": body["mfaInfo"]["mfaId"] + 1}, headers=bearer(link["linkToken"])
    )
    assert wrong.status_code == 400 and "is not the pending MFA" in wrong.json()["message"]
    done = client.post(
        f"{API}/tasks/{task_id}/mfa",
        json={"mfaId": body["mfaInfo"]["mfaId"], "code": "1"},
        headers=bearer(link["linkToken"]),
    )
    assert done.json() == {"message": "ok"}
    assert status(client, link, task_id).json() == {"code": 200, "message": "ok", "status": "success"}
    again = client.post(f"{API}/tasks/{task_id}/mfa", json={"mfaId": 1}, headers=bearer(link["linkToken"]))
    assert again.status_code == 416 and "not waiting for MFA" in again.json()["message"]


def test_a_failed_task_carries_its_open_data_code(client, link):
    task_id = create_task(client, link, status="fail", code=402, message="user credential error")
    assert status(client, link, task_id).json() == {"code": 402, "message": "user credential error", "status": "fail"}


def test_tasks_show_in_the_links_institution_status(client, link):
    create_task(client, link, status="pending")
    response = client.get(f"{API}/links/institutions/status", headers=bearer(link["linkToken"]))
    assert response.json() == [{"institutionCode": "389", "name": response.json()[0]["name"], "status": "pending"}]


def test_another_links_task_is_404(klavi, client, link):
    task_id = create_task(client, link, status="success")
    other = klavi.create_link()
    assert status(client, other, task_id).status_code == 404
    assert client.get(f"{API}/tasks/{task_id}/status", headers=bearer(klavi.access_token())).status_code == 401


def test_tasks_need_an_open_data_institution_and_a_known_link(client, link):
    bad = client.post("/__mock/tasks", json={"linkId": link["linkId"], "institutionCode": "341", "status": "pending"})
    assert bad.status_code == 400 and "not an Open Data institution" in bad.json()["message"]
    assert (
        client.post("/__mock/tasks", json={"linkId": "nope", "institutionCode": "389", "status": "pending"}).status_code
        == 404
    )
