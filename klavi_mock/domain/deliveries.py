"""The outbox: every webhook the mock owes a receiver, with every attempt made.

A delivery is created in the same step as the change that causes it, so none is lost;
the dispatcher sends it later. Nothing is dropped silently: a delivery that exhausts its
retries is `failed`, one with nowhere to go is `undeliverable`, and both can be
redelivered.

Order: each delivery has an ordering key (`link:<id>`, `link:<id>/consent:<id>`,
`request:<id>`): deliveries with the same key to the same URL go out one at a time in the
order they were created, a retry holding back the later ones. A consent's key names its
link's key as its parent (`parent_key`): while the link's own deliveries to that URL are
pending (link_created, and its retries), its consents' wait. So a receiver that creates its
link record on link_created never meets an unknown linkId. Different keys otherwise go in
parallel, the consents of one link too (`queue.DeliveryQueue` arranges that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

MAX_RETRIES = 5  # after the first attempt: six attempts in all
FIRST_BACKOFF = 0.25  # seconds, doubled after each failed attempt
TIMEOUT = 10.0  # seconds per attempt
MAX_REDIRECTS = 3
EXCERPT = 500  # characters of the receiver's answer kept in the log

PENDING, DELIVERED, FAILED, UNDELIVERABLE = "pending", "delivered", "failed", "undeliverable"


def consent_key(link_id: str, consent_id: str) -> str:
    """The ordering key of a consent's deliveries: in its link's line."""
    return f"link:{link_id}/consent:{consent_id}"


def parent_key(ordering_key: str | None) -> str | None:
    """The key whose pending deliveries hold this one's back: a consent's link
    (`link:<id>/consent:<id>` -> `link:<id>`). None for the others, and for a key chaos gave
    a line of its own (`<key>~<deliveryId>`: chaos reorders on purpose)."""
    if not ordering_key or "~" in ordering_key or "/" not in ordering_key:
        return None
    return ordering_key.split("/", 1)[0]


def shown_key(ordering_key: str | None) -> str | None:
    """The key as the control API shows it: without the parent a consent's key carries
    (`link:<id>/consent:<id>` -> `consent:<id>`, as before the parent was added)."""
    return ordering_key.rsplit("/", 1)[-1] if ordering_key else ordering_key


def key_names(ordering_key: str | None, wanted: str) -> bool:
    """Whether a filter for `wanted` finds the key: the whole key, or its last part
    (`consent:<id>` finds `link:<id>/consent:<id>`, as it found `consent:<id>` before;
    `link:<id>` finds only the link's own deliveries, as before)."""
    if ordering_key is None:
        return False
    return ordering_key == wanted or shown_key(ordering_key) == wanted


def delivery_id(seq: int, now: datetime) -> str:
    """A delivery's id from its number (the store numbers them: `Store.next_delivery_id`)."""
    return f"dlv_{seq:06d}_{int(now.timestamp() * 1000)}"


@dataclass
class Attempt:
    number: int
    at: datetime
    url: str
    status_code: int | None
    latency_ms: float
    error: str | None
    response_excerpt: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class Delivery:
    id: str
    tenant_id: str
    kind: str  # "event" or "report"
    name: str  # the eventName, or the report's productName
    body: bytes
    created_at: datetime
    destination: str | None
    next_attempt_at: datetime
    request_id: str | None = None
    ordering_key: str | None = None  # same key, same URL: one at a time, in creation order
    chaos: dict[str, Any] = field(default_factory=dict)  # what the tenant's webhook chaos did to it (chaos.py)
    status: str = PENDING
    attempts: list[Attempt] = field(default_factory=list)
    retries_left: int = MAX_RETRIES
    in_flight: bool = False

    @property
    def seq(self) -> int:
        """Its number: creation order, across restarts."""
        return int(self.id.split("_")[1])

    def record(self, attempt: Attempt, now: datetime) -> None:
        """Log an attempt and decide what comes next."""
        self.attempts.append(attempt)
        self.in_flight = False
        if attempt.succeeded:
            self.status = DELIVERED
        elif self.retries_left > 0:
            backoff = FIRST_BACKOFF * 2 ** (MAX_RETRIES - self.retries_left)
            self.retries_left -= 1
            self.next_attempt_at = now + timedelta(seconds=backoff)
        else:
            self.status = FAILED

    def redeliver(self, now: datetime, destination: str | None) -> None:
        self.destination = destination
        self.status = PENDING if destination else UNDELIVERABLE
        self.retries_left = MAX_RETRIES
        self.next_attempt_at = now


def new_delivery(
    *,
    id: str,
    tenant_id: str,
    kind: str,
    name: str,
    body: bytes,
    destination: str | None,
    now: datetime,
    not_before: datetime | None = None,
    request_id: str | None = None,
    ordering_key: str | None = None,
) -> Delivery:
    return Delivery(
        id=id,
        tenant_id=tenant_id,
        kind=kind,
        name=name,
        body=body,
        created_at=now,
        destination=destination,
        next_attempt_at=not_before or now,
        request_id=request_id,
        ordering_key=ordering_key,
        status=PENDING if destination else UNDELIVERABLE,
    )
