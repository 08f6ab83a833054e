"""The dispatcher keeps its connections to a receiver alive (webhooks/pool.py): many
deliveries to a keep-alive HTTP/1.1 receiver go over a few connections, not one each."""

from __future__ import annotations

import threading

from klavi_mock.testing import delivery_log, serve_in_thread, wait_for
from tests.worlds import in_process

EVENTS = 60


class KeepAliveReceiver:
    """An ASGI app under uvicorn (HTTP/1.1, keep-alive): answers 200 and notes each
    request's client address (a new connection has a new port)."""

    def __init__(self) -> None:
        self.clients: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        with self._lock:
            self.clients.append(tuple(scope["client"]))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


def test_deliveries_to_one_receiver_reuse_their_connections(settings):
    receiver = KeepAliveReceiver()
    with serve_in_thread(receiver) as base, in_process(settings) as http:
        assert http.put("/__mock/tenants/sandbox-app/webhooks", json={"eventsUrl": f"{base}/events"}).status_code == 200
        for number in range(EVENTS):
            fired = http.post(
                "/__mock/webhooks/fire",
                json={"eventName": "product_request_received", "payload": {"requestId": f"r{number}"}},
            )
            assert fired.status_code == 200, fired.text
        wait_for(lambda: len(receiver.clients) >= EVENTS, 30, "every event received")
        wait_for(lambda: not delivery_log(http, status="pending"), 30, "every attempt recorded")
        assert all(d["status"] == "delivered" for d in delivery_log(http))
    # At most the URL's concurrency (8) connections at once; far fewer than one a delivery.
    assert len(set(receiver.clients)) <= 8 < EVENTS
