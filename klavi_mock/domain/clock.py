"""The one source of "now" for the whole mock.

Time runs like the wall clock plus an offset that only grows: advancing the clock is how
tests expire tokens, links and consents without waiting. Only a reset that forgets
everything that depended on it may rewind it (`rewind`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

from klavi_mock import unit_of_work


class Clock:
    def __init__(self, wall: Callable[[], float] = time.time, offset: float = 0.0) -> None:
        self._wall = wall
        self.offset = offset

    def timestamp(self) -> float:
        return self._wall() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp(), tz=timezone.utc)

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds
        unit_of_work.on_rollback(lambda: setattr(self, "offset", self.offset - seconds))
        return self.now()

    def rewind(self) -> None:
        """Back to the wall clock (a reset that forgot every link and consent)."""
        before = self.offset
        self.offset = 0.0
        unit_of_work.on_rollback(lambda: setattr(self, "offset", before))


def iso(moment: datetime) -> str:
    """UTC with milliseconds and a Z, as Klavi writes times: 2024-12-07T23:59:59.999Z."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
