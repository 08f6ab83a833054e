"""The delivery log: every delivery the mock made or owes, oldest first, read a page at a
time, newest first, with a cursor that stays valid while the log grows.

A cursor `c<n>` means "older than delivery number n". Delivered deliveries beyond the
retention bound are forgotten by the store (`MemoryStore.forget_delivery`); pending,
failed and undeliverable ones never are.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterator

from klavi_mock.domain.deliveries import DELIVERED, FAILED, PENDING, UNDELIVERABLE, Delivery

STATUSES = (PENDING, DELIVERED, FAILED, UNDELIVERABLE)


class DeliveryLog:
    def __init__(self) -> None:
        self._by_id: dict[str, Delivery] = {}
        self._order: list[Delivery] = []  # by seq; forgotten ones are dropped lazily
        self._forgotten = 0
        self._counted: dict[str, str] = {}  # id -> the status it is counted under
        self._counts: Counter = Counter()  # by status, of every delivery: kept as they change

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, delivery_id: object) -> bool:
        return delivery_id in self._by_id

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def get(self, delivery_id: str) -> Delivery | None:
        return self._by_id.get(delivery_id)

    def __getitem__(self, delivery_id: str) -> Delivery:
        return self._by_id[delivery_id]

    def values(self):
        return self._by_id.values()

    def add(self, delivery: Delivery) -> None:
        self._by_id[delivery.id] = delivery
        self.recount(delivery)
        if self._order and self._order[-1].seq > delivery.seq:  # loaded out of order
            bisect.insort(self._order, delivery, key=lambda d: d.seq)
        else:
            self._order.append(delivery)

    def recount(self, delivery: Delivery) -> None:
        """`delivery`'s status may have changed (the store says so after each change)."""
        before = self._counted.get(delivery.id)
        if before != delivery.status and delivery.id in self._by_id:
            if before is not None:
                self._counts[before] -= 1
            self._counts[delivery.status] += 1
            self._counted[delivery.id] = delivery.status

    def remove(self, delivery_id: str) -> None:
        if self._by_id.pop(delivery_id, None) is not None:
            self._counts[self._counted.pop(delivery_id)] -= 1
            self._forgotten += 1
            if self._forgotten > len(self._order) // 2:  # keep the dead weight bounded
                self._order = [d for d in self._order if d.id in self._by_id]
                self._forgotten = 0

    def clear(self) -> None:
        self._by_id.clear()
        self._order.clear()
        self._forgotten = 0
        self._counted.clear()
        self._counts.clear()

    def copy(self) -> DeliveryLog:
        other = DeliveryLog()
        other._by_id, other._order, other._forgotten = dict(self._by_id), list(self._order), self._forgotten
        other._counted, other._counts = dict(self._counted), Counter(self._counts)
        return other

    def page(
        self, matches: Callable[[Delivery], bool], limit: int, cursor: int | None = None
    ) -> tuple[list[Delivery], int | None]:
        """Up to `limit` matching deliveries, newest first, older than `cursor`; and the
        cursor of the next page (None at the end)."""
        end = len(self._order) if cursor is None else bisect.bisect_left(self._order, cursor, key=lambda d: d.seq)
        items: list[Delivery] = []
        for index in range(end - 1, -1, -1):
            delivery = self._order[index]
            if delivery.id in self._by_id and matches(delivery):
                if len(items) == limit:
                    return items, items[-1].seq
                items.append(delivery)
        return items, None

    def counts(self, matches: Callable[[Delivery], bool] | None = None) -> dict[str, int]:
        """By status, of the deliveries that match (None: of all, at no cost)."""
        counted = self._counts if matches is None else Counter(d.status for d in self._by_id.values() if matches(d))
        return {status: counted[status] for status in STATUSES}
