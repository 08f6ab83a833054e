"""docs/how-to/payments.md, run as written against a real `klavi-mock serve` (only the
address changes: a free port for 8080)."""

from __future__ import annotations

from pathlib import Path

from tests.processes.test_docs_walkthroughs import pytestmark, run_shell_blocks
from tests.servers import serve_process

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["pytestmark"]  # skipped without curl and jq, as the other walk-throughs


def test_the_instant_payment_walkthrough_runs_as_written() -> None:
    with serve_process() as (base, _):
        out = run_shell_blocks(ROOT / "docs" / "how-to" / "payments.md", base)
    lines = out.splitlines()
    assert lines[0] == "CONSENT_AWAITING_AUTHORIZATION"
    assert lines[1].startswith("https://partner.example.com/pix/return?paymentId=")
    assert lines[1].endswith("&clientRequestId=order-1001&status=PAYMENT_PENDING")
    assert '"status":"PAYMENT_COMPLETED"' in lines[2] and '"clientRequestId":"order-1001"' in lines[2]
    assert lines[3].endswith("&clientRequestId=order-1002&status=PAYMENT_PENDING")
