"""What the pages make of the control API's answers: filters, timelines, counts. Nothing
here reads the state; it only rearranges answers for reading."""

from __future__ import annotations

from collections import Counter
from typing import Any

from klavi_mock.domain.consents import TRANSITIONS

DELIVERY_STATUSES = ("pending", "delivered", "failed", "undeliverable")
CLOCK_PRESETS = (("1 h", 3600), ("1 day", 86_400), ("12 months", 365 * 86_400))
CLOCK_UNITS = (("minutes", 60), ("hours", 3600), ("days", 86_400), ("months (30 days)", 30 * 86_400))


def digits(value: str | None) -> str:
    return "".join(c for c in value or "" if c.isdigit())


def matches_tax_id(item: dict, tax_id: str) -> bool:
    wanted = digits(tax_id)
    return not wanted or wanted in (item.get("personalTaxId"), item.get("businessTaxId"))


def consent_id_of(event: dict) -> str | None:
    consents = (event.get("payload") or {}).get("consents")
    return consents.get("consentId") if isinstance(consents, dict) else None


def timelines(deliveries: list[dict]) -> dict[str, list[dict]]:
    """consentId -> the events sent about it, oldest first (every status change sends one)."""
    found: dict[str, list[dict]] = {}
    for delivery in sorted(deliveries, key=lambda d: d["createdAt"]):
        if delivery["kind"] != "event" or not isinstance(delivery["body"], list):
            continue
        for event in delivery["body"]:
            consent_id = consent_id_of(event) if isinstance(event, dict) else None
            if consent_id:
                status = (event["payload"]["consents"] or {}).get("status")
                found.setdefault(consent_id, []).append(
                    {
                        "at": event.get("eventTime") or delivery["createdAt"],
                        "eventName": event.get("eventName"),
                        "status": status,
                        "delivery": delivery["status"],
                        "deliveryId": delivery["deliveryId"],
                    }
                )
    return found


def allowed_statuses(status: str, forceable: list[str]) -> list[str]:
    """The statuses the force action may offer for a consent in `status`."""
    return [s for s in forceable if s in TRANSITIONS.get(status, ())]


def delivery_counts(answer: Any, deliveries: list[dict]) -> dict[str, int]:
    if isinstance(answer, dict) and isinstance(answer.get("counts"), dict):
        return {status: answer["counts"].get(status, 0) for status in DELIVERY_STATUSES}
    counted = Counter(d["status"] for d in deliveries)
    return {status: counted.get(status, 0) for status in DELIVERY_STATUSES}


def coverage(tenant: dict) -> dict[str, Any]:
    # Unknown paths ("GET /data/v1/nope") and the overflow bucket are listed but not operations.
    exercised = len([op for op in tenant["operations"] if " " not in op and not op.startswith("(")])
    total = exercised + len(tenant["notExercised"])
    contracts = [  # each Klavi contract the client called: (name, exercised, operations)
        (name, one["exercised"], one["operations"])
        for name, one in (tenant.get("contracts") or {}).items()
        if one.get("called")
    ]
    return {
        "exercised": exercised,
        "total": total,
        "percent": round(100 * exercised / total) if total else 0,
        "contracts": contracts,
    }


# The webhook chaos modes the cockpit's form offers (PUT /__mock/tenants/{appId}/chaos).
CHAOS_MODES = (
    "duplicate",
    "reportTwice",
    "outOfOrder",
    "delay",
    "batch",
    "badSignature",
    "missingSignature",
    "staleTimestamp",
)


# -- payments (the payments page) --------------------------------------------------------

PAYMENT_CLOCK_PRESETS = (("1 s", 1), ("1 min", 60), ("1 h", 3600), ("1 day", 86_400), ("3 days", 3 * 86_400))
LEVER_LABELS = {
    "approve": "Approve at bank",
    "refuse": "Refuse at bank",
    "expire": "Expire",
    "complete": "Complete",
    "reject": "Reject",
    "cancel": "Cancel (payer)",
    "error": "Error",
    "revoke": "Revoke at bank",
}
LEVER_HELP = {
    "approve": "The payer authorises at the bank (the persona's bank still decides)",
    "refuse": "The payer refuses at the bank",
    "expire": "Its open window closes now",
    "complete": "Settled now, step by step (a scheduled one as if its date had come)",
    "reject": "The payer's bank rejects it, with the reason chosen",
    "cancel": "The payer cancels the scheduled payment at the bank",
    "error": "The bank fails",
    "revoke": "The payer revokes the consent at the bank; its scheduled charges are cancelled",
}


def lever_reasons(body_schema: dict | None) -> list[str]:
    """The reasons a reject lever takes, as the control API's spec lists them."""
    assert body_schema is not None, "mock-admin.yaml gives each force operation a body"
    return list(body_schema["properties"]["reason"]["enum"])


def payment_personas(personas: list[dict]) -> list[dict]:
    """The personas that script a payer (instant payments or Automatic Pix)."""
    return [p for p in personas if p.get("payment") or p.get("automaticPix")]
