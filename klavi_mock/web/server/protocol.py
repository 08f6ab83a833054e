"""uvicorn's HTTP/1.1 protocol with a bound on the request head.

httptools puts no limit on a request's headers: one client sending a 64 MB header kept
the parser (and so every other client of the event loop) busy for seconds. Here a head of
more than MAX_HEAD_BYTES, or of more than MAX_HEADERS headers, is answered 431 in Klavi's
error shape and the connection closed, before the application sees it.

It also lets the application hang up: the scope extension HANG_UP is a callable that
closes the connection with whatever was sent so far (the fault rules' drop, timeout and
truncate, klavi_mock/web/server/faults.py). Servers without it (in-process test clients, h11)
cannot do those faults.
"""

from __future__ import annotations

import json

from klavi_mock.errors import HeadersTooLarge

MAX_HEAD_BYTES = 64 * 1024  # request line and headers; a Klavi request needs about 1 KiB
MAX_HEADERS = 100
HANG_UP = "klavi_mock.hang_up"  # scope["extensions"] key


def _refusal(message: str) -> bytes:
    error = HeadersTooLarge(message)
    body = json.dumps(error.body(), separators=(",", ":")).encode()
    return (
        b"HTTP/1.1 431 " + error.title.encode() + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


TOO_BIG = _refusal(f"the request's headers are over {MAX_HEAD_BYTES} bytes; klavi-mock takes at most {MAX_HEAD_BYTES}")
TOO_MANY = _refusal(f"the request has more than {MAX_HEADERS} headers; klavi-mock takes at most {MAX_HEADERS}")


def protocol_class() -> type | str:
    """What to give uvicorn as `http`: the bounded httptools protocol, or h11 with its own
    bound where httptools is not installed."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "h11"

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = True  # between the start of a request and the end of its headers
            self._head_bytes = 0  # of the current head, counted per chunk fed while it lasts
            self._messages = 0
            self._refusal: bytes | None = None

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head, self._head_bytes, self._messages = True, 0, self._messages + 1
            self.scope["extensions"] = {HANG_UP: self._hang_up}

        def _hang_up(self) -> None:
            """Close the connection after what was written (no answer, or part of one). The
            cycle is told at once: uvicorn would otherwise answer 500 for an app that
            returns without answering."""
            if self.cycle is not None:
                self.cycle.disconnected = True
            self.transport.close()

        def on_header(self, name: bytes, value: bytes) -> None:
            if len(self.headers) >= MAX_HEADERS:
                self._refusal = TOO_MANY
                raise ValueError("too many headers")  # stops the parser: see send_400_response
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            if self._in_head and self._head_bytes > MAX_HEAD_BYTES:
                self._refusal = TOO_BIG
                return self.send_400_response("")
            messages = self._messages
            super().data_received(data)
            # A chunk in which a new request began is not counted: its first bytes may
            # belong to the request before (so a head may pass the bound by one chunk).
            if self._in_head and self._messages == messages:
                self._head_bytes += len(data)

        def send_400_response(self, msg: str) -> None:
            """uvicorn's answer to a request it cannot parse; 431 when the head was refused."""
            if self._refusal is None:
                return super().send_400_response(msg)
            if not self.transport.is_closing():
                self.transport.write(self._refusal)
                self.transport.close()

    return BoundedHttpToolsProtocol
