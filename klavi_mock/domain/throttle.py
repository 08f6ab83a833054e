"""The rate limit a persona scripts (`throttle` in fixtures/personas.yaml), so a client's
handling of 429 and Retry-After can be tested.

A request is refused with 429 and `Retry-After: N`; the client that waits N seconds (on the
mock clock) and retries is served, and its next fresh request is refused again. A retry
that comes too early is refused with the time still to wait.
"""

from __future__ import annotations

import math

from klavi_mock.errors import TooManyRequests


class Throttle:
    def __init__(self) -> None:
        # (tenant, tax id) -> when its pending 429 was answered, in mock-clock seconds.
        # Bounded: only persona tax ids are ever throttled.
        self._refused_at: dict[tuple[str, str], float] = {}

    def check(self, key: tuple[str, str], retry_after: float, now: float, what: str) -> None:
        refused = self._refused_at.get(key)
        if refused is not None and now - refused >= retry_after:
            del self._refused_at[key]  # the client waited as told: serve it
            return
        if refused is None:
            self._refused_at[key] = refused = now
        wait = max(1, math.ceil(retry_after - (now - refused)))
        raise TooManyRequests(f"rate limit exceeded for {what}; retry after {wait} s", retry_after=wait)

    def clear(self) -> None:
        self._refused_at.clear()
