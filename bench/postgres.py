"""Flows per second over PostgreSQL, against one in-memory process, in one run:

    python bench/postgres.py [--duration SECONDS] [--clients N] [--rounds N] [--quick]

Three mocks, each a real `klavi-mock serve` on a free loopback port, one after the other:
in memory (the default), on PostgreSQL with one process, and on PostgreSQL with
`--workers 2`; `--rounds` times, alternated (this machine's speed drifts within minutes),
each ratio against the in-memory mock of the same round. Each gets the API-only flow of
bench/flowbench.py (auth, link, institutions, consent, approval, report request, the
report's webhook) from `--clients` concurrent clients for `--duration` seconds. PostgreSQL is a throwaway server (tests/postgres.py:
initdb + pg_ctl, fsync off), a fresh database per mock.

Printed, and written to bench/results/postgres.md: flows/s and its ratio to the in-memory
mock; CPU seconds per flow of the mock (its processes, workers and report builders included) and of PostgreSQL
(the postmaster and its backends), from /proc/<pid>/stat. Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import flowbench  # noqa: E402  (bench/ is not a package)
import harness  # noqa: E402

from tests.postgres import Server  # noqa: E402
from tests.servers import free_port  # noqa: E402


def postmaster_pid(data: Path) -> int:
    return int((data / "postmaster.pid").read_text().split()[0])


def run_one(label: str, extra: list[str], options: argparse.Namespace, pg: Server | None) -> dict:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "klavi_mock",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    command += ["--no-access-log", "--log-level", "warning", *extra]
    log = tempfile.TemporaryFile()  # noqa: SIM115
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/__mock/health", timeout=0.5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"{label} did not start: {log.read().decode()[-800:]}") from None
                time.sleep(0.05)
        mock_before = harness.tree_cpu(process.pid)
        pg_before = harness.tree_cpu(postmaster_pid(pg.data)) if pg else 0.0
        result = asyncio.run(flowbench.run_mock_flows(base, options.clients, 100_000, options.duration, run_tag=label))
        mock_cpu = harness.tree_cpu(process.pid) - mock_before
        pg_cpu = (harness.tree_cpu(postmaster_pid(pg.data)) - pg_before) if pg else 0.0
        institutions = _institutions(base, options) if options.tools.wrk else None
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    flows = max(result.completed, 1)
    return {
        "label": label,
        "flows": result.completed,
        "failed": result.failed,
        "per_second": result.per_second,
        "mock_cpu": mock_cpu / flows,
        "pg_cpu": pg_cpu / flows,
        "failures": result.failures,
        "institutions": institutions.per_second if institutions else None,
    }


def _institutions(base: str, options: argparse.Namespace) -> harness.WrkResult:
    """wrk on `GET /links/institutions` (64 connections, half of `--duration`), not pinned:
    every process of the mock may use every core."""
    _, link_token = harness.tokens(base)
    return harness.run_wrk(
        options.tools,
        "institutions",
        f"{base}/data/v1/links/institutions",
        max(1, round(options.duration / 2)),
        64,
        headers=(f"Authorization: Bearer {link_token}",),
    )


MOCKS = (  # (label, the options of `serve` over PostgreSQL; None: in memory)
    ("memory, 1 process", None),
    ("PostgreSQL, 1 process", []),
    ("PostgreSQL, --workers 2", ["--workers", "2"]),
)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of flows per mock (default 20)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent flow clients (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three mocks, alternated (default 3)")
    parser.add_argument("--quick", action="store_true", help="3 s per mock, one round: a smoke run, not for quoting")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "postgres.md")
    options = parser.parse_args(argv)
    if options.quick:
        options.duration, options.rounds = 3.0, 1
    options.tools = dataclasses.replace(harness.find_tools(), taskset=None)  # wrk not pinned
    pg = Server()
    runs: dict[str, list[dict]] = {label: [] for label, _ in MOCKS}
    try:
        for number in range(options.rounds):
            for which, (label, postgres) in enumerate(MOCKS):
                if postgres is None:
                    runs[label].append(run_one(label, [], options, None))
                else:  # a fresh database for each
                    url = pg.database(f"bench_{number}_{which}")
                    runs[label].append(run_one(label, ["--database-url", url, *postgres], options, pg))
    finally:
        pg.stop()
    memory = runs[MOCKS[0][0]]
    lines = [
        f"# Flows over PostgreSQL ({options.clients} clients, {options.duration:g} s a mock, "
        f"{options.rounds} rounds alternated, nproc {os.cpu_count()})",
        "",
        "Each ratio is taken against the in-memory mock of the same round; the median and the range of the rounds.",
        "",
        "| mock | flows | failed | flows/s (median) | × memory (median) | range | mock CPU ms/flow | PostgreSQL CPU ms/flow "
        "| `GET /links/institutions` req/s (median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, _ in MOCKS:
        rows = runs[label]
        ratios = [row["per_second"] / (base["per_second"] or 1.0) for row, base in zip(rows, memory, strict=True)]
        lines.append(
            f"| {label} | {sum(r['flows'] for r in rows)} | {sum(r['failed'] for r in rows)} | "
            f"{_median([r['per_second'] for r in rows]):.1f} | {_median(ratios):.2f}× | "
            f"{min(ratios):.2f}× to {max(ratios):.2f}× | {_median([r['mock_cpu'] for r in rows]) * 1000:.1f} | "
            f"{_median([r['pg_cpu'] for r in rows]) * 1000:.1f} | "
            f"{_median([r['institutions'] for r in rows if r['institutions']]):.0f} |"
        )
    one, two = runs[MOCKS[1][0]], runs[MOCKS[2][0]]
    if all(row["institutions"] for row in one + two):
        ratios = [b["institutions"] / a["institutions"] for a, b in zip(one, two, strict=True)]
        lines.append(
            f"\n`GET /links/institutions` (wrk, 64 connections), `--workers 2` ÷ one process, same round: "
            f"{_median(ratios):.2f}× (median; {min(ratios):.2f}× to {max(ratios):.2f}×)."
        )
    elif not options.tools.wrk:
        lines.append("\n`GET /links/institutions`: not measured (wrk is not installed).")
    for label, _ in MOCKS:
        for number, row in enumerate(runs[label]):
            if row["failures"]:
                lines.append(f"\n{label}, round {number + 1}: failures {row['failures']}")
    text = "\n".join(lines) + "\n"
    print(text)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(text)
    return 0 if all(row["flows"] for rows in runs.values() for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
