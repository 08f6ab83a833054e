"""Client conformance: what each tenant's client did, and where it strayed from the spec.

Every request to the Klavi API is recorded against its tenant: the operation, the status
answered, and each deviation — refused ones (400, 401, 415: the client broke the contract)
and tolerated ones (an alias such as productsCallbackUrl, a field the spec does not know).
The report adds coverage (operations and statuses exercised) and what became of the
tenant's webhooks (delivered and acknowledged, failed, pending).

Coverage is per contract (the data API, the payments API): a contract the tenant's client
never called is reported as not called, and its operations are left out of `notExercised`
(a data-only integration is not "missing" the payments API).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from klavi_mock.domain.deliveries import Delivery

if TYPE_CHECKING:
    from klavi_mock.qa.faults.reactions import ReactionLog

UNAUTHENTICATED = "(unauthenticated)"
# Distinct deviations, and operations (an unknown path counts as one), kept one by one per
# tenant: a fuzzer sends endless new ones, and a long-running shared mock must not grow
# without bound. The rest are counted together under OVERFLOW.
MAX_DISTINCT = 500
OVERFLOW = "(more)"
# Refusals a correct client meets at run time and recovers from (by signing in again, or
# making a new link): not a broken contract. Marked `recoverable` in the report and left out
# of violationCount; the pytest plugin does not fail a test on them. Matched on the refusal's
# text, which domain/tokens.py and sandbox/sandbox.py write.
RECOVERABLE = (
    re.compile(
        r"^(header\.Authorization: )?the (accessToken|linkToken|payments accessToken) expired at .*; get a new one from "
    ),
    re.compile(r"^(header\.Authorization: )?the linkToken's link no longer exists"),
)


def is_recoverable(problem: str) -> bool:
    """An expired token's 401, a link gone after a reset: runtime conditions, not violations."""
    return any(pattern.search(problem) for pattern in RECOVERABLE)


@dataclass
class TenantLog:
    requests: int = 0
    statuses: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    # operation -> field -> (problem, tolerated) -> count
    deviations: dict[str, dict[str, Counter]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(Counter)))
    distinct: int = 0  # entries in `deviations`


def field_of(problem: str) -> str:
    """ "body.personalTaxId: is not ..." -> "body.personalTaxId"."""
    head, sep, _ = problem.partition(": ")
    return head if sep and " " not in head else "(request)"


class ConformanceLog:
    def __init__(self) -> None:
        self.tenants: dict[str, TenantLog] = defaultdict(TenantLog)

    def record(
        self,
        app_id: str | None,
        operation_id: str,
        status: int,
        refused: Iterable[str] = (),
        tolerated: Iterable[str] = (),
    ) -> None:
        log = self.tenants[app_id or UNAUTHENTICATED]
        log.requests += 1
        if operation_id not in log.statuses and len(log.statuses) >= MAX_DISTINCT:
            operation_id = OVERFLOW
        log.statuses[operation_id][str(status)] += 1
        for problems, is_tolerated in ((refused, False), (tolerated, True)):
            for problem in problems:
                self._count(log, operation_id, problem, is_tolerated)

    @staticmethod
    def _count(log: TenantLog, operation_id: str, problem: str, tolerated: bool) -> None:
        name, key = field_of(problem), (problem, tolerated)
        known = key in log.deviations.get(operation_id, {}).get(name, ())
        if not known and log.distinct >= MAX_DISTINCT:
            overflow = f"further distinct deviations: only the first {MAX_DISTINCT} are kept one by one"
            operation_id, name, key = OVERFLOW, OVERFLOW, (overflow, tolerated)
        elif not known:
            log.distinct += 1
        log.deviations[operation_id][name][key] += 1

    def reset(self) -> None:
        self.tenants.clear()

    def report(
        self,
        contracts: Mapping[str, Sequence[str]],
        deliveries: Iterable[Delivery],
        app_id: str | None = None,
        faults: ReactionLog | None = None,
    ) -> dict[str, Any]:
        """The report of every tenant seen (or of `app_id`); `contracts` is contract name ->
        its operationIds (spec.operations.klavi_operations())."""
        webhooks: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
        chaos: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
        for delivery in deliveries:
            webhooks[delivery.tenant_id][delivery.name][delivery.status] += 1
            for mode in delivery.chaos:
                first = delivery.attempts[0] if delivery.attempts else None
                chaos[delivery.tenant_id][mode][
                    "acknowledged" if first and first.succeeded else "refused" if first else "waiting"
                ] += 1
        faulted = set(faults.names()) if faults is not None else set()
        names = sorted(set(self.tenants) | set(webhooks) | faulted) if app_id is None else [app_id]
        tenants = [
            {
                **self._tenant_report(name, contracts, webhooks.get(name, {})),
                "webhookChaos": _chaos_report(chaos.get(name, {})),
            }
            for name in names
        ]
        if faults is not None:  # each injected fault and how the client reacted (klavi_mock/qa/faults)
            for tenant in tenants:
                tenant["faults"] = faults.report(tenant["appId"])
        return {"tenants": tenants}

    def _tenant_report(
        self, app_id: str, contracts: Mapping[str, Sequence[str]], webhooks: dict[str, Counter]
    ) -> dict[str, Any]:
        log = self.tenants.get(app_id, TenantLog())
        coverage = {name: _coverage(operations, log.statuses) for name, operations in contracts.items()}
        violations: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for operation_id, fields in sorted(log.deviations.items()):
            violations[operation_id] = {
                name: [
                    {
                        "problem": problem,
                        "tolerated": tolerated,
                        "recoverable": not tolerated and is_recoverable(problem),
                        "count": count,
                    }
                    for (problem, tolerated), count in counts.most_common()
                ]
                for name, counts in sorted(fields.items())
            }
        items = [item for fields in violations.values() for group in fields.values() for item in group]
        refused = sum(item["count"] for item in items if not item["tolerated"] and not item["recoverable"])
        recoverable = sum(item["count"] for item in items if item["recoverable"])
        return {
            "appId": app_id,
            "requests": log.requests,
            "operations": {
                op: {"calls": sum(c.values()), "statuses": dict(sorted(c.items()))}
                for op, c in sorted(log.statuses.items())
            },
            "notExercised": [op for name, item in coverage.items() if item["called"] for op in item["notExercised"]],
            "contracts": coverage,
            "violationCount": refused,
            "recoverableCount": recoverable,
            "violations": violations,
            "webhooks": {
                name: {
                    "sent": sum(c.values()),
                    "acknowledged": c["delivered"],
                    "failed": c["failed"],
                    "pending": c["pending"],
                    "undeliverable": c["undeliverable"],
                }
                for name, c in sorted(webhooks.items())
            },
        }


def _coverage(operations: Sequence[str], called: Mapping[str, Any]) -> dict[str, Any]:
    """One contract's coverage for a tenant: whether the client called it at all (an unknown
    path under its prefix does not count), and its operations exercised and not."""
    exercised = [op for op in operations if op in called]
    return {
        "called": bool(exercised),
        "operations": len(operations),
        "exercised": len(exercised),
        "notExercised": [op for op in operations if op not in called],
    }


def _reaction(reaction: dict[str, Any]) -> str:
    words = [reaction["outcome"]]
    if reaction["retriedAfterSeconds"] is not None:
        words.append(f"after {reaction['retriedAfterSeconds']} s")
    if reaction["honouredRetryAfter"] is not None:
        words.append("honoured Retry-After" if reaction["honouredRetryAfter"] else "ignored Retry-After")
    if reaction["reauthenticated"] is not None:
        words.append("with a new token" if reaction["reauthenticated"] else "without a new token")
    return ", ".join(words)


REFUSE = ("badSignature", "missingSignature", "staleTimestamp")  # a receiver that checks turns these away


def _chaos_report(modes: dict[str, Counter]) -> dict[str, dict[str, Any]]:
    report = {}
    for mode, counts in sorted(modes.items()):
        expected = "refuse" if mode in REFUSE else "acknowledge"
        tried = counts["acknowledged"] + counts["refused"]
        wrong = counts["acknowledged"] if expected == "refuse" else counts["refused"]
        report[mode] = {
            "sent": tried + counts["waiting"],
            "acknowledged": counts["acknowledged"],
            "refused": counts["refused"],
            "expected": expected,
            "verdict": "not tried yet" if not tried else "wrong" if wrong else "ok",
        }
    return report


def render_text(report: dict[str, Any]) -> str:
    """The conformance report for humans (klavi-mock conformance)."""
    lines: list[str] = []
    for tenant in report["tenants"]:
        lines.append(
            f"tenant {tenant['appId']}: {tenant['requests']} requests, {tenant['violationCount']} violations of the spec"
        )
        lines.append(
            "  coverage: "
            + ", ".join(
                f"{name} {item['exercised']}/{item['operations']}" if item["called"] else f"{name} not called"
                for name, item in tenant.get("contracts", {}).items()
            )
        )
        lines.append("  operations exercised:")
        for op, data in tenant["operations"].items():
            statuses = ", ".join(f"{status}×{count}" for status, count in data["statuses"].items())
            lines.append(f"    {op:<38} {statuses}")
        if tenant["notExercised"]:
            lines.append("  not exercised: " + ", ".join(tenant["notExercised"]))
        if tenant["violations"]:
            lines.append("  deviations (✗ refused, ~ tolerated, ↻ recoverable at run time):")
            for op, fields in tenant["violations"].items():
                lines.append(f"    {op}")
                for items in fields.values():
                    for item in items:
                        mark = "~" if item["tolerated"] else "↻" if item.get("recoverable") else "✗"
                        lines.append(f"      {mark} {item['problem']}  (×{item['count']})")
        if tenant.get("faults", {}).get("injected"):
            faults = tenant["faults"]
            lines.append(
                f"  faults injected: {faults['injected']} (retried {faults['retried']}, gave up {faults['gaveUp']}, "
                f"waiting {faults['waiting']}, Retry-After ignored {faults['retryAfterIgnored']}):"
            )
            for item in faults["items"][-20:]:
                lines.append(
                    f"    #{item['number']} {item['operationId']:<34} {item['action']:<22} {_reaction(item['reaction'])}"
                )
        if tenant["webhooks"]:
            lines.append("  webhooks (sent / acknowledged / failed / pending / undeliverable):")
            for name, data in tenant["webhooks"].items():
                lines.append(
                    f"    {name:<38} {data['sent']} / {data['acknowledged']} / {data['failed']} / {data['pending']} / {data['undeliverable']}"
                )
        if tenant.get("webhookChaos"):
            lines.append("  the receiver under webhook chaos (sent / acknowledged / refused; should):")
            for mode, data in tenant["webhookChaos"].items():
                mark = {"ok": "✓", "wrong": "✗"}.get(data["verdict"], "?")
                lines.append(
                    f"    {mark} {mode:<36} {data['sent']} / {data['acknowledged']} / {data['refused']}; should {data['expected']}"
                )
        lines.append("")
    return "\n".join(lines) if lines else "no requests recorded yet"
