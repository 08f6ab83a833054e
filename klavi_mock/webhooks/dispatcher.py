"""The dispatcher: sends what the outbox holds, over HTTP, with Klavi's retry rules.

It claims what may go now from the store's outbox (`Store.claim_due`; in memory
O(log n) a delivery, whatever the backlog), then sleeps until the next delivery falls due on the mock
clock, or until woken through its `WakeUp` (a new delivery, a redelivery, an attempt ended, the clock advanced),
so retries due after a clock jump go at once. With nothing it may send (a receiver that
hangs holds every slot), it sleeps. Each attempt is committed to the store as it ends. When the mock stops, attempts under way
get SHUTDOWN_GRACE seconds; one cut short stays pending (in a state file, it is sent after
the restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.request
from collections.abc import Callable

import httpx

from klavi_mock.domain.clock import Clock
from klavi_mock.domain.deliveries import EXCERPT, MAX_REDIRECTS, TIMEOUT, Attempt, Delivery
from klavi_mock.storage.protocol import ConflictError, StorageError, Store
from klavi_mock.webhooks import pool
from klavi_mock.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from klavi_mock.webhooks.wakeup import WakeUp

log = logging.getLogger("klavi_mock.webhooks")

MAX_IN_FLIGHT = 64  # attempts under way at once, all URLs together
IDLE_WAIT = 1.0  # seconds between looks when nothing is scheduled (wall time passes too)
SHUTDOWN_GRACE = 5.0  # seconds attempts under way get to finish when the mock stops


class Dispatcher:
    def __init__(self, clock: Clock, store: Store, secret_for: Callable[[str], str | None], wakeup: WakeUp) -> None:
        self.clock = clock
        self._store = store  # its outbox: the pending deliveries
        self._secret_for = secret_for
        self._wakeup = wakeup
        self._wake = asyncio.Event()  # replaced by the wake-up's own while running
        self._tasks: set[asyncio.Task] = set()
        self._client: httpx.AsyncClient | None = None
        self._transport: httpx.AsyncHTTPTransport | None = None  # the client's, when it is the lean pool's
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver until `shutdown`. (No reliance on task cancellation: asyncio.wait_for can
        swallow a cancel that races with the wake-up, which would hang the shutdown.)"""
        self._wake = self._wakeup.listen()
        if self._stopping:
            self._wake.set()
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
        self._transport = None if urllib.request.getproxies() else pool.transport()
        self._client = httpx.AsyncClient(
            timeout=TIMEOUT,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            limits=limits,
            headers={"User-Agent": "klavi-mock webhooks"},
            # The lean pool (pool.py), unless the environment names a proxy: httpx's own then.
            transport=self._transport,
        )
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    self._start_ready()
                    due = self._store.next_due()
                except StorageError as exc:  # a database that is down: look again in a while
                    log.warning("%s; the webhook outbox is looked at again shortly", exc)
                    due = None
                wait = IDLE_WAIT if due is None else max(0.0, min(IDLE_WAIT, (due - self.clock.now()).total_seconds()))
                await self._sleep(wait)
        finally:
            if self._tasks:  # attempts under way may finish; the rest stay pending
                _, unfinished = await asyncio.wait(set(self._tasks), timeout=SHUTDOWN_GRACE)
                for attempt in unfinished:
                    attempt.cancel()
                if unfinished:
                    await asyncio.wait(unfinished)
            await self._client.aclose()
            self._wakeup.stop_listening()

    async def shutdown(self, task: asyncio.Task, grace: float = SHUTDOWN_GRACE + 2) -> None:
        """Stop taking new work, give attempts under way their grace, and end `task` (the run())."""
        self._stopping = True
        self.wake()
        done, _ = await asyncio.wait({task}, timeout=grace)
        if not done:
            task.cancel()

    async def _sleep(self, seconds: float) -> None:
        """Until woken or `seconds` pass: a timer that sets the wake-up (cheaper, per
        delivery, than a task to wait on)."""
        if self._wake.is_set():
            return
        timer = asyncio.get_running_loop().call_later(seconds, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            timer.cancel()

    def _start_ready(self) -> None:
        for delivery in self._store.claim_due(self.clock.now(), MAX_IN_FLIGHT - len(self._tasks)):
            task = asyncio.create_task(self._attempt(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """The POST straight through the client's transport: the client's layers around it
        (auth, cookies, redirects) cost about a quarter of a delivery. A redirect goes back
        to the client, which follows it from the start (so MAX_REDIRECTS counts as before)."""
        assert self._client is not None
        if self._transport is None:
            return await self._client.post(url, content=body, headers=headers)
        request = self._client.build_request("POST", url, content=body, headers=headers)
        response = await self._transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        if response.has_redirect_location:
            return await self._client.post(url, content=body, headers=headers)
        return response

    async def _attempt(self, delivery: Delivery) -> None:
        url = delivery.destination or ""
        secret = self._secret_for(delivery.tenant_id) or ""
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(
                delivery.body, secret + "-not-the-secret" if "badSignature" in delivery.chaos else secret
            ),
            TIMESTAMP_HEADER: str(int(self.clock.timestamp()) - delivery.chaos.get("staleTimestamp", 0)),
        }
        if "missingSignature" in delivery.chaos:
            del headers[SIGNATURE_HEADER]
        started_at, started = self.clock.now(), time.perf_counter()
        status_code, error, excerpt = None, None, ""
        try:
            response = await self._post(url, delivery.body, headers)
            status_code, excerpt = response.status_code, response.text[:EXCERPT]
        except asyncio.CancelledError:  # the mock is stopping: this one goes again later
            self._store.release(delivery)
            raise
        except httpx.TooManyRedirects:
            error = f"more than {MAX_REDIRECTS} redirects"
        except httpx.TimeoutException:
            error = f"no answer within {TIMEOUT:g} s"
        except (httpx.HTTPError, ValueError) as exc:  # refused, DNS, a bad URL...
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except Exception as exc:  # never let one delivery stop the dispatcher
            log.exception("webhook attempt failed unexpectedly")
            error = f"{type(exc).__name__}: {exc}"
        latency = (time.perf_counter() - started) * 1000
        try:
            with self._store.updating(delivery):
                delivery.record(
                    Attempt(
                        len(delivery.attempts) + 1, started_at, url, status_code, round(latency, 1), error, excerpt
                    ),
                    self.clock.now(),
                )
            self._store.attempted(delivery)
            self._store.commit()
        except ConflictError as exc:  # changed meanwhile (redelivered through another instance): its row wins
            log.warning("%s; this attempt is not recorded, the delivery goes as it now says", exc)
            with contextlib.suppress(StorageError):
                self._store.release(delivery)
        except StorageError as exc:  # kept in memory, written by a later commit (a database: its lease runs out)
            log.warning("%s; trying again", exc)
        self.wake()
