"""What wakes the webhook dispatcher: new work in the outbox, a redelivery, the clock moved.

Made once, with the services (the composition root), and passed to those that wake it and
to the dispatcher that waits on it. Waking while no dispatcher runs does nothing: the
dispatcher looks at the outbox as it starts.
"""

from __future__ import annotations

import asyncio


class WakeUp:
    def __init__(self) -> None:
        self._event: asyncio.Event | None = None  # the running dispatcher's, on its event loop

    def wake(self) -> None:
        if self._event is not None:
            self._event.set()

    def listen(self) -> asyncio.Event:
        """The dispatcher starts (on its event loop): the event it waits on from now on."""
        self._event = asyncio.Event()
        return self._event

    def stop_listening(self) -> None:
        self._event = None
