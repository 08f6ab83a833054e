"""The benchmark's machinery (bench/run.py is its command line): the machine, servers as
real pinned processes, wrk runs and their parsing, and the phases, each returning what it
measured. Nothing here prints the table (report.py) or parses arguments (run.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
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
TARGET_SAME_BODY_RATIO = 0.60  # against the bare app sending the same bytes (issue 19)
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


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (the mock, its workers, its report builder)."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            stack.extend(int(p) for p in Path(f"/proc/{current}/task/{current}/children").read_text().split())
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants: their own, and those of children
    already reaped (cutime, cstime)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for current in process_tree(pid):
        fields = _stat(current)
        if fields is not None:
            total += sum(int(fields[i]) for i in (11, 12, 13, 14)) / ticks
    return total


def tree_rss_kib(pid: int) -> int:
    return sum(read_status_kib(current, "VmRSS") or 0 for current in process_tree(pid))


class Server:
    """`python -m klavi_mock serve` or bench/bare_app.py on a free loopback port, pinned."""

    READY_PATH = {"mock": "/__mock/clock", "bare": "/json"}

    def __init__(self, kind: str, tools: Tools, logdir: Path, extra: tuple[str, ...] = (), root: Path = ROOT) -> None:
        self.kind = kind
        self.root = root  # the source tree it runs from (another commit's worktree, to compare)
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
        return [*self.tools.server_prefix(), sys.executable, str(BENCH / "bare_app.py"), *common, *self.extra]

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid  # taskset execs the server: same pid

    def start(self, timeout: float = 30.0, poll_every: float = 0.005) -> float:
        """Spawn, then poll the ready path every few ms: seconds from spawn to the first 200."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KLAVI_MOCK_")}  # the default sandbox tenant
        if self.root != ROOT:
            env["PYTHONPATH"] = str(self.root)
        with open(self.logfile, "wb") as out:
            started = time.perf_counter()
            self.process = subprocess.Popen(
                self.command(), stdout=out, stderr=subprocess.STDOUT, cwd=self.root, env=env
            )
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
def running(kind: str, tools: Tools, logdir: Path, extra: tuple[str, ...] = (), root: Path = ROOT) -> Iterator[Server]:
    server = Server(kind, tools, logdir, extra, root)
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
    drifts within a run, so each mock figure is compared with the bare ones measured just
    before it, and the round with the median ratio is the one reported. The bare app
    serves, besides GET /json, the mock's institution list as pre-serialized bytes
    (GET /body): the same answer, with nothing but Starlette and uvicorn behind it."""
    d, c = max(1, options.duration // 2), options.connections
    rounds = 3 if options.quick else ROUNDS
    with running("mock", tools, logdir) as mock:
        _, link_token = tokens(mock.base)
        institutions_url = mock.base + API + "/links/institutions"
        header = (f"Authorization: Bearer {link_token}",)
        body_file = logdir / "institutions.json"
        answer = httpx.get(institutions_url, headers={"Authorization": f"Bearer {link_token}"}, timeout=10)
        body_file.write_bytes(answer.raise_for_status().content)
        with running("bare", tools, logdir, ("--body-file", str(body_file))) as bare:
            bare_url, body_url = bare.base + "/json", bare.base + "/body"
            run_wrk(tools, "warm-up", bare_url, options.warmup, c)
            run_wrk(tools, "warm-up", body_url, options.warmup, c)
            run_wrk(tools, "warm-up", institutions_url, options.warmup, c, headers=header)
            rounds_done = []
            for n in range(1, rounds + 1):
                log(
                    f"round {n}/{rounds}: wrk GET /json and GET /body (bare), then GET {API}/links/institutions, "
                    f"{d} s each, {c} connections"
                )
                rounds_done.append(
                    (
                        run_wrk(tools, "bare GET /json", bare_url, d, c),
                        run_wrk(tools, "bare GET /body (the institution list, pre-serialized)", body_url, d, c),
                        run_wrk(tools, f"GET {API}/links/institutions", institutions_url, d, c, headers=header),
                    )
                )
            url = mock.base + API + "/auth"
            script = BENCH / "lua" / "post_auth.lua"
            run_wrk(tools, "warm-up", url, options.warmup, c, script=script)
            log(f"wrk POST {API}/auth {d} s, {c} connections")
            auth = run_wrk(tools, f"POST {API}/auth", url, d, c, script=script)
    pairs = [(b, m) for b, _, m in rounds_done]
    ratios = [ratio(m, b) for b, m in pairs]
    body_ratios = [ratio(m, b) for _, b, m in rounds_done]
    median_bare, median_body, median_mock = rounds_done[sorted(range(rounds), key=ratios.__getitem__)[rounds // 2]]
    return {
        "bare": median_bare,
        "body": median_body,
        "institutions": median_mock,
        "auth": auth,
        "ratios": ratios,
        "body_ratios": body_ratios,
        "pairs": pairs,
    }


def ratio(mock: WrkResult, bare: WrkResult) -> float:
    return mock.per_second / bare.per_second if bare.per_second else 0.0


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


def guarded(name: str, outcome: dict[str, Any], run: Callable[[], Any]) -> None:
    try:
        outcome[name] = run()
    except Exception as exc:  # one phase failing must not lose the others
        log(f"{name} failed: {exc}")
        traceback.print_exc(file=sys.stderr)
        outcome[name] = f"{type(exc).__name__}: {str(exc)[:300]}"
