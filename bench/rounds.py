#!/usr/bin/env python
"""Rounds of flow load with a reset between them, this tree against another commit's, alternated:

    python bench/rounds.py --baseline /path/to/older/worktree [--clients 200] [--seconds 30]
                           [--rounds 3] [--pairs 2] [--warm-up 5] [--rate FLOWS/S]
                           [--unpinned] [--quick]

Each server is a real `python -m klavi_mock serve` started from its own tree (PYTHONPATH and
working directory), pinned like bench/run.py's (mock on core 0, this driver and its webhook
receiver on core 1, when taskset and 2 cores are there). For each server, `--rounds` times:
`--clients` API-only flow clients (bench/flowbench.py: auth, link, institutions, consent,
bank approval, report request, report webhook received) for `--seconds`; then the webhooks
still pending when the load stops and the seconds until none is (the receiver still up);
then `POST /__mock/reset` and the RSS after it. `--rate`: flows start at that rate however
fast the mock is (an open load), so both trees serve the same load; by default each client
starts its next flow at once (a closed loop: a faster mock gets more work). `--unpinned`: no
taskset. Per round: flows/s, the mock's CPU seconds per flow (its processes', its report
builder's included: their own accounting in /proc, steadier than flows/s on a shared
machine), the report request's p50/p99 (and POST /auth's p99, a cheap request: the queue every request
waits in when the mock's core is saturated), the same two p99s over the flows that started
after `--warm-up` seconds (sustained load: without the first wave, every client starting at
once on a cold mock), pending, drain seconds, RSS after the reset (the mock's process, and
with its report builder's); and the RSS idle before the first round.

The two trees run in turn (baseline, this tree, baseline, ... `--pairs` times) and each
figure of this tree is divided by the baseline's of the same pair: the ratio pair by pair,
then the median. Nothing asserts on time. Writes bench/results/rounds.md (`--quick`,
`--unpinned`, `--rate R`: rounds-quick.md, rounds-unpinned.md, rounds-rateR.md).
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

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import flowbench  # noqa: E402
import harness  # noqa: E402

MIB = 1024


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _round(
    mock: harness.Server, clients: int, seconds: float, warm_up: float, tag: str, rate: float | None
) -> dict:
    receiver = flowbench.AsyncReceiver()
    await receiver.start()
    try:
        cpu_before = harness.tree_cpu(mock.pid)
        result = await flowbench.run_mock_flows(
            mock.base, clients, 10**7, seconds, tag, webhook_timeout=seconds + 60, receiver=receiver, rate=rate
        )
        cpu = harness.tree_cpu(mock.pid) - cpu_before
        stopped = time.perf_counter()
        async with httpx.AsyncClient(base_url=mock.base, timeout=60) as client:

            async def pending() -> int:
                return (await client.get("/__mock/webhooks", params={"limit": 1})).json()["counts"]["pending"]

            backlog = await pending()
            while await pending():
                if time.perf_counter() - stopped > 600:
                    raise RuntimeError("the backlog did not drain in 600 s")
                await asyncio.sleep(0.05)
            drained = time.perf_counter() - stopped
            (await client.post("/__mock/reset", json={})).raise_for_status()
        await asyncio.sleep(0.5)
        report = result.steps.get("report_request", [])
        steady = result.steady_steps(warm_up)
        if result.failures:
            harness.log(f"failed flows: {dict(result.failures)}")
        return {
            "flows": result.completed,
            "failed": result.failed,
            "flows/s": result.per_second,
            "cpu ms/flow": 1000 * cpu / max(1, result.completed),
            "report p50 ms": 1000 * p(report, 0.5),
            "report p99 ms": 1000 * p(report, 0.99),
            # The yardstick: a cheap request in the same run (its wait is the event loop's queue).
            "auth p99 ms": 1000 * p(result.steps.get("auth", []), 0.99),
            # Sustained load: the flows that started after the warm-up (not the first wave,
            # every client at once on a cold mock).
            "steady report p99 ms": 1000 * p(steady.get("report_request", []), 0.99),
            "steady auth p99 ms": 1000 * p(steady.get("auth", []), 0.99),
            "pending": backlog,
            "drain s": drained,
            "RSS after reset MiB": (mock.rss_kib() or 0) / MIB,
            # with its report builder's (a child process of `serve`'s since 2026-12)
            "RSS, builder included MiB": harness.tree_rss_kib(mock.pid) / MIB,
        }
    finally:
        await receiver.stop()


def measure(root: Path, tools: harness.Tools, logdir: Path, options: argparse.Namespace) -> dict:
    with harness.running("mock", tools, logdir, root=root) as mock:
        time.sleep(1)
        idle = (mock.rss_kib() or 0) / MIB, harness.tree_rss_kib(mock.pid) / MIB
        rounds = []
        for number in range(options.rounds):
            harness.log(f"{root.name}: round {number + 1} of {options.rounds}")
            tag = f"r{number}-{time.time():.0f}"
            rounds.append(
                asyncio.run(_round(mock, options.clients, options.seconds, options.warm_up, tag, options.rate))
            )
        return {"idle MiB": idle, "rounds": rounds}


def git_head(root: Path) -> str:
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True
    )
    return done.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


FIGURES = (
    "flows/s",
    "cpu ms/flow",
    "report p50 ms",
    "report p99 ms",
    "auth p99 ms",
    "steady report p99 ms",
    "steady auth p99 ms",
    "pending",
    "drain s",
    "RSS after reset MiB",
    "RSS, builder included MiB",
)


def render(options: argparse.Namespace, labels: dict[str, str], pairs: list[dict]) -> str:
    lines = [
        "# Rounds of flow load with a reset between them",
        "",
        f"`python bench/rounds.py --baseline {options.baseline} --clients {options.clients} "
        f"--seconds {options.seconds:g} --rounds {options.rounds} --pairs {options.pairs}"
        f"{f' --rate {options.rate:g}' if options.rate else ''}{' --unpinned' if options.unpinned else ''}`, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; this tree {labels['new']}, "
        f"baseline {labels['base']}. Each figure: this tree / the baseline, pair by pair (median; range).",
        "",
        "| round | figure | this tree (pair medians) | baseline | ratio (median) | ratio range |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for number in range(options.rounds):
        for figure in FIGURES:
            new = [pair["new"]["rounds"][number][figure] for pair in pairs]
            base = [pair["base"]["rounds"][number][figure] for pair in pairs]
            ratios = [n / b if b else float("nan") for n, b in zip(new, base, strict=True)]
            lines.append(
                f"| {number + 1} | {figure} | {statistics.median(new):,.1f} | {statistics.median(base):,.1f} | "
                f"{statistics.median(ratios):.2f}x | {min(ratios):.2f}x to {max(ratios):.2f}x |"
            )
    idle_new, idle_base = (
        [statistics.median(pair[tree]["idle MiB"][i] for pair in pairs) for i in (0, 1)] for tree in ("new", "base")
    )
    lines += [
        "",
        f"RSS idle before the first round: this tree {idle_new[0]:.0f} MiB ({idle_new[1]:.0f} with its report "
        f"builder), baseline {idle_base[0]:.0f} MiB ({idle_base[1]:.0f}).",
    ]
    failed = sum(r["failed"] for pair in pairs for side in pair.values() for r in side["rounds"])
    lines.append(f"Failed flows, all runs: {failed}.")
    lines += ["", "Every run:", ""]
    for index, pair in enumerate(pairs, 1):
        for side in ("base", "new"):
            for number, r in enumerate(pair[side]["rounds"], 1):
                cells = ", ".join(f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items())
                lines.append(f"- pair {index}, {side}, round {number}: {cells}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a worktree of the commit to compare with")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument(
        "--warm-up", type=float, default=5, help="seconds of each round the steady figures leave out (default 5)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny numbers: a smoke run, not for quoting")
    parser.add_argument(
        "--rate",
        type=float,
        help="flows started per second, whatever the mock's speed (an open load: latency at the same load "
        "for both trees); by default each client starts its next flow at once",
    )
    parser.add_argument(
        "--unpinned",
        action="store_true",
        help="no taskset: the mock's processes and this driver share every core, as on a developer's machine",
    )
    options = parser.parse_args(argv)
    if options.quick:
        options.clients, options.seconds, options.rounds, options.pairs, options.warm_up = 8, 2, 2, 1, 0.5
    tools = harness.find_tools()
    if options.unpinned:
        tools = dataclasses.replace(tools, taskset=None)
    if tools.pinned:
        os.sched_setaffinity(0, {harness.LOAD_CORE})
    labels = {"new": git_head(harness.ROOT), "base": git_head(options.baseline)}
    pairs = []
    with tempfile.TemporaryDirectory(prefix="klavi-rounds-") as logdir:
        for index in range(options.pairs):
            harness.log(f"pair {index + 1} of {options.pairs}")
            base = measure(options.baseline.resolve(), tools, Path(logdir), options)
            new = measure(harness.ROOT, tools, Path(logdir), options)
            pairs.append({"base": base, "new": new})
    text = render(options, labels, pairs)
    suffix = f"{'-quick' if options.quick else ''}{'-unpinned' if options.unpinned else ''}"
    suffix += f"-rate{options.rate:g}" if options.rate else ""
    out = BENCH / "results" / f"rounds{suffix}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
