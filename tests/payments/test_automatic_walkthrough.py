"""docs/how-to/automatic-pix.md, run as written against a real `klavi-mock serve` (only the
address changes: a free port for 8080)."""

from __future__ import annotations

from pathlib import Path

from tests.processes.test_docs_walkthroughs import pytestmark, run_shell_blocks
from tests.servers import serve_process

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["pytestmark"]  # skipped without curl and jq, as the other walk-throughs


def test_the_automatic_pix_walkthrough_runs_as_written() -> None:
    with serve_process() as (base, _):
        out = run_shell_blocks(ROOT / "docs" / "how-to" / "automatic-pix.md", base)
    lines = out.splitlines()
    assert any("status=CONSENT_AUTHORIZED" in line for line in lines)
    assert "CONSENT_AUTHORIZED" in lines and "PAYMENT_SCHEDULED" in lines and "CANCELED" in lines
    assert any('"status":"PAYMENT_COMPLETED"' in line for line in lines)
    assert any('"status":"CONSENT_REVOKED"' in line for line in lines)
    assert any('"total":1' in line and "CONSENT_REVOKED" in line for line in lines)
