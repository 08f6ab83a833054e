"""Things that fall due on the mock clock: a consent's 60-minute window closing, its
expiry, a persona's scripted revocation. Kept in a heap, so checking for due work is O(1)
when nothing is due, however many consents there are."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import datetime

from klavi_mock import unit_of_work


@dataclass(order=True, frozen=True)
class Job:
    due: float  # a unix timestamp on the mock clock: cheaper to compare than datetimes
    sequence: int
    kind: str = field(compare=False)
    subject_id: str = field(compare=False)


class Timeline:
    def __init__(self) -> None:
        self._heap: list[Job] = []
        self._sequence = itertools.count()
        self._cancelled: set[int] = set()  # jobs scheduled by a request that failed

    def schedule(self, due: datetime, kind: str, subject_id: str) -> None:
        job = Job(due.timestamp(), next(self._sequence), kind, subject_id)
        heapq.heappush(self._heap, job)
        unit_of_work.on_rollback(lambda: self._cancelled.add(job.sequence))

    def has_due(self, now: float) -> bool:
        return bool(self._heap) and self._heap[0].due <= now

    def pop_due(self, now: float) -> list[Job]:
        """Every job due at or before `now` (a timestamp), oldest first."""
        due = []
        while self._heap and self._heap[0].due <= now:
            job = heapq.heappop(self._heap)
            if job.sequence in self._cancelled:
                self._cancelled.discard(job.sequence)
            else:
                due.append(job)
        unit_of_work.on_rollback(lambda: self._put_back(due))
        return due

    def _put_back(self, jobs: list[Job]) -> None:
        for job in jobs:
            heapq.heappush(self._heap, job)

    def clear(self) -> None:
        kept = list(self._heap)
        self._heap.clear()
        unit_of_work.on_rollback(lambda: self._put_back(kept))

    def __len__(self) -> int:
        return len(self._heap)
