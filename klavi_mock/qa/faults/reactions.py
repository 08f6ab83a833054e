"""How the client under test reacted to each injected fault.

For every faulted request the log keeps the tenant, the operation, when it arrived and when
the mock was done with it (answer sent, connection closed); the next request of the same
tenant to the same operation (faulted again or not) is its follow-up. From that: did the
client retry within the rule's giveUpSeconds, how soon after the failure (what a backoff
counts from), did it wait at least the Retry-After it was given, and, after a 401 or 403, did
it ask for a new token (POST /auth or /auth/refresh) before retrying.

Times are the wall clock (`time.time()`), not the mock's clock: a client's backoff sleeps
in real seconds, and advancing the mock's clock must not make a client look patient.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from klavi_mock.qa.faults.rules import FaultRule

UNAUTHENTICATED = "(unauthenticated)"  # as in the conformance report
AUTH_OPERATIONS = frozenset({"createAccessToken", "refreshAccessToken"})
REAUTH_STATUSES = frozenset({401, 403})
MAX_KEPT = 1000  # injected faults kept per tenant (the oldest go first)
MAX_PENDING = 100  # per tenant and operation, waiting for a follow-up


@dataclass
class InjectedFault:
    number: int
    rule: FaultRule
    app_id: str | None
    operation_id: str
    method: str
    path: str
    at: float  # when the rule fired (the request had just arrived)
    ended_at: float | None = None  # when the mock was done with it: answer sent, or connection closed
    next_at: float | None = None
    next_status: int | str | None = None  # the follow-up's status, or "faulted" when it was faulted too
    reauthenticated_at: float | None = None

    def end(self, at: float | None = None) -> None:
        self.ended_at = time.time() if at is None else at

    @property
    def since(self) -> float:
        """What a client's backoff counts from: the end of the faulted exchange."""
        return self.ended_at if self.ended_at is not None else self.at

    def outcome(self, now: float) -> str:
        window = self.rule.give_up_seconds
        if self.next_at is not None and self.next_at - self.since <= window:
            return "retried"
        if self.rule.status is None and self.rule.fault is None:
            return "answered"  # a delay only: the request was answered normally
        return "gaveUp" if now - self.since > window else "waiting"

    def view(self, now: float) -> dict[str, Any]:
        rule, outcome = self.rule, self.outcome(now)
        after = round(max(self.next_at - self.since, 0.0), 3) if self.next_at is not None else None
        honoured = None
        if rule.retry_after is not None and after is not None:
            honoured = after >= rule.retry_after
        reauthenticated = None
        if rule.status in REAUTH_STATUSES:
            reauthenticated = self.reauthenticated_at is not None and (
                self.next_at is None or self.reauthenticated_at <= self.next_at
            )
        return {
            "number": self.number,
            "faultId": rule.id,
            **({"name": rule.name} if rule.name else {}),
            "operationId": self.operation_id,
            "method": self.method,
            "path": self.path,
            "action": rule.action,
            "status": rule.sent_status,
            "businessCode": rule.status if rule.http_status == 416 else None,
            "retryAfterSeconds": rule.retry_after,
            "at": _iso(self.at),
            "reaction": {
                "outcome": outcome,
                "retried": outcome == "retried",
                "retriedAfterSeconds": after,
                "retryStatus": self.next_status,
                "honouredRetryAfter": honoured,
                "reauthenticated": reauthenticated,
                "giveUpSeconds": rule.give_up_seconds,
            },
        }


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ReactionLog:
    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self.tenants: dict[str, deque[InjectedFault]] = defaultdict(lambda: deque(maxlen=MAX_KEPT))
        self._pending: dict[tuple[str | None, str], deque[InjectedFault]] = defaultdict(
            lambda: deque(maxlen=MAX_PENDING)
        )
        self._awaiting_token: dict[str, deque[InjectedFault]] = defaultdict(lambda: deque(maxlen=MAX_PENDING))
        self._count = 0

    def injected(
        self, rule: FaultRule, app_id: str | None, operation_id: str, method: str, path: str, at: float | None = None
    ) -> InjectedFault:
        at = self.now() if at is None else at
        self._follow(app_id, operation_id, at, "faulted")
        self._count += 1
        fault = InjectedFault(self._count, rule, app_id, operation_id, method, path, at)
        self.tenants[app_id or UNAUTHENTICATED].append(fault)
        self._pending[(app_id, operation_id)].append(fault)
        if rule.status in REAUTH_STATUSES and app_id is not None:
            self._awaiting_token[app_id].append(fault)
        return fault

    @property
    def waiting(self) -> bool:
        """Whether any injected fault still waits for its follow-up (cheap: asked per request)."""
        return bool(self._pending or self._awaiting_token)

    def observed(self, app_id: str | None, operation_id: str, status: int, at: float) -> None:
        """A request answered normally (not faulted); `at` is when it arrived."""
        self._follow(app_id, operation_id, at, status)
        if operation_id in AUTH_OPERATIONS and app_id in self._awaiting_token:
            for fault in self._awaiting_token.pop(app_id):
                fault.reauthenticated_at = at

    def _follow(self, app_id: str | None, operation_id: str, at: float, status: int | str) -> None:
        # A fault on POST /auth is not tied to a tenant yet (no token): the tenant's next
        # POST /auth follows it up too.
        for key in {(app_id, operation_id), (None, operation_id)}:
            pending = self._pending.get(key)
            if not pending:
                continue
            # A request that arrived before the fault (answered later, concurrently) is not its follow-up.
            later = [fault for fault in pending if fault.at > at]
            for fault in pending:
                if fault.at <= at:
                    fault.next_at, fault.next_status = at, status
            if later:
                self._pending[key] = deque(later, maxlen=MAX_PENDING)
            else:
                del self._pending[key]

    def names(self) -> list[str]:
        return list(self.tenants)

    def report(self, app_id: str) -> dict[str, Any]:
        now = self.now()
        items = [fault.view(now) for fault in self.tenants.get(app_id, ())]
        outcomes = [item["reaction"]["outcome"] for item in items]
        return {
            "injected": len(items),
            "retried": outcomes.count("retried"),
            "gaveUp": outcomes.count("gaveUp"),
            "waiting": outcomes.count("waiting"),
            "answered": outcomes.count("answered"),
            "retryAfterIgnored": sum(1 for item in items if item["reaction"]["honouredRetryAfter"] is False),
            "items": items,
        }

    def reset(self) -> None:
        self.tenants.clear()
        self._pending.clear()
        self._awaiting_token.clear()
