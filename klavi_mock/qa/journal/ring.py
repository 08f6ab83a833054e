"""The journal's ring: the last N requests to the Klavi API, newest first when listed.

An entry keeps the request's headers and both bodies as they were (bodies bounded by
masking.kept) and masks them the first time it is read (`request_headers`,
`request_body`, `response_body`), then forgets the unmasked bytes: nothing the journal
answers holds a token or a secret, and the hot path pays for no masking. A replay
re-creates credentials from the tenant's configuration instead (`JournalEntry.auth` names
what kind of token the request carried, not the token).
"""

from __future__ import annotations

import contextvars
import itertools
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from klavi_mock.qa.journal.masking import mask_headers, mask_raw

DEFAULT_SIZE = 1000

# Set while the control API replays an entry: the replayed request's entry lands here, and
# notes what it replays. A list, so context copies (tasks) still share it.
replaying: contextvars.ContextVar[list | None] = contextvars.ContextVar("journal_replaying", default=None)

RawHeaders = list[tuple[bytes, bytes]]  # an ASGI scope's headers


@dataclass(slots=True, eq=False)
class JournalEntry:
    sequence: int
    timestamp: float  # on the mock's clock (Clock.timestamp); `at` is the datetime
    method: str
    path: str
    query: str
    app_id: str | None
    operation_id: str
    status: int
    latency: float  # seconds; `latency_ms` is what is shown
    # The kind of bearer token the request carried, and whose ("accessToken"/"linkToken",
    # app id, link id): enough to mint an equivalent one for a replay, and no secret.
    auth: dict[str, str | None] | None = None
    fault: Any = None  # what a fault layer did to this request, if anything
    replay_of: str | None = None
    tolerated: tuple[str, ...] = ()
    # Unmasked, as received and sent: read only through the properties below.
    _raw: tuple[RawHeaders, bytes, bytes] | None = field(default=None, repr=False)
    _masked: tuple[dict[str, str], bytes, bytes] | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return f"r{self.sequence}"

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, tz=timezone.utc)

    @property
    def latency_ms(self) -> float:
        return round(self.latency * 1000, 3)

    @property
    def request_headers(self) -> dict[str, str]:
        """The kept headers, credentials masked (masking.mask_headers)."""
        return self._read()[0]

    @property
    def request_body(self) -> bytes:
        """Masked (masking.mask_raw); decoded when shown."""
        return self._read()[1]

    @property
    def response_body(self) -> bytes:
        return self._read()[2]

    def _read(self) -> tuple[dict[str, str], bytes, bytes]:
        raw = self._raw
        if raw is None:  # masked already (another thread may have just done it)
            assert self._masked is not None
            return self._masked
        masked = (mask_headers(raw[0]), mask_raw(raw[1]), mask_raw(raw[2]))
        self._masked = masked  # set before the raw bytes go: a reader sees one or the other
        self._raw = None
        return masked


class RequestJournal:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._entries: deque[JournalEntry] = deque(maxlen=size)  # oldest first; sequences consecutive
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()  # the real-server tests read it from other threads

    def add(self, *, headers: RawHeaders, request_body: bytes, response_body: bytes, **fields: Any) -> JournalEntry:
        """A new entry; `headers` and the bodies as they were (bodies already bounded:
        masking.kept), masked when first read."""
        holder = replaying.get()
        with self._lock:
            entry = JournalEntry(sequence=next(self._sequence), _raw=(headers, request_body, response_body), **fields)
            if holder is not None and not holder[1:]:
                entry.replay_of = holder[0]
                holder.append(entry)
            self._entries.append(entry)  # the oldest falls out past `size`
        return entry

    def get(self, entry_id: str) -> JournalEntry | None:
        if not (entry_id[:1] == "r" and entry_id[1:].isascii() and entry_id[1:].isdigit()):
            return None
        sequence = int(entry_id[1:])
        with self._lock:
            if not self._entries:
                return None
            at = sequence - self._entries[0].sequence
            return self._entries[at] if 0 <= at < len(self._entries) else None

    def newest_first(self, before: int | None = None) -> Iterator[JournalEntry]:
        with self._lock:
            entries = list(reversed(self._entries))
        return (e for e in entries if before is None or e.sequence < before)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
