"""Transport edge cases against a real `klavi-mock serve`: a client that hangs up mid-body
is one log line, not a traceback; an oversized or overlong request head is answered 431 in
Klavi's shape without holding up other clients."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx

from klavi_mock.web.server.protocol import MAX_HEAD_BYTES, MAX_HEADERS
from tests.servers import serve_process
from tests.worlds import SANDBOX_KEYS


def _address(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


def _answer(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_client_hanging_up_mid_body_is_one_quiet_line(tmp_path):
    with serve_process() as (base, process):
        host, port = _address(base)
        for _ in range(22):
            with socket.create_connection((host, port)) as sock:
                sock.sendall(
                    b"POST /data/v1/auth HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 10000\r\n\r\n" + b'{"accessKey": "' + b"x" * 100
                )
            time.sleep(0.02)
        # Still serving, and its state unharmed.
        assert httpx.post(f"{base}/data/v1/auth", json=SANDBOX_KEYS).status_code == 200
        time.sleep(0.3)
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "Traceback" not in output and "Exception in ASGI application" not in output, output[-3000:]
    assert output.count("hung up") <= 22


def test_an_oversized_header_gets_431_and_other_clients_are_served():
    with serve_process() as (base, _):
        host, port = _address(base)
        answered: list[int] = []

        def other_client() -> None:
            with httpx.Client(timeout=10) as client:
                for _ in range(30):
                    answered.append(client.post(f"{base}/data/v1/auth", json=SANDBOX_KEYS).status_code)

        others = threading.Thread(target=other_client)
        others.start()
        sock = socket.create_connection((host, port))
        sent = 0
        try:
            sock.sendall(b"GET /data/v1/links/institutions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ")
            chunk = b"a" * 65536
            while sent < 64 * 1024 * 1024:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed, as it should be
        answer = _answer(sock)
        sock.close()
        others.join(timeout=30)
    assert sent < 16 * 1024 * 1024, f"the mock read {sent} bytes of headers before refusing"
    if answer:  # the answer may be lost when the connection is reset under a sending client
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body["statusCode"] == 431 and str(MAX_HEAD_BYTES) in body["message"]
    assert answered == [200] * 30


def test_too_many_headers_get_431_in_klavis_shape():
    with serve_process() as (base, _):
        host, port = _address(base)
        headers = b"".join(b"X-H%d: v\r\n" % n for n in range(MAX_HEADERS + 5))
        with socket.create_connection((host, port)) as sock:
            sock.sendall(b"GET /data/v1/links/institutions HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n")
            answer = _answer(sock)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert body == {"statusCode": 431, "error": "Request Header Fields Too Large", "message": body["message"]}
        assert str(MAX_HEADERS) in body["message"]
        # A normal request with a few dozen headers still goes through.
        many = {f"X-H{n}": "v" for n in range(40)}
        assert httpx.post(f"{base}/data/v1/auth", json=SANDBOX_KEYS, headers=many).status_code == 200
