"""The mock's one clock, seen and moved through the control API."""

from datetime import datetime, timedelta

import pytest


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_clock_starts_at_wall_time(client):
    body = client.get("/__mock/clock").json()
    assert body["offsetSeconds"] == 0
    assert abs((parse(body["now"]) - datetime.now().astimezone()).total_seconds()) < 5


def test_advancing_moves_now_and_the_offset(client):
    before = parse(client.get("/__mock/clock").json()["now"])
    body = client.post("/__mock/clock/advance", json={"seconds": 86400}).json()
    assert body["offsetSeconds"] == 86400
    assert timedelta(days=1) <= parse(body["now"]) - before < timedelta(days=1, seconds=5)
    assert client.post("/__mock/clock/advance", json={"seconds": 0.5}).json()["offsetSeconds"] == 86400.5


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({}, "body.seconds: is required"),
        ({"seconds": -5}, "body.seconds"),
        ({"seconds": 0}, "body.seconds"),
        ({"seconds": "60"}, "body.seconds: must be a number, not string"),
        ({"seconds": 60, "minutes": 1}, "body: Additional properties are not allowed ('minutes' was unexpected)"),
    ],
)
def test_bad_advances_are_refused_and_leave_the_clock_alone(client, body, fragment):
    response = client.post("/__mock/clock/advance", json=body)
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert client.get("/__mock/clock").json()["offsetSeconds"] == 0


def test_reset_keeps_the_clock_unless_asked_to_rewind_it(client):
    client.post("/__mock/clock/advance", json={"seconds": 366 * 86400})
    assert client.post("/__mock/reset").status_code == 200
    assert client.get("/__mock/clock").json()["offsetSeconds"] == 366 * 86400
    assert client.post("/__mock/reset", json={"rewindClock": True}).status_code == 200
    assert client.get("/__mock/clock").json()["offsetSeconds"] == 0
    refused = client.post("/__mock/reset", json={"rewindClock": "yes"})
    assert refused.status_code == 400 and "body.rewindClock" in refused.json()["message"]
