#!/usr/bin/env python
"""A fixed amount of flow work, as one command to time from outside (farm-bench, `time`):

    python bench/flows_once.py [--root TREE] [--flows 1000] [--clients 100]

Starts `python -m klavi_mock serve` from TREE (default: this one; another commit's worktree to
compare), runs `--flows` API-only flows (bench/flowbench.py) with `--clients` clients, waits
until no webhook is pending, and stops it. Exits 1 if a flow failed. Two trees compared
pair by pair:

    farm-bench -n 4 --timeout 800 --vs "python bench/flows_once.py --root /tmp/klavi-before" \\
        -- python bench/flows_once.py
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import flowbench  # noqa: E402
import harness  # noqa: E402


async def work(base: str, flows: int, clients: int) -> flowbench.FlowResult:
    result = await flowbench.run_mock_flows(base, clients, flows, 600, f"once{time.time():.0f}", webhook_timeout=120)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while (await client.get("/__mock/webhooks", params={"limit": 1})).json()["counts"]["pending"]:
            await asyncio.sleep(0.05)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=harness.ROOT, help="the source tree to serve from")
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=100)
    options = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="klavi-flows-") as logdir,
        harness.running("mock", harness.find_tools(), Path(logdir), root=options.root.resolve()) as mock,
    ):
        result = asyncio.run(work(mock.base, options.flows, options.clients))
    print(f"{result.completed} flows, {result.failed} failed {dict(result.failures) or ''}")
    return 0 if result.completed == options.flows and not result.failed else 1


if __name__ == "__main__":
    sys.exit(main())
