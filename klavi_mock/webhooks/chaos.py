"""Webhook chaos, per tenant: what a receiver must survive, each mode switched on its own.

A mode's value is the probability (0 to 1) that it strikes a delivery; `seed` makes the
draws repeatable (the same events, in the same order, get the same chaos). What struck a
delivery is written on it (`Delivery.chaos`) and shown in the delivery log.

- duplicate: an event is sent twice, the same body (same eventId), one after the other.
- reportTwice: a report is sent twice, the same body.
- outOfOrder: an event leaves its line and waits `outOfOrderSeconds` (default 1), so the
  events after it about the same consent, link or request overtake it.
- delay: a delivery waits `delaySeconds` (default 2) before its first attempt.
- batch: an event waits `batchSeconds` (default 0.5) for the tenant's next events, and goes
  with them in one array (up to `batchSize`, default 5).
- badSignature / missingSignature: X-Klavi-Signature made with another key, or left out.
- staleTimestamp: X-Klavi-Timestamp an hour (`staleSeconds`) in the past.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from klavi_mock.domain.deliveries import Delivery

MODES = (
    "duplicate",
    "reportTwice",
    "outOfOrder",
    "delay",
    "batch",
    "badSignature",
    "missingSignature",
    "staleTimestamp",
)
PARAMETERS = {"outOfOrderSeconds": 1.0, "delaySeconds": 2.0, "batchSeconds": 0.5, "batchSize": 5, "staleSeconds": 3600}

SCHEMA: dict[str, Any] = {  # the config file's `webhookChaos` (the control API's is in mock-admin.yaml)
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **{mode: {"type": "number", "minimum": 0, "maximum": 1} for mode in MODES},
        "seed": {"type": "integer"},
        "outOfOrderSeconds": {"type": "number", "minimum": 0, "maximum": 3600},
        "delaySeconds": {"type": "number", "minimum": 0, "maximum": 3600},
        "batchSeconds": {"type": "number", "minimum": 0, "maximum": 60},
        "batchSize": {"type": "integer", "minimum": 2, "maximum": 100},
        "staleSeconds": {"type": "integer", "minimum": 1, "maximum": 31_536_000},
    },
}


@dataclass
class Chaos:
    settings: dict[str, Any] = field(default_factory=dict)  # as given: modes, seed, parameters
    # The batch still taking the tenant's events (mode batch); new chaos starts with none.
    open_batch: Delivery | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.settings.get("seed"))

    @property
    def active(self) -> bool:
        return any(self.settings.get(mode) for mode in MODES)

    def strikes(self, mode: str) -> bool:
        chance = self.settings.get(mode, 0)
        return bool(chance) and self._random.random() < chance

    def parameter(self, name: str) -> Any:
        return self.settings.get(name, PARAMETERS[name])

    def describe(self) -> dict[str, Any]:
        return {
            **{mode: self.settings.get(mode, 0) for mode in MODES},
            "seed": self.settings.get("seed"),
            **{name: self.parameter(name) for name in PARAMETERS},
        }


def disturb(delivery: Delivery, chaos: Chaos) -> None:
    """The modes that change only the delivery itself: its timing, its line, its headers."""
    if delivery.kind == "event" and chaos.strikes("outOfOrder"):
        delivery.chaos["outOfOrder"] = chaos.parameter("outOfOrderSeconds")
        delivery.ordering_key = f"{delivery.ordering_key or 'event'}~{delivery.id}"  # a line of its own
        delivery.next_attempt_at += timedelta(seconds=chaos.parameter("outOfOrderSeconds"))
    if chaos.strikes("delay"):
        delivery.chaos["delay"] = chaos.parameter("delaySeconds")
        delivery.next_attempt_at += timedelta(seconds=chaos.parameter("delaySeconds"))
    if chaos.strikes("missingSignature"):
        delivery.chaos["missingSignature"] = True
    elif chaos.strikes("badSignature"):
        delivery.chaos["badSignature"] = True
    if chaos.strikes("staleTimestamp"):
        delivery.chaos["staleTimestamp"] = chaos.parameter("staleSeconds")
