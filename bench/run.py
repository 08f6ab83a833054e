#!/usr/bin/env python
"""klavi-mock's benchmark: one command, one run, over loopback, beside a bare Starlette app.

    python bench/run.py [--duration SECONDS] [--connections N] [--consents N] [--quick]

Measures (bench/README.md explains each figure and the targets):
  1. wrk throughput and p50/p99 of GET /data/v1/links/institutions and POST /data/v1/auth,
  2. the same for a bare Starlette app (bench/bare_app.py): its JSON endpoint, and the
     mock's institution list served as pre-serialized bytes; every figure also as a ratio,
  3. the whole API-only flow (auth -> ... -> report webhook) with concurrent httpx clients,
  4. time from process start to the first 200 (median of several starts), mock and bare,
  5. resident memory of the mock idle and after N consents created over HTTP, and of the
     bare app.
Servers run as real processes (`python -m klavi_mock serve --no-access-log --log-level
warning`) pinned to core 0 with taskset; wrk and this driver run on core 1. The table is
printed and written as Markdown to bench/results/latest.md (--quick: bench/results/quick.md).
This file only reads the arguments and prints: bench/harness.py measures, bench/report.py
writes the table.

Nothing here asserts on time: targets are reported as met / not met, and the exit code is 0
whenever the run itself worked. Without wrk (or taskset) the parts needing it are skipped
and the report says so. Every load loop is bounded in time and count.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from harness import (
    LOAD_CORE,
    TARGET_CONSENTS,
    Options,
    find_tools,
    guarded,
    log,
    machine_info,
    phase_flows,
    phase_http,
    phase_memory,
    phase_startup,
)
from report import render


def parse_args(argv: list[str] | None) -> tuple[Options, Path]:
    parser = argparse.ArgumentParser(
        description="Benchmark klavi-mock against a bare Starlette app (see bench/README.md)."
    )
    parser.add_argument("--duration", type=int, help="seconds of each wrk measurement (default 10; --quick 1)")
    parser.add_argument("--connections", type=int, help="wrk connections (default 64; --quick 16)")
    parser.add_argument(
        "--consents", type=int, help="consents to create for the memory figure (default 100000; --quick 1000)"
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent flow clients (default 8)")
    parser.add_argument("--flow-duration", type=int, help="seconds of the flow phase (default 20; --quick 2)")
    parser.add_argument("--max-flows", type=int, default=100_000, help="upper bound on flows started (default 100000)")
    parser.add_argument("--starts", type=int, help="start-up samples per server (default 5; --quick 3)")
    parser.add_argument("--quick", action="store_true", help="a smoke run of well under a minute with tiny numbers")
    parser.add_argument(
        "--output", type=Path, help="Markdown file to write (default bench/results/latest.md; --quick: quick.md)"
    )
    args = parser.parse_args(argv)
    q = args.quick
    options = Options(
        duration=args.duration or (1 if q else 10),
        connections=args.connections or (16 if q else 64),
        consents=args.consents if args.consents is not None else (1000 if q else TARGET_CONSENTS),
        clients=max(1, args.clients),
        flow_duration=args.flow_duration or (2 if q else 20),
        max_flows=max(1, args.max_flows),
        starts=args.starts or (3 if q else 5),
        warmup=1 if q else 2,
        quick=q,
    )
    output = args.output or BENCH / "results" / ("quick.md" if q else "latest.md")
    return options, output


def main(argv: list[str] | None = None) -> int:
    options, output = parse_args(argv)
    tools = find_tools()
    if not tools.wrk:
        log("wrk not found: the wrk measurements are skipped (install it: apt-get install wrk)")
    if not tools.pinned:
        log("no pinning (taskset missing or fewer than 2 cores): servers and load share the cores")
    else:
        os.sched_setaffinity(0, {LOAD_CORE})  # this driver (flows, polling) stays off the server's core
    info = machine_info(tools)
    started = time.perf_counter()
    outcome: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="klavi-bench-") as tmp:
        logdir = Path(tmp)
        if tools.wrk:
            guarded("http", outcome, lambda: phase_http(options, tools, logdir))
        else:
            outcome["http"] = "wrk not found on PATH (apt-get install wrk); req/s and percentiles not measured"
        guarded("flows", outcome, lambda: phase_flows(options, tools, logdir))
        guarded("startup", outcome, lambda: phase_startup(options, tools, logdir))
        guarded("memory", outcome, lambda: phase_memory(options, tools, logdir))
    report = render(info, options, outcome, time.perf_counter() - started)
    print(report)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
    log(f"written to {output}")
    failed = [
        name for name, value in outcome.items() if isinstance(value, str) and not (name == "http" and not tools.wrk)
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
