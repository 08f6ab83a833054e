#!/usr/bin/env python
"""Sample the real mock under wrk load with py-spy and print where the time goes.

    pip install py-spy
    python bench/profile_server.py [--duration 15] [--connections 64] [--rate 200] [--top 25]
                                   [--only institutions|consents|auth|flows] [--keep DIR]

For each endpoint: a fresh `python -m klavi_mock serve` pinned to core 0 (as in
bench/run.py), a warm-up, then py-spy attached to it (`record --nonblocking --format raw`,
itself on core 1) while `wrk -t1 -c64` loads the endpoint from core 1. Idle samples (the
event loop waiting in epoll) are not recorded, so percentages are of the time the server
was busy in Python. `--only flows` runs the API-only flow of bench/flowbench.py (8
clients) instead of wrk. Printed: the functions with the most samples, inclusive (anywhere on
the stack) and self (at the top of the stack), and the share per area (klavi_mock module,
starlette, uvicorn, jsonschema, ...). Bounded: every run lasts --duration seconds.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import harness as bench
import report

FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def parse_raw(path: Path) -> tuple[collections.Counter, collections.Counter, collections.Counter, int]:
    """py-spy raw (collapsed) stacks -> inclusive and self sample counts per function, and per area."""
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    areas: collections.Counter = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = []
        for raw in stack.split(";"):
            match = FRAME.match(raw.strip())
            frames.append(f"{match['func']} ({match['file']})" if match else raw.strip())
        for name in set(frames):
            inclusive[name] += n
        own[frames[-1]] += n
        areas[area(frames[-1])] += n
    return inclusive, own, areas, total


def area(frame: str) -> str:
    """Which package or klavi_mock module a frame's code belongs to."""
    match = re.search(r"\(([^()]*)\)$", frame)
    file = match.group(1) if match else frame
    parts = file.replace("\\", "/").split("/")
    for i, part in enumerate(parts):
        if part == "klavi_mock":
            return "/".join(parts[i : i + 2]) if i + 2 < len(parts) else "/".join(parts[i:])
        if part == "site-packages" and i + 1 < len(parts):
            return parts[i + 1].split(".")[0]
    if len(parts) > 1 and parts[0] in {
        "starlette",
        "uvicorn",
        "jsonschema",
        "httpx",
        "anyio",
        "jwt",
        "referencing",
        "jsonschema_rs",
        "h11",
        "httptools",
        "uvloop",
        "rpds",
    }:
        return parts[0]
    return f"stdlib/other ({parts[-1]})" if parts else file


def show(title: str, counter: collections.Counter, total: int, top: int) -> None:
    print(f"\n{title}")
    for name, n in counter.most_common(top):
        print(f"  {n / total:6.1%}  {n:6d}  {name}")


def profile(target: str, args: argparse.Namespace, tools: bench.Tools, workdir: Path) -> Path:
    out = workdir / f"{target}.txt"
    with bench.running("mock", tools, workdir) as mock:
        _, link_token = bench.tokens(mock.base)
        url, kwargs = "", {}
        if target == "flows":
            pass
        elif target == "institutions":
            url, kwargs = (
                mock.base + bench.API + "/links/institutions",
                {"headers": (f"Authorization: Bearer {link_token}",)},
            )
        elif target == "auth":
            url, kwargs = mock.base + bench.API + "/auth", {"script": BENCH / "lua" / "post_auth.lua"}
        else:
            url, kwargs = (
                mock.base + bench.API + "/consents",
                {
                    "script": BENCH / "lua" / "create_consents.lua",
                    "script_args": (link_token, str(10**9), f"prof{int(time.time())}"),
                },
            )
        warm = dict(kwargs)
        if target == "consents":  # its own externalTrackIds: a reused one would be a 409
            warm["script_args"] = (link_token, str(10**9), f"warm{int(time.time())}")
        if target == "flows":
            return profile_flows(mock, args, tools, out)
        bench.run_wrk(tools, "warm-up", url, 2, args.connections, **warm)
        spy = subprocess.Popen(
            [
                *tools.load_prefix(),
                args.py_spy,
                "record",
                "--pid",
                str(mock.pid),
                "--rate",
                str(args.rate),
                "--duration",
                str(args.duration),
                "--format",
                "raw",
                "-o",
                str(out),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(0.5)  # attached before the load starts
        result = bench.run_wrk(tools, target, url, args.duration, args.connections, **kwargs)
        try:
            spy_output, _ = spy.communicate(timeout=args.duration + 30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy_output, _ = spy.communicate(timeout=5)
        print(
            f"\n=== {target}: {result.per_second:,.0f} req/s under py-spy (p50 {report.ms(result.p50)}, "
            f"non-2xx {result.non_2xx}); {spy_output.strip().splitlines()[-1] if spy_output.strip() else ''}"
        )
    return out


def profile_flows(mock: bench.Server, args: argparse.Namespace, tools: bench.Tools, out: Path) -> Path:
    """The API-only flow with 8 clients (bench/flowbench.py) instead of wrk."""
    import asyncio

    import flowbench

    spy = subprocess.Popen(
        [
            *tools.load_prefix(),
            args.py_spy,
            "record",
            "--pid",
            str(mock.pid),
            "--rate",
            str(args.rate),
            "--duration",
            str(args.duration),
            "--format",
            "raw",
            "-o",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(0.5)
    result = asyncio.run(flowbench.run_mock_flows(mock.base, 8, 10**6, args.duration - 1, f"prof{int(time.time())}"))
    try:
        spy.communicate(timeout=args.duration + 30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.communicate(timeout=5)
    print(f"\n=== flows: {result.per_second:.1f} flows/s under py-spy, {result.failed} failed")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--only", choices=["institutions", "consents", "auth", "flows"], action="append")
    parser.add_argument("--keep", type=Path, help="keep the raw py-spy files in this folder")
    args = parser.parse_args(argv)
    args.py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    tools = bench.find_tools()
    if not tools.wrk or not Path(args.py_spy).exists():
        print("needs wrk (apt-get install wrk) and py-spy (pip install py-spy)", file=sys.stderr)
        return 2
    if tools.pinned:
        import os

        os.sched_setaffinity(0, {bench.LOAD_CORE})
    with tempfile.TemporaryDirectory(prefix="klavi-profile-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for target in args.only or ["institutions", "consents"]:
            raw = profile(target, args, tools, workdir)
            inclusive, own, areas, total = parse_raw(raw)
            if not total:
                print("  no samples (could py-spy attach?)")
                continue
            print(f"  {total} busy samples")
            show("  by area (self time):", areas, total, args.top)
            show("  inclusive (anywhere on the stack):", inclusive, total, args.top)
            show("  self (top of the stack):", own, total, args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
