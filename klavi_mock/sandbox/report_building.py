"""A report request's reports, built: a pure function of the request, what its persona
scripts for reports, and the partner's secretKey (for the "CPF encoded" variant). It reads
and changes no state, so it runs anywhere: on a worker thread, or in the builder process
(report_builder.py), which is why what goes in and out is small and picklable.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

from klavi_mock.domain.encryption import encrypt_report
from klavi_mock.domain.personas import Persona
from klavi_mock.domain.report_requests import ReportRequest
from klavi_mock.domain.reports import PRODUCTS, ReportLink, build_report
from klavi_mock.domain.tasks import PARTIAL_TRANSACTIONS
from klavi_mock.webhooks.signing import encode_body

BUILD_FAILED = 5000  # a report that could not be built: Klavi's common-error range (x-mock-choice)


@dataclass(frozen=True)
class Scripted:
    """What a persona scripts for its reports (personas.yaml's `reports`)."""

    outcome: str = "ok"  # ok | fail | partial
    error_code: int = 5001
    error_message: str = "Failed to generate the report"

    @classmethod
    def of(cls, persona: Persona) -> Scripted:
        return cls(persona.report_outcome, persona.report_error_code, persona.report_error_message)


@dataclass(frozen=True)
class Built:
    """One product's report, ready for the outbox: what its event says, and its body."""

    product: str
    code: int
    message: str
    report_id: str  # productReportId
    body: bytes  # the webhook's body, as sent and signed


def build_each(request: ReportRequest, scripted: Scripted, secret_key: str) -> tuple[list[Built], list[str]]:
    """Every product's report. One that fails to build becomes a failed report (code 5000,
    no data), so the partner still hears of every product; why it failed (with the
    traceback) is in the second list, for the caller's log."""
    built, failures = [], []
    for name in request.products:
        try:
            report = report_as_sent(request, scripted, secret_key, name)
        except Exception as exc:
            failures.append(f"building {name} of report request {request.id} failed\n{traceback.format_exc()}")
            report = report_of(request, name, BUILD_FAILED, f"the report could not be generated ({type(exc).__name__})")
        built.append(Built(name, report["code"], report["message"], report["productReportId"], encode_body(report)))
    return built, failures


def report_as_sent(request: ReportRequest, scripted: Scripted, secret_key: str, product: str) -> dict[str, Any]:
    """`product`'s report for `request`, with the outcome its persona and scope give."""
    code, message = outcome(scripted, product, request.scope)
    report = report_of(request, product, code, message)
    if request.encrypted:
        encrypt_report(report, secret_key, request.created_at)
    return report


def outcome(scripted: Scripted, product: str, scope: list[ReportLink]) -> tuple[int, str]:
    if scripted.outcome == "fail":
        return scripted.error_code, scripted.error_message
    if scripted.outcome == "partial":
        return 204, "partial: some of the institution's APIs were unavailable"
    if any(link.open_data_code == PARTIAL_TRANSACTIONS for link in scope):
        return 204, "partial: partial transaction missing (the Open Data connection's code 202)"
    permission = PRODUCTS[product].permission
    if not any(permission in c.permissions_granted for link in scope for c in link.consents):
        return 204, f"partial: no consent in scope grants {permission}"
    return 200, "ok"


def report_of(request: ReportRequest, product: str, code: int, message: str) -> dict[str, Any]:
    """`product`'s report for `request`, with this outcome (code and message)."""
    return build_report(
        product,
        request_id=request.id,
        tax_id=request.tax_id,
        now=request.created_at,
        links=request.scope,
        external_info=request.external_info,
        code=code,
        message=message,
        representative_tax_id=request.representative_tax_id,
    )
