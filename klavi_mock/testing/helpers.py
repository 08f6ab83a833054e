"""Test helpers that ship with klavi-mock (the pytest plugin uses them, and so can you):
a real webhook receiver on a loopback port, the mock served in a thread, the webhook log
read to the end (delivery_log), and wait_for.

The receiver records every request and answers what the test scripts: a status sequence
per path, redirects (/redirect/N), or silence (hang_seconds)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from klavi_mock.web.server.protocol import protocol_class


@dataclass
class Received:
    path: str
    headers: httpx.Headers  # case-insensitive: headers["X-Klavi-Signature"] and ["x-klavi-signature"]
    body: bytes
    status: int = 200  # what the receiver answered

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """`host`: the address to listen on (0.0.0.0 for a mock in a container); `public_host`:
    the name the mock reaches it by in the URLs it is given (default `host`)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", public_host: str | None = None) -> None:
        self.received: list[Received] = []
        self.scripts: dict[str, list[int]] = {}  # path -> statuses to answer, then 200
        self.hang_seconds = 0.0  # how long each answer waits
        self.concurrent = 0  # requests being answered now
        self.peak_concurrency = 0  # the most answered at once
        self._lock = threading.Lock()
        self._port = port
        self.host, self.public_host = host, public_host or host
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def base(self) -> str:
        return f"http://{self.public_host}:{self._port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender went away mid-body (killed): not a delivery
                    self.close_connection = True
                    return
                with receiver._lock:
                    script = receiver.scripts.get(self.path)
                    status = script.pop(0) if script else 200
                    receiver.received.append(Received(self.path, httpx.Headers(self.headers.items()), body, status))
                    receiver.concurrent += 1
                    receiver.peak_concurrency = max(receiver.peak_concurrency, receiver.concurrent)
                try:
                    if receiver.hang_seconds:
                        time.sleep(receiver.hang_seconds)
                finally:
                    with receiver._lock:
                        receiver.concurrent -= 1
                if self.path.startswith("/redirect/"):
                    hops = int(self.path.rsplit("/", 1)[1])
                    self.send_response(307)
                    self.send_header("Location", f"/redirect/{hops - 1}" if hops > 1 else "/landed")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = json.dumps({"received": True, "status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = _Server((self.host, self._port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def reset(self) -> None:
        """Forget what was received and every scripted answer and hang (between tests)."""
        with self._lock:
            self.received.clear()
            self.scripts.clear()
            self.hang_seconds = 0.0
            self.peak_concurrency = self.concurrent

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def events(self, path: str = "/events", answered: int | None = None) -> list[dict]:
        """The events posted to `path`, in arrival order (only those answered `answered`)."""
        return [event for r in self.at(path) if answered in (None, r.status) for event in r.json()]


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the standard library's 5 refuses bursts of concurrent deliveries


def delivery_log(http: Any, **filters: str) -> list[dict]:
    """Every delivery in a mock's webhook log that matches `filters` (appId, kind, name,
    status, requestId, orderingKey), newest first, read page by page. `http`: an
    httpx.Client or a Starlette TestClient whose base URL is the mock."""
    items: list[dict] = []
    cursor = None
    while True:
        params = {**filters, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        response = http.get("/__mock/webhooks", params=params)
        response.raise_for_status()
        page = response.json()
        items += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            return items


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@contextlib.contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", timeout: float = 10.0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free port in a background thread; yields its URL."""
    import uvicorn

    # klavi-mock's own protocol, as `klavi-mock serve` uses: the fault rules' drop, timeout
    # and truncate need it to close the connection.
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=0, log_level="warning", access_log=False, http=protocol_class())
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("klavi-mock did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout + 5)
