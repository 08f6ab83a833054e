"""bench/run.py --quick runs end to end and writes its table (no figure is checked: the
benchmark reports, it never asserts on time)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    shutil.which("wrk") is None or shutil.which("taskset") is None,
    reason="the benchmark needs wrk and taskset (apt-get install wrk util-linux)",
)
def test_quick_benchmark_runs_and_writes_the_table(tmp_path: Path) -> None:
    output = tmp_path / "quick.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("KLAVI_MOCK_")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = output.read_text()
    for heading in (
        "## 1–2. Throughput and latency",
        "## 3. The API-only flow",
        "## 4. Start-up",
        "## 5. Resident memory",
        "## Targets",
    ):
        assert heading in table
    for row in (
        "| bare GET /json |",
        "| GET /data/v1/links/institutions |",
        "| POST /data/v1/auth |",
        "`GET /links/institutions` ÷ bare, round by round: ",
        "| mock API-only flow |",
        "| mock API-only flow, --state-file |",
        "| mock on a state file of 1,000 consents |",
        "| mock after ",
    ):
        assert row in table
    assert "failed:" not in table
    assert table in done.stdout  # the same table is printed


@pytest.mark.skipif(shutil.which("taskset") is None, reason="the benchmark pins processes with taskset (util-linux)")
def test_quick_webhook_benchmark_runs_and_writes_its_table() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "webhooks.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("KLAVI_MOCK_")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = (ROOT / "bench" / "results" / "webhooks-quick.md").read_text()
    for row in (
        "| deliveries/s, backlog of 500 |",
        "| drain time 2,000 / 500 |",
        "| backlog after 20 clients",
        "| RSS before / after load / drained / reset |",
        "| p99 GET /links/institutions while",
    ):
        assert row in table
    assert table in done.stdout
