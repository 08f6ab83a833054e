#!/usr/bin/env python
"""klavi-mock's benchmark: one command, one run, over loopback, beside a bare Starlette app.

    python bench/run.py [--duration SECONDS] [--connections N] [--consents N] [--quick]

Measures (bench/README.md explains each figure and the targets):
  1. wrk throughput and p50/p99 of GET /data/v1/links/institutions and POST /data/v1/auth,
  2. the same for a bare Starlette JSON endpoint (bench/bare_app.py), with every figure
     also as a ratio against it,
  3. the whole API-only flow (auth -> ... -> report webhook) with concurrent httpx clients,
  4. time from process start to the first 200 (median of several starts), mock and bare,
  5. resident memory of the mock idle and after N consents created over HTTP, and of the
     bare app.
Servers run as real processes (`python -m klavi_mock serve --no-access-log --log-level
warning`) pinned to core 0 with taskset; wrk and this driver run on core 1. The table is
printed and written as Markdown to bench/results/latest.md (--quick: bench/results/quick.md).

Nothing here asserts on time: targets are reported as met / not met, and the exit code is 0
whenever the run itself worked. Without wrk (or taskset) the parts needing it are skipped
and the report says so. Every load loop is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

import flowbench
import httpx

SERVER_CORE, LOAD_CORE = 0, 1
API = "/data/v1"
KEYS = {"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}
TARGET_INSTITUTIONS_RATIO = 0.50
TARGET_FIRST_200_SECONDS = 1.0
TARGET_CONSENTS = 100_000
TARGET_RSS_BYTES = 300 * 1000 * 1000  # "300 MB", read as 10^6 bytes (the stricter reading)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the machine -----------------------------------------------------------------------


@dataclass
class Tools:
    wrk: str | None
    taskset: str | None
    cores: int

    @property
    def pinned(self) -> bool:
        return bool(self.taskset) and self.cores >= 2

    def server_prefix(self) -> list[str]:
        return [self.taskset, "-c", str(SERVER_CORE)] if self.pinned else []

    def load_prefix(self) -> list[str]:
        return [self.taskset, "-c", str(LOAD_CORE)] if self.pinned else []


def find_tools() -> Tools:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return Tools(shutil.which("wrk"), shutil.which("taskset"), cores)


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info(tools: Tools) -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    wrk_version = "not found"
    if tools.wrk:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([tools.wrk, "-v"], capture_output=True, text=True, timeout=5, check=False)
            wrk_version = (out.stdout + out.stderr).splitlines()[0].split(" Copyright")[0].strip()
    return {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": f"{os.cpu_count()} (usable here: {tools.cores})",
        "CPU": cpu,
        "kernel": platform.release(),
        "Python": f"{platform.python_version()} ({sys.executable})",
        "uvicorn": _version("uvicorn"),
        "starlette": _version("starlette"),
        "uvloop / httptools": f"{_version('uvloop')} / {_version('httptools')}",
        "httpx (clients)": _version("httpx"),
        "wrk": wrk_version,
        "pinning": (
            f"servers on core {SERVER_CORE} (taskset -c {SERVER_CORE}); wrk and this driver on core {LOAD_CORE}"
            if tools.pinned
            else "none (taskset missing or fewer than 2 cores): numbers are noisier"
        ),
    }


# -- servers as real processes -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(port: int, path: str, timeout: float = 0.5) -> int | None:
    """One raw HTTP/1.1 GET; the status code, or None when nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            head = sock.recv(64)
    except OSError:
        return None
    match = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return int(match.group(1)) if match else None


def read_status_kib(pid: int, field_name: str) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return None


class Server:
    """`python -m klavi_mock serve` or bench/bare_app.py on a free loopback port, pinned."""

    READY_PATH = {"mock": "/__mock/clock", "bare": "/json"}

    def __init__(self, kind: str, tools: Tools, logdir: Path, extra: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.extra = extra  # more `serve` flags, e.g. --state-file
        self.tools = tools
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logfile = logdir / f"{kind}-{self.port}.log"
        self.process: subprocess.Popen | None = None
        self.first_200_seconds: float | None = None

    def command(self) -> list[str]:
        common = ["--host", "127.0.0.1", "--port", str(self.port), "--no-access-log", "--log-level", "warning"]
        if self.kind == "mock":
            return [*self.tools.server_prefix(), sys.executable, "-m", "klavi_mock", "serve", *common, *self.extra]
        return [*self.tools.server_prefix(), sys.executable, str(BENCH / "bare_app.py"), *common]

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid  # taskset execs the server: same pid

    def start(self, timeout: float = 30.0, poll_every: float = 0.005) -> float:
        """Spawn, then poll the ready path every few ms: seconds from spawn to the first 200."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KLAVI_MOCK_")}  # the default sandbox tenant
        with open(self.logfile, "wb") as out:
            started = time.perf_counter()
            self.process = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        deadline = started + timeout
        path = self.READY_PATH[self.kind]
        while True:
            if http_status(self.port, path) == 200:
                self.first_200_seconds = time.perf_counter() - started
                return self.first_200_seconds
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited with {self.process.returncode}: {self.log_tail()}")
            if time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"{self.kind} server gave no 200 on {path} within {timeout:g} s: {self.log_tail()}")
            time.sleep(poll_every)

    def log_tail(self, chars: int = 800) -> str:
        with contextlib.suppress(OSError):
            return self.logfile.read_text(errors="replace")[-chars:]
        return ""

    def rss_kib(self) -> int | None:
        return read_status_kib(self.pid, "VmRSS")

    def hwm_kib(self) -> int | None:
        return read_status_kib(self.pid, "VmHWM")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # this process only, by its pid
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@contextlib.contextmanager
def running(kind: str, tools: Tools, logdir: Path, extra: tuple[str, ...] = ()) -> Iterator[Server]:
    server = Server(kind, tools, logdir, extra)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def tokens(base: str) -> tuple[str, str]:
    """An accessToken, and the linkToken of a new link."""
    with httpx.Client(base_url=base + API, timeout=10) as client:
        access = client.post("/auth", json=KEYS).raise_for_status().json()["accessToken"]
        link = client.post(
            "/links",
            headers={"Authorization": f"Bearer {access}"},
            json={"personalTaxId": "52998224725", "externalInfo": {"bench": "run.py"}},
        )
        return access, link.raise_for_status().json()["linkToken"]


# -- wrk ---------------------------------------------------------------------------------


@dataclass
class WrkResult:
    label: str
    requests: int = 0
    seconds: float = 0.0
    per_second: float = 0.0
    percentiles: dict[int, float] = field(default_factory=dict)  # 50/75/90/99 -> seconds
    non_2xx: int = 0
    socket_errors: str = ""
    output: str = ""

    @property
    def p50(self) -> float | None:
        return self.percentiles.get(50)

    @property
    def p99(self) -> float | None:
        return self.percentiles.get(99)


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"not a wrk time: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(label: str, output: str) -> WrkResult:
    result = WrkResult(label, output=output)
    if match := re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", output, re.MULTILINE):
        result.requests = int(match.group(1))
        result.seconds = float(match.group(2)) * _UNITS[match.group(3)]
    if match := re.search(r"^Requests/sec:\s*([\d.]+)", output, re.MULTILINE):
        result.per_second = float(match.group(1))
    for pct, value in re.findall(r"^\s*(50|75|90|99)%\s+(\S+)", output, re.MULTILINE):
        result.percentiles[int(pct)] = _seconds(value)
    if match := re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output):
        result.non_2xx = int(match.group(1))
    if match := re.search(r"Socket errors:\s*(.+)", output):
        result.socket_errors = match.group(1).strip()
    return result


def run_wrk(
    tools: Tools,
    label: str,
    url: str,
    duration: int,
    connections: int,
    *,
    script: Path | None = None,
    script_args: tuple[str, ...] = (),
    headers: tuple[str, ...] = (),
    stop_marker: str | None = None,
) -> WrkResult:
    """wrk on the load core. With `stop_marker`, a line the script prints when its count is
    reached, wrk is sent SIGINT then: it stops at once and still prints its summary (its
    Lua `thread:stop()` alone ends the thread, but wrk would wait out -d)."""
    assert tools.wrk
    command = [
        *tools.load_prefix(),
        tools.wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, duration)}s",
        "--timeout",
        "10s",
        "--latency",
    ]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if stop_marker and stop_marker in line and process.poll() is None:
                process.send_signal(signal.SIGINT)  # wrk, by its pid (taskset execs it)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        process.wait(timeout=duration + 60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
        raise RuntimeError(f"wrk did not finish within {duration + 60} s") from None
    reader.join(timeout=5)
    stderr = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with {process.returncode}: {stderr.strip()[:300]}")
    return parse_wrk(label, "".join(lines))


# -- the phases --------------------------------------------------------------------------


@dataclass
class Options:
    duration: int
    connections: int
    consents: int
    clients: int
    flow_duration: int
    max_flows: int
    starts: int
    warmup: int
    quick: bool


ROUNDS = 5  # alternating bare / mock measurements in the throughput phase (--quick: 3)


def phase_http(options: Options, tools: Tools, logdir: Path) -> dict[str, Any]:
    """Bare and mock side by side, measured in alternating rounds: this machine's speed
    drifts within a run, so each mock figure is compared with the bare one measured just
    before it, and the round with the median ratio is the one reported."""
    d, c = max(1, options.duration // 2), options.connections
    rounds = 3 if options.quick else ROUNDS
    with running("bare", tools, logdir) as bare, running("mock", tools, logdir) as mock:
        bare_url = bare.base + "/json"
        _, link_token = tokens(mock.base)
        institutions_url = mock.base + API + "/links/institutions"
        header = (f"Authorization: Bearer {link_token}",)
        run_wrk(tools, "warm-up", bare_url, options.warmup, c)
        run_wrk(tools, "warm-up", institutions_url, options.warmup, c, headers=header)
        pairs = []
        for n in range(1, rounds + 1):
            log(
                f"round {n}/{rounds}: wrk GET /json (bare), then GET {API}/links/institutions, {d} s each, {c} connections"
            )
            pairs.append(
                (
                    run_wrk(tools, "bare GET /json", bare_url, d, c),
                    run_wrk(tools, f"GET {API}/links/institutions", institutions_url, d, c, headers=header),
                )
            )
        url = mock.base + API + "/auth"
        script = BENCH / "lua" / "post_auth.lua"
        run_wrk(tools, "warm-up", url, options.warmup, c, script=script)
        log(f"wrk POST {API}/auth {d} s, {c} connections")
        auth = run_wrk(tools, f"POST {API}/auth", url, d, c, script=script)
    ratios = [m.per_second / b.per_second if b.per_second else 0.0 for b, m in pairs]
    median_bare, median_mock = pairs[sorted(range(len(pairs)), key=ratios.__getitem__)[len(pairs) // 2]]
    return {"bare": median_bare, "institutions": median_mock, "auth": auth, "ratios": ratios, "pairs": pairs}


def phase_flows(options: Options, tools: Tools, logdir: Path) -> dict[str, flowbench.FlowResult]:
    results = {}
    tag = f"bench{int(time.time())}"
    with running("mock", tools, logdir) as mock:
        log(f"API-only flows: {options.clients} clients, up to {options.max_flows} flows or {options.flow_duration} s")
        with cpu_share(mock.pid) as usage:
            results["mock"] = asyncio.run(
                flowbench.run_mock_flows(mock.base, options.clients, options.max_flows, options.flow_duration, tag)
            )
        results["mock"].cpu = usage
        results["mock"].webhooks = webhook_outcomes(mock.base)
    state_file = logdir / f"flows-{tag}.sqlite"
    with running("mock", tools, logdir, ("--state-file", str(state_file))) as mock:
        log(f"API-only flows with --state-file: {options.clients} clients, {options.flow_duration} s")
        with cpu_share(mock.pid) as usage:
            results["state"] = asyncio.run(
                flowbench.run_mock_flows(
                    mock.base, options.clients, options.max_flows, options.flow_duration, tag + "s"
                )
            )
        results["state"].label = "mock API-only flow, --state-file"
        results["state"].cpu = usage
    with running("bare", tools, logdir) as bare:
        seconds = max(1, options.flow_duration // 2)
        log(f"bare pseudo-flows ({flowbench.REQUESTS_PER_FLOW} x GET /json): {options.clients} clients, {seconds} s")
        with cpu_share(bare.pid) as usage:
            results["bare"] = asyncio.run(
                flowbench.run_bare_flows(bare.base + "/json", options.clients, options.max_flows, seconds)
            )
        results["bare"].cpu = usage
    return results


def _process_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def cpu_share(server_pid: int) -> Iterator[dict[str, float]]:
    """How busy the server's core and this driver were while the block ran (share of one core)."""
    usage: dict[str, float] = {}
    server_before, driver_before, started = _process_cpu_seconds(server_pid), os.times(), time.perf_counter()
    try:
        yield usage
    finally:
        wall = time.perf_counter() - started
        server_after, driver_after = _process_cpu_seconds(server_pid), os.times()
        if server_before is not None and server_after is not None and wall > 0:
            usage["server"] = (server_after - server_before) / wall
        usage["driver"] = (
            (driver_after.user + driver_after.system) - (driver_before.user + driver_before.system)
        ) / wall


def webhook_outcomes(base: str) -> dict[str, dict[str, int]]:
    """Per webhook name: sent / acknowledged / pending..., from the conformance report."""
    with contextlib.suppress(httpx.HTTPError, KeyError, IndexError, ValueError):
        report = (
            httpx.get(f"{base}/__mock/conformance", params={"appId": "sandbox-app"}, timeout=30)
            .raise_for_status()
            .json()
        )
        return report["tenants"][0]["webhooks"]
    return {}


def phase_startup(options: Options, tools: Tools, logdir: Path) -> dict[str, list[float]]:
    """The mock, the bare app, and the mock on a state file of --consents consents."""
    state_file = logdir / "startup-state.sqlite"
    log(f"start-up: writing a state file of {options.consents:,} consents")
    fill_state_file(state_file, options.consents)
    variants = {"mock": ("mock", ()), "bare": ("bare", ()), "state": ("mock", ("--state-file", str(state_file)))}
    times: dict[str, list[float]] = {name: [] for name in variants}
    log(f"start-up: {options.starts} starts each, first 200 polled every 5 ms")
    for _ in range(options.starts):
        for name, (kind, extra) in variants.items():  # alternated, so drift hits all alike
            server = Server(kind, tools, logdir, extra)
            try:
                times[name].append(server.start())
            finally:
                server.stop()
    return times


def fill_state_file(path: Path, consents: int) -> None:
    """A state file as the mock writes it: one link and `consents` pending consents."""
    from klavi_mock.domain.consents import new_consent
    from klavi_mock.domain.institutions import InstitutionCatalog
    from klavi_mock.domain.links import new_link
    from klavi_mock.domain.taxid import make_cpf
    from klavi_mock.resources import fixtures_dir
    from klavi_mock.storage.sqlite import SqliteStore

    store = SqliteStore(path)
    now = dt.datetime.now(dt.timezone.utc)
    link = new_link("sandbox-app", {}, now, InstitutionCatalog.from_file(fixtures_dir() / "institutions.yaml"))
    store.add_link(link)
    for n in range(consents):
        request = {
            "externalTrackId": f"bench-{n}",
            "personalTaxId": make_cpf(f"{200000000 + n:09d}"),
            "institutionCode": "341",
            "redirectURL": "https://partner.example.com/return",
        }
        store.add_consent(
            new_consent(
                tenant_id="sandbox-app",
                link_id=link.id,
                request=request,
                permissions=["REGISTRATION_ALL", "ACCOUNTS_ALL"],
                persona_id="happy-path",
                now=now,
            )
        )
        if n % 1000 == 999:
            store.commit()
    store.close()


@dataclass
class MemoryResult:
    bare_idle_kib: int | None = None
    mock_idle_kib: int | None = None
    mock_after_kib: int | None = None
    mock_peak_kib: int | None = None
    asked: int = 0
    created: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    how: str = ""
    load: WrkResult | None = None
    seconds: float = 0.0


def _settled_rss(server: Server, settle: float = 0.5) -> int | None:
    time.sleep(settle)
    return server.rss_kib()


def _created_consents(base: str) -> tuple[int, dict[str, int]]:
    """createConsent answers by status, from the conformance report (cheap: counters)."""
    report = (
        httpx.get(f"{base}/__mock/conformance", params={"appId": "sandbox-app"}, timeout=30).raise_for_status().json()
    )
    statuses = report["tenants"][0]["operations"].get("createConsent", {}).get("statuses", {})
    return statuses.get("200", 0), {k: v for k, v in statuses.items() if k != "200"}


async def _consents_with_httpx(
    base: str, link_token: str, count: int, deadline_seconds: float, workers: int = 16
) -> None:
    """The fallback without wrk: bounded by count and by time."""
    counter = iter(range(1, count + 1))
    deadline = time.perf_counter() + deadline_seconds
    from klavi_mock.domain.taxid import make_cpf

    async def worker() -> None:
        async with httpx.AsyncClient(
            base_url=base + API, timeout=15, headers={"Authorization": f"Bearer {link_token}"}
        ) as client:
            while time.perf_counter() < deadline:
                n = next(counter, None)
                if n is None:
                    return
                await client.post(
                    "/consents",
                    json={
                        "externalTrackId": f"mem-{n}",
                        "personalTaxId": make_cpf(f"{100000000 + n:09d}"),
                        "institutionCode": "341",
                        "redirectURL": "https://partner.example.com/return",
                        "validityPeriod": 12,
                    },
                )

    await asyncio.gather(*(worker() for _ in range(workers)))


def phase_memory(options: Options, tools: Tools, logdir: Path) -> MemoryResult:
    result = MemoryResult(asked=options.consents)
    with running("bare", tools, logdir) as bare:
        result.bare_idle_kib = _settled_rss(bare)
    with running("mock", tools, logdir) as mock:
        result.mock_idle_kib = _settled_rss(mock)
        _, link_token = tokens(mock.base)
        cap = int(min(900, max(20, options.consents / 400)))  # time bound of the load, in seconds
        started = time.perf_counter()
        if tools.wrk:
            result.how = f"wrk -t1 -c{options.connections}, one link, stops itself after {options.consents:,} answers (cap {cap} s)"
            log(f"memory: creating {options.consents:,} consents with wrk (cap {cap} s)")
            result.load = run_wrk(
                tools,
                f"POST {API}/consents",
                mock.base + API + "/consents",
                cap,
                options.connections,
                script=BENCH / "lua" / "create_consents.lua",
                script_args=(link_token, str(options.consents), "mem"),
                stop_marker="klavi-bench: limit reached",
            )
        else:
            result.how = f"16 httpx clients (no wrk), one link, bounded by count and {cap} s"
            log(f"memory: creating {options.consents:,} consents with httpx (cap {cap} s)")
            asyncio.run(_consents_with_httpx(mock.base, link_token, options.consents, cap))
        result.seconds = time.perf_counter() - started
        result.mock_after_kib = _settled_rss(mock, 1.0)
        result.mock_peak_kib = mock.hwm_kib()
        result.created, result.refused = _created_consents(mock.base)
    return result


# -- the report --------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def times(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "–"
    return f"{value / base:.2f}×"


def mib(kib: int | None) -> str:
    return "–" if kib is None else f"{kib / 1024:.1f} MiB"


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def render(info: dict[str, str], options: Options, outcome: dict[str, Any], wall: float) -> str:
    lines = [
        f"# klavi-mock benchmark{' (quick smoke run: tiny numbers, not for quoting)' if options.quick else ''}",
        "",
    ]
    lines += ["| machine | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in info.items()]
    lines += [
        "",
        f"Run: `python bench/run.py --duration {options.duration} --connections {options.connections} "
        f"--consents {options.consents}{' --quick' if options.quick else ''}` — took {wall:.0f} s.",
        "",
    ]

    # 1-2. wrk
    lines += ["## 1–2. Throughput and latency, mock and bare (wrk, one server core)", ""]
    http = outcome.get("http")
    if isinstance(http, str):
        lines += [f"**skipped / failed:** {http}", ""]
    else:
        bare = http["bare"]
        memory = outcome.get("memory")
        rows = [("bare", http["bare"]), ("institutions", http["institutions"]), ("auth", http["auth"])]
        if isinstance(memory, MemoryResult) and memory.load is not None:
            rows.append(("consents", memory.load))
        d = max(1, options.duration // 2)
        lines += [
            f"`wrk -t1 -c{options.connections} -d{d}s --latency` on core {LOAD_CORE}, after a "
            f"{options.warmup} s warm-up; the servers on core {SERVER_CORE}, one loaded at a time. "
            "For req/s, × bare is the share of the bare endpoint's throughput (higher is better); "
            "for latency, how many times the bare latency (lower is better). The machine's speed drifts "
            f"within a run, so bare and `GET /links/institutions` are measured in {len(http['pairs'])} "
            "alternating rounds, each mock figure against the bare one just before it; the rows show the "
            "round with the median ratio. `POST /auth` is one run, against that round's bare figure.",
            "",
            "| endpoint | req/s | × bare | p50 | × bare | p99 | × bare | requests | non-2xx / socket errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for key, r in rows:
            name = r.label + (" ¹" if key == "consents" else "")
            errors = f"{r.non_2xx} / {r.socket_errors or '0'}"
            lines.append(
                f"| {name} | {r.per_second:,.0f} | {times(r.per_second, bare.per_second)} | {ms(r.p50)} | "
                f"{times(r.p50, bare.p50)} | {ms(r.p99)} | {times(r.p99, bare.p99)} | {r.requests:,} | {errors} |"
            )
        ratios = http["ratios"]
        lines += [
            "",
            "`GET /links/institutions` ÷ bare, round by round: "
            + ", ".join(f"{r:.2f}×" for r in ratios)
            + f" (median {statistics.median(ratios):.2f}×, from {min(ratios):.2f}× to {max(ratios):.2f}×).",
        ]
        if any(key == "consents" for key, _ in rows):
            lines += [
                "",
                f"¹ from the memory phase: {memory.how}; the store grows from 0 to "
                f"{memory.created:,} consents during it, so it is not a steady state.",
            ]
        lines.append("")

    # 3. flows
    lines += ["## 3. The API-only flow, concurrent clients", ""]
    flows = outcome.get("flows")
    if isinstance(flows, str):
        lines += [f"**failed:** {flows}", ""]
    else:
        mock, bare = flows["mock"], flows["bare"]
        lines += [
            f"{options.clients} asyncio httpx clients (one `AsyncClient` each, keep-alive), each running flows back "
            f"to back, bounded by {options.max_flows:,} flows and {options.flow_duration} s (bare: "
            f"{max(1, options.flow_duration // 2)} s). A mock flow is 6 requests — auth, link, institutions, "
            "consent, bank approve (`&decision=approve`, redirect not followed), "
            "`POST /personal/institution-data` (pf_checking_account at 341) — and ends when that request's report "
            "webhook reaches the local receiver (tenant webhooks set with `PUT /__mock/tenants/sandbox-app/webhooks`). "
            f"**Baseline, measured:** the same clients doing {flowbench.REQUESTS_PER_FLOW} sequential "
            '`GET /json` on the bare app per "flow" (6 × one bare request, with the same client cost; it has no '
            "webhook leg).",
            "",
            "| | flows done | failed | flows/s | × bare | p50 | × bare | p99 | × bare |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        state = flows.get("state")
        for r in (bare, mock, state) if state else (bare, mock):
            lines.append(
                f"| {r.label} | {r.completed:,} | {r.failed} | {r.per_second:,.1f} | "
                f"{times(r.per_second, bare.per_second)} | {ms(pct(r.durations, 50))} | "
                f"{times(pct(r.durations, 50), pct(bare.durations, 50))} | {ms(pct(r.durations, 99))} | "
                f"{times(pct(r.durations, 99), pct(bare.durations, 99))} |"
            )
        lines.append("")
        if mock.steps and any(mock.steps.values()):
            lines += [
                "Mock flow, per step (p50 / p99): "
                + ", ".join(
                    f"{step} {ms(pct(values, 50))} / {ms(pct(values, 99))}"
                    for step, values in mock.steps.items()
                    if values
                )
                + "."
            ]
            quarter = max(1, len(mock.durations) // 4)
            if len(mock.durations) >= 8:
                lines += [
                    f"Drift: p50 of the first quarter of flows {ms(pct(mock.durations[:quarter], 50))}, "
                    f"of the last quarter {ms(pct(mock.durations[-quarter:], 50))}."
                ]
        if mock.failures:
            lines += ["Failures: " + "; ".join(f"{reason} ×{n}" for reason, n in mock.failures.items()) + "."]
        if mock.received:
            lines += [
                "Webhooks received: " + ", ".join(f"{path} {n:,}" for path, n in sorted(mock.received.items())) + "."
            ]
        if mock.webhooks:
            sent = sum(w["sent"] for w in mock.webhooks.values())
            acked = sum(w["acknowledged"] for w in mock.webhooks.values())
            pending = {name: w["pending"] for name, w in mock.webhooks.items() if w["pending"]}
            lines += [
                f"The mock's outbox at the end: {sent:,} deliveries created, {acked:,} acknowledged, "
                f"{sum(pending.values()):,} still pending"
                + (f" ({', '.join(f'{k} {v:,}' for k, v in sorted(pending.items()))})" if pending else "")
                + "."
            ]
        if state:
            lines += [
                f"With `--state-file` (SQLite, every answer written before it goes out): "
                f"{times(state.per_second, mock.per_second)} the in-memory mock's flows/s, p50 "
                f"{times(pct(state.durations, 50), pct(mock.durations, 50))} its p50."
            ]
        for r in (mock, state, bare) if state else (mock, bare):
            if r.cpu:
                lines += [
                    f"CPU during the {r.label}: server {r.cpu.get('server', 0):.0%} of its core, "
                    f"driver (clients + receiver) {r.cpu.get('driver', 0):.0%} of its core."
                ]
        lines.append("")

    # 4. start-up
    lines += ["## 4. Start-up: process spawn to the first 200", ""]
    startup = outcome.get("startup")
    if isinstance(startup, str):
        lines += [f"**failed:** {startup}", ""]
    else:
        lines += [
            f"`python -m klavi_mock serve` polled on `GET /__mock/clock`, `bench/bare_app.py` on `GET /json`, "
            f"every 5 ms; {options.starts} starts each, alternating.",
            "",
            "| server | median | min | max | × bare (median) |",
            "|---|---:|---:|---:|---:|",
        ]
        bare_median = statistics.median(startup["bare"]) if startup["bare"] else None
        names = {"bare": "bare", "mock": "mock", "state": f"mock on a state file of {options.consents:,} consents"}
        for kind, name in names.items():
            values = startup[kind]
            if values:
                lines.append(
                    f"| {name} | {ms(statistics.median(values))} | {ms(min(values))} | {ms(max(values))} | "
                    f"{times(statistics.median(values), bare_median)} |"
                )
        lines += [
            "",
            "The state file (one link, pending consents) is written beforehand through the mock's own "
            "store; every consent is read back and its 60-minute window rescheduled before the first 200.",
        ]
        lines.append("")

    # 5. memory
    lines += ["## 5. Resident memory (VmRSS)", ""]
    memory = outcome.get("memory")
    if isinstance(memory, str):
        lines += [f"**failed:** {memory}", ""]
    else:
        per = None
        if memory.created and memory.mock_after_kib and memory.mock_idle_kib:
            per = (memory.mock_after_kib - memory.mock_idle_kib) * 1024 / memory.created
        lines += [
            f"Consents created over HTTP through one link ({memory.how}) in {memory.seconds:.1f} s; "
            f"RSS read from /proc/<pid>/status after a short settle.",
            "",
            "| process | RSS | × bare idle |",
            "|---|---:|---:|",
            f"| bare app, idle | {mib(memory.bare_idle_kib)} | 1.00× |",
            f"| mock, idle (after start-up) | {mib(memory.mock_idle_kib)} | {times(memory.mock_idle_kib, memory.bare_idle_kib)} |",
            f"| mock after {memory.created:,} consents | {mib(memory.mock_after_kib)} | {times(memory.mock_after_kib, memory.bare_idle_kib)} |",
            f"| mock peak (VmHWM) | {mib(memory.mock_peak_kib)} | {times(memory.mock_peak_kib, memory.bare_idle_kib)} |",
            "",
        ]
        if per is not None:
            lines += [f"Growth: {per:,.0f} bytes per consent."]
        if memory.refused:
            lines += [f"Consent requests not answered 200: {memory.refused}."]
        lines.append("")

    lines += [
        "## Targets (from the issue; reported, never asserted)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ] + targets(outcome)
    return "\n".join(lines) + "\n"


def targets(outcome: dict[str, Any]) -> list[str]:
    rows = []
    http = outcome.get("http")
    if isinstance(http, dict):
        ratio = statistics.median(http["ratios"])
        rows.append(
            f"| `GET /links/institutions` ≥ {TARGET_INSTITUTIONS_RATIO:.0%} of the bare endpoint's req/s | "
            f"{ratio:.0%}, median of {len(http['ratios'])} rounds ({min(http['ratios']):.0%} to "
            f"{max(http['ratios']):.0%}; median round {http['institutions'].per_second:,.0f} vs "
            f"{http['bare'].per_second:,.0f} req/s) | "
            f"{'yes' if ratio >= TARGET_INSTITUTIONS_RATIO else '**no**'} |"
        )
    else:
        rows.append("| `GET /links/institutions` ≥ 50% of bare req/s | not measured (no wrk) | – |")
    startup = outcome.get("startup")
    if isinstance(startup, dict) and startup["mock"]:
        median = statistics.median(startup["mock"])
        rows.append(
            f"| first 200 in under {TARGET_FIRST_200_SECONDS:g} s | median {ms(median)} (max {ms(max(startup['mock']))}) | "
            f"{'yes' if median < TARGET_FIRST_200_SECONDS else '**no**'} |"
        )
    memory = outcome.get("memory")
    if isinstance(memory, MemoryResult) and memory.mock_after_kib:
        after = memory.mock_after_kib * 1024
        if memory.created >= TARGET_CONSENTS:
            rows.append(
                f"| {TARGET_CONSENTS:,} consents in under 300 MB | {after / 1e6:.0f} MB ({mib(memory.mock_after_kib)}) "
                f"after {memory.created:,} | {'yes' if after < TARGET_RSS_BYTES else '**no**'} |"
            )
        elif memory.created and memory.mock_idle_kib:
            per = (after - memory.mock_idle_kib * 1024) / memory.created
            estimate = memory.mock_idle_kib * 1024 + per * TARGET_CONSENTS
            rows.append(
                f"| {TARGET_CONSENTS:,} consents in under 300 MB | only {memory.created:,} created: "
                f"{after / 1e6:.0f} MB; extrapolated to {TARGET_CONSENTS:,}: ~{estimate / 1e6:.0f} MB | "
                f"not measured (extrapolation {'under' if estimate < TARGET_RSS_BYTES else 'over'}) |"
            )
    return rows


# -- main --------------------------------------------------------------------------------


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


def guarded(name: str, outcome: dict[str, Any], run: Callable[[], Any]) -> None:
    try:
        outcome[name] = run()
    except Exception as exc:  # one phase failing must not lose the others
        log(f"{name} failed: {exc}")
        traceback.print_exc(file=sys.stderr)
        outcome[name] = f"{type(exc).__name__}: {str(exc)[:300]}"


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
