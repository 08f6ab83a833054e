"""The pending deliveries, arranged so that every step of the dispatcher is O(log n).

- A line may have a parent (`deliveries.parent_key`: a consent's link, to the same URL):
  while the parent line has pending deliveries, the line's head is *held* (`_held`), not
  scheduled; the parent's last delivery leaving releases it (link_created before any event
  of its consents).
- A *line* is what must go one at a time, in creation order: the deliveries to one URL
  with one ordering key (with `per_url=1`, every delivery to the URL: strict per-URL order).
  Only a line's head may be attempted; a head in its retry backoff holds back its line.
- `_waiting` is a heap of the heads by due time (on the mock clock). Heads fall due into
  `_ready`, a heap per URL in creation order, from which each URL gets up to `per_url`
  attempts at once.
- Entries in the heaps are never searched for: an entry that no longer applies (the
  delivery was redelivered, reset, finished) is recognised by its stamp and skipped.

The queue is memory only; the store rebuilds it from the pending deliveries at start-up.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from datetime import datetime

from klavi_mock.domain.deliveries import PENDING, Delivery, parent_key

Line = tuple[str, str]


class DeliveryQueue:
    def __init__(self, per_url: int = 8) -> None:
        self.per_url = per_url
        self._pending: dict[str, Delivery] = {}
        self._line_of: dict[str, Line] = {}
        self._lines: dict[Line, deque[Delivery]] = {}
        self._stamps: dict[str, int] = {}  # delivery id -> the stamp of its one valid heap entry
        self._waiting: list[tuple[datetime, int, str]] = []  # (due, stamp, id)
        self._ready: dict[str, list[tuple[int, int, str]]] = {}  # url -> [(seq, stamp, id)]
        self._in_flight: dict[str, set[str]] = {}  # url -> ids being attempted
        self._flying: dict[str, str] = {}  # id being attempted -> its url
        self._stamp = itertools.count()
        self._held: dict[Line, set[Line]] = {}  # a parent line -> its lines waiting for it to empty

    # -- what the store tells it --------------------------------------------------------

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, delivery_id: object) -> bool:
        return delivery_id in self._pending

    def __iter__(self):
        return iter(list(self._pending.values()))

    def values(self) -> list[Delivery]:
        return list(self._pending.values())

    def put(self, delivery: Delivery) -> None:
        """A delivery is (again) pending: new, redelivered, or loaded at start-up."""
        if delivery.id in self._pending:
            self._replace(delivery)
            return
        if delivery.status != PENDING or delivery.destination is None:
            return
        line = self._line(delivery)
        self._pending[delivery.id] = delivery
        self._line_of[delivery.id] = line
        queue = self._lines.setdefault(line, deque())
        queue.append(delivery)
        if len(queue) == 1:
            self._schedule(delivery)

    def discard(self, delivery_id: str) -> None:
        """No longer pending (delivered, failed, forgotten)."""
        delivery = self._pending.pop(delivery_id, None)
        if delivery is None:
            return
        self._stamps.pop(delivery_id, None)
        line = self._line_of.pop(delivery_id)
        queue = self._lines[line]
        was_head = queue[0] is delivery
        queue.remove(delivery)  # a line is short: the events of one consent, or one report request
        if not queue:
            del self._lines[line]
            for child in self._held.pop(line, ()):  # the link's own deliveries are done: its consents' go
                if child in self._lines:
                    self._schedule(self._lines[child][0])
        elif was_head:
            self._schedule(queue[0])

    def clear(self) -> None:
        """Forget everything (a reset). Attempts under way end in `finished`, which ignores them."""
        for name in ("_pending", "_line_of", "_lines", "_stamps", "_ready", "_in_flight", "_flying", "_held"):
            getattr(self, name).clear()
        self._waiting.clear()

    # -- what the dispatcher asks ---------------------------------------------------------

    def take(self, now: datetime, room: int) -> list[Delivery]:
        """Up to `room` deliveries to attempt now, each URL within its `per_url` limit.
        They count as in flight until `finished`."""
        while self._waiting and self._waiting[0][0] <= now:
            _, stamp, delivery_id = heapq.heappop(self._waiting)
            if self._stamps.get(delivery_id) == stamp:
                delivery = self._pending[delivery_id]
                heapq.heappush(
                    self._ready.setdefault(delivery.destination or "", []), (delivery.seq, stamp, delivery_id)
                )
        chosen: list[Delivery] = []
        for url in list(self._ready):
            ready, busy = self._ready[url], self._in_flight.setdefault(url, set())
            while ready and len(busy) < self.per_url and len(chosen) < room:
                _, stamp, delivery_id = heapq.heappop(ready)
                if self._stamps.get(delivery_id) == stamp:
                    del self._stamps[delivery_id]  # no entry is valid while it is in flight
                    busy.add(delivery_id)
                    self._flying[delivery_id] = url
                    chosen.append(self._pending[delivery_id])
            if not ready:
                del self._ready[url]
        return chosen

    def finished(self, delivery: Delivery) -> None:
        """An attempt ended: the delivery waits for its retry, or leaves its line."""
        url = self._flying.pop(delivery.id, None)
        if url is not None:
            self._in_flight[url].discard(delivery.id)
        if delivery.id not in self._pending:
            return  # reset or forgotten while it was under way
        if delivery.status == PENDING:
            self._schedule(delivery)
        else:
            self.discard(delivery.id)

    def next_due(self) -> datetime | None:
        """When the earliest waiting head falls due (None: nothing waits). Heads that are
        due but held back by their URL's limit do not count: a finished attempt wakes
        the dispatcher for them."""
        while self._waiting and self._stamps.get(self._waiting[0][2]) != self._waiting[0][1]:
            heapq.heappop(self._waiting)
        return self._waiting[0][0] if self._waiting else None

    # -- inside ----------------------------------------------------------------------------

    def _line(self, delivery: Delivery) -> Line:
        key = "" if self.per_url == 1 else (delivery.ordering_key or delivery.id)
        return delivery.destination or "", key

    def _schedule(self, delivery: Delivery) -> None:
        if delivery.id in self._flying:
            return  # `finished` schedules it
        parent = parent_key(delivery.ordering_key) if self.per_url != 1 else None
        if parent is not None and (delivery.destination or "", parent) in self._lines:
            self._held.setdefault((delivery.destination or "", parent), set()).add(self._line_of[delivery.id])
            self._stamps.pop(delivery.id, None)  # any entry it had no longer applies
            return
        stamp = next(self._stamp)
        self._stamps[delivery.id] = stamp
        heapq.heappush(self._waiting, (delivery.next_attempt_at, stamp, delivery.id))

    def _replace(self, delivery: Delivery) -> None:
        """A pending delivery changed from outside the dispatcher (redelivered now, maybe to
        another URL): it takes its place again."""
        if self._line_of[delivery.id] == self._line(delivery):
            line = self._lines[self._line_of[delivery.id]]
            if line[0] is delivery:
                self._schedule(delivery)  # the old entry's stamp no longer matches
            return
        self.discard(delivery.id)
        self.put(delivery)
