#!/usr/bin/env python
"""Webhook delivery at scale, in one run, each figure beside a baseline measured in it:

    python bench/webhooks.py [--quick] [--backlogs 10000,40000] [--clients 200] [--flow-seconds 60]

1. Throughput: a backlog of N deliveries drained by the mock to a fast local receiver,
   against a plain httpx client (8 concurrent requests, the mock's default per URL)
   sending N bodies of the same size to the same receiver, just before it; `--rounds`
   pairs (default 3) of the small backlog, the median ratio reported. Target: at least 0.5x.
2. Linearity: the drain times of the two backlogs (default 10,000 and 40,000). Target:
   their ratio at most 5 for 4x the deliveries (linear, not quadratic).
3. Sustained load: `--clients` concurrent API-only flow clients (bench/flowbench.py) for
   `--flow-seconds`; the backlog left when they stop and the time to drain it. Target:
   drained within 10 s.
4. Memory: the mock's RSS before, after the load, after draining, after POST /__mock/reset.
5. Report generation off the event loop: the p99 of GET /links/institutions (one
   sequential prober) while 4 clients request every institution-level personal report,
   against the same while 4 clients request the institution list (the same load of cheap
   requests), and alone.

A backlog is made without a receiver: the tenant's eventsUrl is unset, N events are fired
through the control API (undeliverable), then the URL is set and
`POST /__mock/webhooks/redeliver {"status": "undeliverable"}` starts the clock; the drain
ends when the log counts nothing pending. The mock runs on core 0, the receiver (its own
process, bench/receiver.py) and this driver on core 1, as in bench/run.py. Nothing asserts
on time: targets are reported met or not. Writes bench/results/webhooks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
import harness as run  # noqa: E402  (the servers, pinning and machine facts of the main benchmark)

API = "/data/v1"
CPF = "52998224725"
EVENT_BODY = (
    b'[{"eventId":"'
    + b"0" * 36
    + b'","eventName":"link_created","payload":{"linkId":"'
    + b"x" * 36
    + b'"},"externalInfo":{}}]'
)


@contextlib.contextmanager
def receiver_process(tools: run.Tools, logdir: Path):
    port = run.free_port()
    with open(logdir / f"receiver-{port}.log", "wb") as out:
        process = subprocess.Popen(
            [*tools.load_prefix(), sys.executable, str(BENCH / "receiver.py"), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while run.http_status(port, "/ready") != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def baseline_rate(tools: run.Tools, receiver: str, count: int, concurrency: int = 8) -> float:
    """Bodies per second a plain httpx client (its own process, on the mock's core) gets the receiver to take."""
    output = subprocess.run(
        [
            *tools.server_prefix(),
            sys.executable,
            str(Path(__file__)),
            "--send",
            receiver + "/events",
            str(count),
            str(concurrency),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return count / float(output.stdout.strip().splitlines()[-1])


async def _send(url: str, count: int, concurrency: int) -> float:
    headers = {"Content-Type": "application/json", "X-Klavi-Signature": "x" * 64, "X-Klavi-Timestamp": "1"}
    left = iter(range(count))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker() -> None:
            for _ in left:
                (await client.post(url, content=EVENT_BODY, headers=headers)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def counts(base: str) -> dict[str, int]:
    return httpx.get(f"{base}/__mock/webhooks", params={"limit": 1}, timeout=30).raise_for_status().json()["counts"]


def wait_drained(base: str, started: float, limit: float = 900) -> float:
    while counts(base)["pending"]:
        if time.perf_counter() - started > limit:
            raise RuntimeError(f"not drained after {limit:g} s: {counts(base)}")
        time.sleep(0.05)
    return time.perf_counter() - started


async def _fire(base: str, count: int, workers: int = 16) -> None:
    left = iter(range(count))
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def worker() -> None:
            for _ in left:
                for attempt in range(3):  # a keep-alive connection the server just closed: send again
                    try:
                        (
                            await client.post(
                                "/__mock/webhooks/fire",
                                json={"eventName": "link_created", "payload": {"linkId": "x" * 36}},
                            )
                        ).raise_for_status()
                        break
                    except httpx.TransportError:
                        if attempt == 2:
                            raise

        await asyncio.gather(*(worker() for _ in range(workers)))


def drain(tools: run.Tools, logdir: Path, receiver: str, count: int) -> float:
    """Seconds the mock takes to deliver a backlog of `count` events."""
    with run.running("mock", tools, logdir) as mock:
        hooks = f"{mock.base}/__mock/tenants/sandbox-app/webhooks"
        httpx.put(hooks, json={"eventsUrl": None}).raise_for_status()
        asyncio.run(_fire(mock.base, count))
        count = counts(mock.base)["undeliverable"]  # a resent request may have made one more
        httpx.put(hooks, json={"eventsUrl": receiver + "/events"}).raise_for_status()
        started = time.perf_counter()
        httpx.post(
            f"{mock.base}/__mock/webhooks/redeliver", json={"status": "undeliverable"}, timeout=120
        ).raise_for_status()
        seconds = wait_drained(mock.base, started)
        assert counts(mock.base)["delivered"] >= min(count, 5000)
        return seconds


async def _flows_then_drain(mock: run.Server, clients: int, seconds: float, rss: dict) -> tuple:
    """The flows, then (the receiver still up, in this loop) the backlog they left drained."""
    receiver = flowbench.AsyncReceiver()
    await receiver.start()
    try:
        result = await flowbench.run_mock_flows(
            mock.base, clients, 10**7, seconds, f"wh{int(time.time())}", webhook_timeout=seconds + 60, receiver=receiver
        )
        stopped = time.perf_counter()
        async with httpx.AsyncClient(base_url=mock.base, timeout=30) as client:

            async def pending() -> int:
                return (await client.get("/__mock/webhooks", params={"limit": 1})).json()["counts"]["pending"]

            backlog = await pending()
            rss["after load"] = mock.rss_kib()
            while await pending():
                if time.perf_counter() - stopped > 900:
                    raise RuntimeError("the backlog did not drain in 900 s")
                await asyncio.sleep(0.05)
            return result, backlog, time.perf_counter() - stopped
    finally:
        await receiver.stop()


def sustained(tools: run.Tools, logdir: Path, clients: int, seconds: float) -> dict:
    with run.running("mock", tools, logdir) as mock:
        rss = {"before": mock.rss_kib()}
        result, backlog, drained = asyncio.run(_flows_then_drain(mock, clients, seconds, rss))
        rss["after draining"] = mock.rss_kib()
        httpx.post(f"{mock.base}/__mock/reset", json={}, timeout=60).raise_for_status()
        time.sleep(0.5)
        rss["after reset"] = mock.rss_kib()
        return {
            "flows": result.completed,
            "failed": result.failed,
            "backlog": backlog,
            "drained": drained,
            "rss": rss,
            "log": counts(mock.base),
        }


async def _probe(base: str, link_token: str, samples: int) -> list[float]:
    latencies = []
    async with httpx.AsyncClient(
        base_url=base + API, timeout=30, headers={"Authorization": f"Bearer {link_token}"}
    ) as client:
        for _ in range(samples):
            started = time.perf_counter()
            (await client.get("/links/institutions")).raise_for_status()
            latencies.append(time.perf_counter() - started)
    return latencies


async def _load(base: str, token: str, stop: asyncio.Event, reports: bool, clients: int = 4) -> int:
    """4 clients asking, back to back, for every institution-level personal report (or, as
    the baseline load, for the institution list)."""
    made = 0
    async with httpx.AsyncClient(
        base_url=base + API, timeout=60, headers={"Authorization": f"Bearer {token}"}
    ) as client:

        async def worker() -> None:
            nonlocal made
            while not stop.is_set():
                if reports:
                    response = await client.post(
                        "/personal/institution-data", json={"taxId": CPF, "institutionCode": "341", "products": ["all"]}
                    )
                else:
                    response = await client.get("/links/institutions")
                response.raise_for_status()
                made += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    return made


async def _probe_under_load(
    base: str, token: str, link_token: str, samples: int, reports: bool
) -> tuple[list[float], int]:
    stop = asyncio.Event()
    load = asyncio.create_task(_load(base, token, stop, reports))
    await asyncio.sleep(0.5)
    latencies = await _probe(base, link_token, samples)
    stop.set()
    return latencies, await load


def report_stall(tools: run.Tools, logdir: Path, receiver: str, samples: int) -> dict:
    with run.running("mock", tools, logdir) as mock:
        httpx.put(
            f"{mock.base}/__mock/tenants/sandbox-app/webhooks",
            json={"eventsUrl": receiver + "/events", "productsCallbackURL": receiver + "/reports"},
        ).raise_for_status()
        access, link_token = run.tokens(mock.base)
        with httpx.Client(base_url=mock.base + API, timeout=10) as client:
            created = (
                client.post(
                    "/consents",
                    headers={"Authorization": f"Bearer {link_token}"},
                    json={
                        "externalTrackId": "bench",
                        "personalTaxId": CPF,
                        "institutionCode": "341",
                        "redirectURL": "https://partner.example.com/return",
                        "validityPeriod": 12,
                    },
                )
                .raise_for_status()
                .json()
            )
            client.get(created["consentRedirectURL"] + "&decision=approve")
        alone = asyncio.run(_probe(mock.base, link_token, samples))
        busy, _ = asyncio.run(_probe_under_load(mock.base, link_token, link_token, samples, reports=False))
        loaded, requests = asyncio.run(_probe_under_load(mock.base, access, link_token, samples, reports=True))
        webhooks = counts(mock.base)
        return {
            "alone": alone,
            "busy": busy,
            "loaded": loaded,
            "report_requests": requests,
            "webhooks": sum(webhooks.values()),
        }


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def render(info: dict, out: dict, options: argparse.Namespace) -> str:
    small, big = options.backlogs
    lines = [
        "# Webhook delivery at scale",
        "",
        f"`python bench/webhooks.py{' --quick' if options.quick else ''}`; "
        f"machine: {info.get('CPU', '?')}, {info.get('nproc', '?')} cores, Python {info.get('Python', '?')}",
        "",
        "| figure | mock | baseline | ratio | target |",
        "|---|---|---|---|---|",
    ]
    for count in (small, big):
        mock_rate, base_rate = count / out["drain"][count], out["baseline"][count]
        lines.append(
            f"| deliveries/s, backlog of {count:,} | {mock_rate:,.0f} | {base_rate:,.0f} (plain httpx) | "
            f"{mock_rate / base_rate:.2f}x | >= 0.5x: {'met' if mock_rate >= 0.5 * base_rate else 'NOT met'} |"
        )
    rounds = sorted(out["rounds"])
    lines.append(
        f"| deliveries/s ratio, {len(rounds)} rounds of {small:,} (each beside its own baseline) | "
        f"median {statistics.median(rounds):.2f}x | | {', '.join(f'{r:.2f}x' for r in out['rounds'])} | "
        f">= 0.5x: {'met' if statistics.median(rounds) >= 0.5 else 'NOT met'} |"
    )
    ratio = out["drain"][big] / out["drain"][small]
    lines.append(
        f"| drain time {big:,} / {small:,} | {out['drain'][big]:.2f} s / {out['drain'][small]:.2f} s | "
        f"{big / small:.0f}x the deliveries | {ratio:.2f}x | <= 5x: {'met' if ratio <= 5 else 'NOT met'} |"
    )
    s = out["sustained"]
    lines.append(
        f"| backlog after {options.clients} clients x {options.flow_seconds:g} s ({s['flows']:,} flows, "
        f"{s['failed']} failed) | {s['backlog']:,} pending, drained in {s['drained']:.2f} s | | | "
        f"<= 10 s: {'met' if s['drained'] <= 10 else 'NOT met'} |"
    )
    rss = s["rss"]
    lines.append(
        "| RSS before / after load / drained / reset | "
        + " / ".join(f"{v / 1024:.0f} MiB" for v in rss.values())
        + f" | | {rss['after load'] / rss['before']:.2f}x after load | bounded (retention {5000:,}) |"
    )
    st = out["stall"]
    alone, busy, loaded = p(st["alone"], 99), p(st["busy"], 99), p(st["loaded"], 99)
    lines.append(
        f"| p99 GET /links/institutions while 4 clients request reports ({st['report_requests']} requests "
        f"of all products, {st['webhooks']:,} webhooks) | {loaded * 1000:.1f} ms | {busy * 1000:.1f} ms while 4 "
        f"clients request institutions ({alone * 1000:.1f} ms alone) | {loaded / busy:.2f}x | |"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--send":  # the baseline sender's own process
        url, count, concurrency = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        print(asyncio.run(_send(url, count, concurrency)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny numbers: a smoke run, not for quoting")
    parser.add_argument("--backlogs", default="10000,40000")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--flow-seconds", type=float, default=60)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument(
        "--rounds", type=int, default=3, help="baseline and mock drains of the small backlog, alternated"
    )
    options = parser.parse_args(argv)
    options.backlogs = [int(n) for n in options.backlogs.split(",")]
    if options.quick:
        options.backlogs, options.clients, options.flow_seconds, options.samples, options.rounds = (
            [500, 2000],
            20,
            3,
            100,
            1,
        )
    tools = run.find_tools()
    info = run.machine_info(tools)
    logdir = Path(tempfile.mkdtemp(prefix="klavi-webhooks-bench-"))
    out: dict = {"drain": {}, "baseline": {}}
    with receiver_process(tools, logdir) as receiver:
        small, big = options.backlogs
        out["rounds"] = []
        for number in range(options.rounds):  # the machine drifts: pair each drain with a baseline just before it
            run.log(f"round {number + 1}/{options.rounds}, backlog of {small:,}: plain httpx baseline, then the mock")
            base_rate, seconds = baseline_rate(tools, receiver, small), drain(tools, logdir, receiver, small)
            out["rounds"].append((small / seconds) / base_rate)
            out["baseline"][small], out["drain"][small] = base_rate, seconds  # the last round's, for the table
        run.log(f"backlog of {big:,}: plain httpx baseline, then the mock")
        out["baseline"][big] = baseline_rate(tools, receiver, big)
        out["drain"][big] = drain(tools, logdir, receiver, big)
        run.log(f"sustained load: {options.clients} flow clients for {options.flow_seconds:g} s")
        out["sustained"] = sustained(tools, logdir, options.clients, options.flow_seconds)
        run.log("GET /links/institutions p99, alone and while reports build")
        out["stall"] = report_stall(tools, logdir, receiver, options.samples)
    table = render(info, out, options)
    print(table)
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    (results / ("webhooks-quick.md" if options.quick else "webhooks.md")).write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
