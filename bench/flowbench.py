"""The API-only flow under concurrent clients, and its baseline (bench/run.py uses both).

One flow, as a partner's back end and its user would do it, all over loopback:

    POST /data/v1/auth                      -> accessToken
    POST /data/v1/links                     -> linkToken
    GET  /data/v1/links/institutions        (linkToken)
    POST /data/v1/consents                  -> consentRedirectURL   (a new CPF per flow)
    GET  consentRedirectURL&decision=approve   -> 302 to the partner (not followed)
    POST /data/v1/personal/institution-data    -> requestId  (pf_checking_account at 341)
    ... the report webhook for that requestId arrives at the local receiver

Its duration runs from the first request to the report's arrival. The receiver is a small
asyncio HTTP/1.1 server in the same event loop as the clients (no thread, no extra
process): it answers 200 at once and resolves the flow waiting for that requestId.

The baseline ("bare pseudo-flow") is the same clients doing the same number of HTTP
requests per flow (6) against the bare Starlette endpoint, so the comparison includes the
same client-side cost.

Every loop is bounded by a deadline and a count, and every wait by a timeout.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from klavi_mock.domain.taxid import make_cpf

REQUESTS_PER_FLOW = 6  # HTTP requests the client makes in one mock flow (the webhook is extra)
STEPS = ("auth", "link", "institutions", "consent", "approve", "report_request", "webhook")
PARTNER_RETURN = "https://partner.example.com/return"
PRODUCT = "pf_checking_account"
INSTITUTION = "341"


class AsyncReceiver:
    """A webhook receiver on 127.0.0.1 inside the running event loop. Reports (POSTs to
    /reports) resolve the future registered for their requestId; events are counted."""

    def __init__(self) -> None:
        self.port = 0
        self.counts: dict[str, int] = {}
        self.bytes_received = 0
        self._waiters: dict[str, asyncio.Future] = {}
        self._early: dict[str, float] = {}  # reports that came before anyone waited
        self._server: asyncio.base_events.Server | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 2)
            except asyncio.TimeoutError:
                pass

    def expect(self, request_id: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        if request_id in self._early:
            future.set_result(self._early.pop(request_id))
        else:
            self._waiters[request_id] = future
        return future

    def forget(self, request_id: str) -> None:
        self._waiters.pop(request_id, None)

    def _received(self, path: str, body: bytes) -> None:
        arrived = time.perf_counter()
        self.counts[path] = self.counts.get(path, 0) + 1
        self.bytes_received += len(body)
        if not path.startswith("/reports"):
            return
        try:
            request_id = json.loads(body).get("requestId")
        except (ValueError, AttributeError):
            return
        future = self._waiters.pop(request_id, None)
        if future is None:
            self._early[request_id] = arrived
        elif not future.done():
            future.set_result(arrived)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answer = b'{"received":true}'
        reply = (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(answer)).encode()
            + b"\r\n\r\n"
            + answer
        )
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
                length, chunked = 0, False
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value.strip() or 0)
                    elif name == "transfer-encoding" and "chunked" in value.lower():
                        chunked = True
                if chunked:
                    body = await _read_chunked(reader)
                else:
                    body = await reader.readexactly(length) if length else b""
                self._received(path, body)
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError, IndexError):
            pass
        except asyncio.CancelledError:  # the loop is ending (asyncio.run's clean-up): nothing to keep
            pass
        finally:
            writer.close()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


@dataclass
class FlowResult:
    label: str
    clients: int
    wall_seconds: float = 0.0
    durations: list[float] = field(default_factory=list)  # seconds, completed flows, in completion order
    starts: list[float] = field(default_factory=list)  # when each of them started, seconds into the run
    steps: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    failures: dict[str, int] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # share of a core: server, driver
    webhooks: dict[str, dict[str, int]] = field(default_factory=dict)  # the mock's outbox by name

    @property
    def completed(self) -> int:
        return len(self.durations)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def per_second(self) -> float:
        return self.completed / self.wall_seconds if self.wall_seconds else 0.0

    def steady_steps(self, warm_up: float) -> dict[str, list[float]]:
        """The step times of the flows that started `warm_up` seconds or more into the run:
        sustained load, without the first wave (every client starting at once, on a cold
        mock)."""
        keep = [i for i, start in enumerate(self.starts) if start >= warm_up]
        return {step: [values[i] for i in keep if i < len(values)] for step, values in self.steps.items()}

    def fail(self, reason: str) -> None:
        self.failures[reason] = self.failures.get(reason, 0) + 1


class FlowError(Exception):
    pass


def _expect(response: httpx.Response, status: int, step: str) -> Any:
    if response.status_code != status:
        raise FlowError(f"{step}: HTTP {response.status_code} {response.text[:120]!r}")
    return response.json() if response.headers.get("content-type", "").startswith("application/json") else None


async def _one_flow(
    client: httpx.AsyncClient,
    api: str,
    receiver: AsyncReceiver,
    number: int,
    run_tag: str,
    webhook_timeout: float,
    steps: dict[str, float],
) -> float:
    cpf = make_cpf(f"{300000000 + number:09d}")
    started = mark = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        steps[step] = now - mark
        mark = now

    auth = _expect(
        await client.post(f"{api}/auth", json={"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}),
        200,
        "auth",
    )
    access = {"Authorization": f"Bearer {auth['accessToken']}"}
    lap("auth")
    link = _expect(
        await client.post(
            f"{api}/links",
            headers=access,
            json={"personalTaxId": cpf, "externalInfo": {"bench": run_tag, "flow": number}},
        ),
        200,
        "link",
    )
    link_auth = {"Authorization": f"Bearer {link['linkToken']}"}
    lap("link")
    _expect(await client.get(f"{api}/links/institutions", headers=link_auth), 200, "institutions")
    lap("institutions")
    consent = _expect(
        await client.post(
            f"{api}/consents",
            headers=link_auth,
            json={
                "externalTrackId": f"{run_tag}-flow-{number}",
                "personalTaxId": cpf,
                "institutionCode": INSTITUTION,
                "redirectURL": PARTNER_RETURN,
                "validityPeriod": 12,
            },
        ),
        200,
        "consent",
    )
    lap("consent")
    back = await client.get(consent["consentRedirectURL"] + "&decision=approve", follow_redirects=False)
    location = back.headers.get("location", "")
    if back.status_code not in (302, 303) or not location.startswith(PARTNER_RETURN) or "error=" in location:
        raise FlowError(f"approve: HTTP {back.status_code} to {location[:120]!r}")
    lap("approve")
    accepted = _expect(
        await client.post(
            f"{api}/personal/institution-data",
            headers=access,
            json={"taxId": cpf, "institutionCode": INSTITUTION, "products": [PRODUCT]},
        ),
        200,
        "report_request",
    )
    arrival = receiver.expect(accepted["requestId"])
    lap("report_request")
    try:
        arrived = await asyncio.wait_for(arrival, webhook_timeout)
    except asyncio.TimeoutError:
        receiver.forget(accepted["requestId"])
        raise FlowError(f"webhook: no report within {webhook_timeout:g} s") from None
    steps["webhook"] = arrived - mark
    return arrived - started


async def configure_webhooks(base: str, receiver: AsyncReceiver) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.put(
            f"{base}/__mock/tenants/sandbox-app/webhooks",
            json={"eventsUrl": receiver.url("/events"), "productsCallbackURL": {"all": receiver.url("/reports")}},
        )
        response.raise_for_status()


async def _drive(
    label: str, clients: int, max_flows: int, duration: float, flow, rate: float | None = None
) -> FlowResult:
    """Run `flow(client, number, steps)` from `clients` workers until `max_flows` have started
    or `duration` has passed; each worker finishes the flow it is in. `rate`: flow n starts
    no sooner than n / rate seconds in (an open load, the same whatever the server's speed,
    as long as a worker is free), instead of each worker starting its next flow at once."""
    result = FlowResult(label, clients)
    counter = iter(range(max_flows))
    # Every client made before the clock starts, over one TLS context: each would otherwise
    # load the CA bundle (tens of ms of this driver's CPU), and 200 of them made while the
    # first flows run held those flows up by seconds, a cost of the driver, not the mock.
    tls = ssl.create_default_context()
    pool = [httpx.AsyncClient(timeout=15, verify=tls) for _ in range(clients)]
    started = time.perf_counter()
    deadline = started + duration
    give_up_after = max(20, max_flows // 10)  # a broken server must not keep the loop busy

    async def worker(client: httpx.AsyncClient) -> None:
        async with client:
            while time.perf_counter() < deadline and result.failed < give_up_after:
                number = next(counter, None)
                if number is None:
                    return
                if rate:
                    await asyncio.sleep(started + number / rate - time.perf_counter())
                    if time.perf_counter() >= deadline:
                        return
                steps: dict[str, float] = {}
                began = time.perf_counter() - started
                try:
                    seconds = await flow(client, number, steps)
                except FlowError as exc:
                    result.fail(str(exc)[:90])
                    continue
                except httpx.HTTPError as exc:
                    result.fail(f"transport: {type(exc).__name__}")
                    continue
                result.durations.append(seconds)
                result.starts.append(began)
                for step, value in steps.items():
                    result.steps.setdefault(step, []).append(value)

    await asyncio.gather(*(worker(client) for client in pool))
    result.wall_seconds = time.perf_counter() - started
    return result


async def run_mock_flows(
    base: str,
    clients: int,
    max_flows: int,
    duration: float,
    run_tag: str,
    webhook_timeout: float = 30.0,
    receiver: AsyncReceiver | None = None,
    rate: float | None = None,
) -> FlowResult:
    """`receiver`: one the caller started and stops (to see the webhooks still owed after);
    `rate`: flows started per second (see `_drive`)."""
    owned = receiver is None
    receiver = receiver or AsyncReceiver()
    if owned:
        await receiver.start()
    try:
        await configure_webhooks(base, receiver)
        api = f"{base}/data/v1"

        async def flow(client: httpx.AsyncClient, number: int, steps: dict[str, float]) -> float:
            return await _one_flow(client, api, receiver, number, run_tag, webhook_timeout, steps)

        result = await _drive("mock API-only flow", clients, max_flows, duration, flow, rate)
        await asyncio.sleep(0.2)  # events still on their way, for the counts only
        result.received = dict(receiver.counts)
        return result
    finally:
        if owned:
            await receiver.stop()


async def run_bare_flows(
    url: str, clients: int, max_flows: int, duration: float, requests_per_flow: int = REQUESTS_PER_FLOW
) -> FlowResult:
    async def flow(client: httpx.AsyncClient, number: int, steps: dict[str, float]) -> float:
        started = time.perf_counter()
        for _ in range(requests_per_flow):
            _expect(await client.get(url), 200, "bare")
        return time.perf_counter() - started

    result = await _drive(f"bare pseudo-flow ({requests_per_flow} x GET)", clients, max_flows, duration, flow)
    result.steps = {}
    return result
