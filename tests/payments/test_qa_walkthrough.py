"""docs/how-to/qa.md's payments section, run as written against a real `klavi-mock serve`
(only the address changes): each outcome QA rehearses, by lever and by persona."""

from __future__ import annotations

from pathlib import Path

from tests.processes.test_docs_walkthroughs import pytestmark, run_shell_blocks
from tests.servers import serve_process

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["pytestmark"]  # skipped without curl and jq, as the other walk-throughs


def test_the_qa_payments_section_runs_as_written() -> None:
    with serve_process() as (base, _):
        out = run_shell_blocks(ROOT / "docs" / "how-to" / "qa.md", base, "Rehearse payments")
    assert out.splitlines() == [
        "CONSENT_REJECTED REJEITADO_USUARIO",
        "CONSENT_REJECTED TEMPO_EXPIRADO_AUTORIZACAO",
        "PAYMENT_PENDING ",
        "PAYMENT_REJECTED SALDO_INSUFICIENTE",
        "PAYMENT_PENDING ",
        "PAYMENT_REJECTED SALDO_INSUFICIENTE",
        "PAYMENT_SCHEDULED ",
        "CANCELED CANCELADO_AGENDAMENTO",
        "CONSENT_AUTHORIZED",
        "CONSENT_REVOKED REVOGADO_USUARIO",
    ]
