"""What a fault rule is: which requests it matches, when it fires, and what it does.

A rule, as the control API (POST /__mock/faults), the config file (`faults:`) and the
pytest plugin write it, is one flat object:

    match    appId, operationId (of the data or the payments contract), method,
             path (a glob on the request path)                   all optional
    trigger  everyNth, times, probability (+ seed)      default: every matching request
    action   status (+ retryAfterSeconds, message) | fault (timeout, drop, truncate,
             malformed; + timeoutSeconds) | delayMs, alone or before a status or fault
    report   giveUpSeconds: no retry within this long counts as "gave up" (default 30)

Its shape is checked against the control API's own request schema (openapi/mock-admin.yaml,
operation createFault), so the file and the API accept exactly the same rules.
"""

from __future__ import annotations

import fnmatch
import random
import secrets
from dataclasses import dataclass, field
from typing import Any

from klavi_mock.errors import BUSINESS_ERRORS
from klavi_mock.spec.operations import load_spec
from klavi_mock.spec.validation import problems

# HTTP statuses a rule may answer besides the business codes (which go out as HTTP 416).
HTTP_STATUSES = (401, 403, 429, 500, 502, 503, 504)
FAULT_KINDS = ("timeout", "drop", "truncate", "malformed")
DEFAULT_RETRY_AFTER = 1  # seconds, for a 429 that names none
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_GIVE_UP_SECONDS = 30.0


class RuleError(ValueError):
    """A rule that cannot be used; `problems` are `field: problem` lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class FaultRule:
    """One rule and its trigger's running counts (matched and fired so far)."""

    id: str
    name: str | None = None
    # match
    app_id: str | None = None
    operation_id: str | None = None
    method: str | None = None
    path: str | None = None
    # trigger
    every_nth: int | None = None
    times: int | None = None
    probability: float | None = None
    seed: int | None = None
    # action
    status: int | None = None
    retry_after: int | None = None
    message: str | None = None
    delay_ms: int = 0
    fault: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    give_up_seconds: float = DEFAULT_GIVE_UP_SECONDS
    source: str = "api"  # api | config: config rules come back after a reset
    raw: dict = field(default_factory=dict, repr=False)  # as given, to make it anew on reset
    matched: int = 0
    fired: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.seed is not None:
            self._random = random.Random(self.seed)

    def matches(self, app_id: str | None, operation_id: str, method: str, path: str) -> bool:
        return (
            (self.app_id is None or self.app_id == app_id)
            and (self.operation_id is None or self.operation_id == operation_id)
            and (self.method is None or self.method == method)
            and (self.path is None or fnmatch.fnmatchcase(path, self.path))
        )

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def trips(self) -> bool:
        """Count one matching request; True when the rule fires on it. Every draw of the
        random generator happens on a counted request, so a seeded rule fires on the same
        requests of the same sequence every run."""
        if self.exhausted:
            return False
        self.matched += 1
        if self.every_nth is not None and self.matched % self.every_nth:
            return False
        if self.probability is not None and self._random.random() >= self.probability:
            return False
        self.fired += 1
        return True

    @property
    def http_status(self) -> int | None:
        """What goes on the status line: a business code answers 416."""
        if self.status is None:
            return None
        return 416 if self.status in BUSINESS_ERRORS else self.status

    @property
    def sent_status(self) -> int | None:
        """The status line the client gets: None when it gets none (drop, timeout) or the
        handler's (a delay only)."""
        if self.fault in ("malformed", "truncate"):
            return 200
        return self.http_status

    @property
    def action(self) -> str:
        """The action in a few words, for the reports: "status 429", "drop", "delay 200 ms"."""
        parts = [f"delay {self.delay_ms} ms"] if self.delay_ms else []
        if self.status is not None:
            parts.append(f"status {self.status}")
        if self.fault is not None:
            parts.append(self.fault)
        return " + ".join(parts)

    def view(self) -> dict[str, Any]:
        return {
            "faultId": self.id,
            **({"name": self.name} if self.name else {}),
            "source": self.source,
            **{key: value for key, value in self.raw.items() if key != "name"},
            "action": self.action,
            "matched": self.matched,
            "fired": self.fired,
            "remaining": None if self.times is None else max(self.times - self.fired, 0),
            "active": not self.exhausted,
        }


def _body_validator():

    return load_spec("mock-admin.yaml").operations["createFault"].body_validator


def parse_rule(raw: Any, where: str = "body", source: str = "api", rule_id: str | None = None) -> FaultRule:
    """Check a rule as written (field names as in the API) and build it; RuleError names
    each wrong field as `<where>.<field>: problem`."""

    found = problems(_body_validator(), raw, where)
    if found:
        raise RuleError(found)
    status = raw.get("status")
    retry_after = raw.get("retryAfterSeconds")
    if status == 429 and retry_after is None:
        retry_after = DEFAULT_RETRY_AFTER
    return FaultRule(
        id=rule_id or f"flt_{secrets.token_hex(6)}",
        name=raw.get("name"),
        app_id=raw.get("appId"),
        operation_id=raw.get("operationId"),
        method=raw.get("method"),
        path=raw.get("path"),
        every_nth=raw.get("everyNth"),
        times=raw.get("times"),
        probability=raw.get("probability"),
        seed=raw.get("seed"),
        status=status,
        retry_after=retry_after,
        message=raw.get("message"),
        delay_ms=raw.get("delayMs", 0),
        fault=raw.get("fault"),
        timeout_seconds=raw.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS),
        give_up_seconds=raw.get("giveUpSeconds", DEFAULT_GIVE_UP_SECONDS),
        source=source,
        raw=dict(raw),
    )
