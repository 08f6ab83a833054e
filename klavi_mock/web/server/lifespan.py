"""The app's lifespan: a ticker that carries out what falls due on the clock when no
request comes, around the services the app runs in the background (the webhook
dispatcher: built in app.py), and the sandbox closed at the end."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.storage.protocol import StorageError

log = logging.getLogger("klavi_mock")

TICK_SECONDS = 1.0  # how often time-driven changes are looked for when no request comes

Services = Callable[[], AbstractAsyncContextManager[None]]


async def tick(sandbox: Sandbox) -> None:
    """Wall-clock time passes too: carry out what falls due even with no request. Also the
    store's slow upkeep (a state file's checkpoint), in a thread, off the event loop."""
    while True:
        await asyncio.sleep(TICK_SECONDS)
        try:
            sandbox.run_due()
            if sandbox.store.shared:  # builds another instance left owed when it died
                sandbox.reports.build_owed()
            if sandbox.store.durable:
                sandbox.store.commit()
                await asyncio.to_thread(sandbox.store.checkpoint)
        except StorageError as exc:  # kept in memory, written by a later commit
            log.warning("%s; trying again", exc)
        except Exception:  # a bug must not stop the clock
            log.exception("running due work failed")


def lifespan(sandbox: Sandbox, services: Services) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """Starlette's lifespan: the ticker and `services` run while the app serves; on the
    way out, the ticker stops first, then the services, then the sandbox closes."""

    @contextlib.asynccontextmanager
    async def running(app: Any) -> AsyncIterator[None]:
        try:
            async with services():
                ticker = asyncio.create_task(tick(sandbox))
                try:
                    yield
                finally:
                    ticker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await ticker
        finally:
            sandbox.close()

    return running
