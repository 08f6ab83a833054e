"""The fault rules in force, and which one (if any) a request trips.

Rules are tried in the order they were added; each matching rule counts the request, and
the first that fires acts (the others are not asked). Rules from the config file come back,
with fresh counts, on every reset; rules added through the control API do not.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from klavi_mock.qa.faults.reactions import InjectedFault, ReactionLog
from klavi_mock.qa.faults.rules import FaultRule, parse_rule

MAX_RULES = 100  # a fuzzer must not be able to grow the list without bound


class TooManyRules(Exception):
    pass


@dataclass(frozen=True)
class Injection:
    """A request a rule fired on: what to do to it, and its entry in the reactions log."""

    rule: FaultRule
    entry: InjectedFault

    def describe(self) -> dict[str, Any]:
        """What the request journal keeps of it (routing.Record.fault)."""
        rule = self.rule
        return {
            "faultId": rule.id,
            "name": rule.name,
            "action": rule.action,
            "status": rule.sent_status,
            "businessCode": rule.status if rule.http_status == 416 else None,
            "retryAfterSeconds": rule.retry_after,
            "delayMs": rule.delay_ms,
            "fault": rule.fault,
        }


class FaultBook:
    def __init__(self, configured: Iterable[dict] = ()) -> None:
        self._configured = [dict(raw) for raw in configured]
        self.rules: dict[str, FaultRule] = {}
        self.reactions = ReactionLog()
        self._install_configured()

    def _install_configured(self) -> None:
        for number, raw in enumerate(self._configured, 1):
            rule = parse_rule(raw, f"faults[{number - 1}]", source="config", rule_id=f"config-{number}")
            self.rules[rule.id] = rule

    def add(self, raw: dict) -> FaultRule:
        """RuleError when the rule is wrong, TooManyRules when the book is full."""
        if len(self.rules) >= MAX_RULES:
            raise TooManyRules(
                f"klavi-mock keeps at most {MAX_RULES} fault rules; DELETE /__mock/faults/{{faultId}} some first"
            )
        rule = parse_rule(raw)
        self.rules[rule.id] = rule
        return rule

    def get(self, fault_id: str) -> FaultRule | None:
        return self.rules.get(fault_id)

    def remove(self, fault_id: str) -> FaultRule | None:
        return self.rules.pop(fault_id, None)

    def clear(self) -> None:
        self.rules.clear()

    def reset(self) -> None:
        """Back to the configured rules, with fresh counts, and no reactions recorded."""
        self.rules.clear()
        self._install_configured()
        self.reactions.reset()

    def shared(self) -> list[dict[str, Any]]:
        """The rules added through the control API, as other processes rebuild them (`load`)."""
        return [{"id": rule.id, "raw": rule.raw} for rule in self.rules.values() if rule.source == "api"]

    def load(self, shared: Any) -> None:
        """The control API's rules as another process left them (a team sandbox): the
        configured ones stay, a rule kept keeps its counts here (counts are per process)."""
        wanted = [entry for entry in shared if isinstance(entry, dict)] if isinstance(shared, list) else []
        rules = {key: rule for key, rule in self.rules.items() if rule.source == "config"}
        for entry in wanted:
            kept = self.rules.get(str(entry.get("id")))
            rules[str(entry.get("id"))] = (
                kept if kept is not None else parse_rule(entry.get("raw"), rule_id=str(entry.get("id")))
            )
        self.rules = rules

    def intercept(self, app_id: str | None, operation_id: str, method: str, path: str) -> Injection | None:
        if not self.rules:  # the hot path: no rules, nothing to do
            return None
        for rule in list(self.rules.values()):
            if rule.matches(app_id, operation_id, method, path) and rule.trips():
                entry = self.reactions.injected(rule, app_id, operation_id, method, path, time.time())
                return Injection(rule, entry)
        return None
