"""The dispatcher's HTTP connections: httpx's transport over a leaner pool.

httpcore's pool, on every request and every response closed, walks each of its
connections (a poll() on the socket of each idle one, and a count of the idle ones for
each: quadratic in the pool's size). Under sustained webhook load that was half of the
dispatcher's time and a quarter of the mock's (bench/profile_server.py --only flows). Here
each origin keeps a stack of idle keep-alive connections: a request takes the most recent
(checked once: still open, not expired) or opens a new one, and gives it back when its
response is closed. The dispatcher bounds the attempts under way itself (MAX_IN_FLIGHT),
so the pool does not. Everything else (redirects, timeouts, errors as httpx exceptions,
TLS) is httpx's and httpcore's own.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpcore
import httpx

IDLE_PER_ORIGIN = 64  # keep-alive connections kept per origin; more are closed


class LeanPool:
    """What httpx's transport asks of its pool: `handle_async_request` and `aclose`."""

    def __init__(self, ssl_context: ssl.SSLContext, keepalive_expiry: float | None) -> None:
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._idle: dict[tuple[bytes, bytes, int | None], list[httpcore.AsyncHTTPConnection]] = {}

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        url = request.url
        if url.scheme not in (b"http", b"https"):
            raise httpcore.UnsupportedProtocol(f"Request URL has an unsupported protocol '{url.scheme.decode()}://'.")
        key = (url.scheme, url.host, url.port)
        connection = await self._reuse(key)
        if connection is None:
            connection = httpcore.AsyncHTTPConnection(
                origin=url.origin, ssl_context=self._ssl_context, keepalive_expiry=self._keepalive_expiry
            )
        try:
            response = await connection.handle_async_request(request)
        except BaseException:
            await connection.aclose()
            raise
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_GiveBack(response.stream, connection, self, key),
            extensions=response.extensions,
        )

    async def _reuse(self, key: tuple) -> httpcore.AsyncHTTPConnection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.is_idle() and not connection.has_expired():
                return connection
            await connection.aclose()
        return None

    async def give_back(self, key: tuple, connection: httpcore.AsyncHTTPConnection) -> None:
        idle = self._idle.setdefault(key, [])
        if connection.is_idle() and len(idle) < IDLE_PER_ORIGIN:
            idle.append(connection)
        else:
            await connection.aclose()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                await connection.aclose()

    async def __aenter__(self) -> LeanPool:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()


class _GiveBack:
    """A response's body; closing it returns its connection to the pool."""

    def __init__(self, stream: Any, connection: httpcore.AsyncHTTPConnection, pool: LeanPool, key: tuple) -> None:
        self._stream = stream
        self._connection = connection
        self._pool = pool
        self._key = key
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()
        await self._pool.give_back(self._key, self._connection)


def transport(keepalive_expiry: float | None = 5.0) -> httpx.AsyncHTTPTransport:
    """httpx's transport (TLS verified as by default) over a `LeanPool`."""
    lean = httpx.AsyncHTTPTransport()
    lean._pool = LeanPool(httpx.create_ssl_context(), keepalive_expiry)  # type: ignore[assignment]
    return lean
