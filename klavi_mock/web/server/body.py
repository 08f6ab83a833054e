"""Step 3: the request body, read only for operations that take one, and bounded."""

from __future__ import annotations

from starlette.requests import Request

from klavi_mock.errors import PayloadTooLarge


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past `limit` bytes (before reading it, when the
    Content-Length says so)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:  # not "²": str.isdigit() says yes
        raise PayloadTooLarge(f"the body is {declared} bytes; klavi-mock takes at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit} bytes; klavi-mock takes at most {limit}")
        chunks.append(chunk)
    return b"".join(chunks)
