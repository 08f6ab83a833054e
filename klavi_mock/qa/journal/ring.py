"""The journal's ring: the last N requests to the Klavi API, newest first when listed.

Entries are masked when they are made (masking.py): nothing the journal answers or keeps
holds a token or a secret. A replay re-creates credentials from the tenant's configuration
instead (`JournalEntry.auth` names what kind of token the request carried, not the token).
"""

from __future__ import annotations

import contextvars
import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DEFAULT_SIZE = 1000

# Set while the control API replays an entry: the replayed request's entry lands here, and
# notes what it replays. A list, so context copies (tasks) still share it.
replaying: contextvars.ContextVar[list | None] = contextvars.ContextVar("journal_replaying", default=None)


@dataclass(slots=True)
class JournalEntry:
    sequence: int
    at: datetime
    method: str
    path: str
    query: str
    app_id: str | None
    operation_id: str
    status: int
    latency_ms: float
    request_headers: dict[str, str]
    request_body: bytes  # masked (masking.mask_raw); decoded when shown
    response_body: bytes
    # The kind of bearer token the request carried, and whose ("accessToken"/"linkToken",
    # app id, link id): enough to mint an equivalent one for a replay, and no secret.
    auth: dict[str, str | None] | None = None
    fault: Any = None  # what a fault layer did to this request, if anything
    replay_of: str | None = None
    tolerated: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"r{self.sequence}"


class RequestJournal:
    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[int, JournalEntry] = OrderedDict()
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()  # the real-server tests read it from other threads

    def add(self, **fields: Any) -> JournalEntry:
        holder = replaying.get()
        with self._lock:
            entry = JournalEntry(sequence=next(self._sequence), **fields)
            if holder is not None and not holder[1:]:
                entry.replay_of = holder[0]
                holder.append(entry)
            self._entries[entry.sequence] = entry
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return entry

    def get(self, entry_id: str) -> JournalEntry | None:
        if not (entry_id[:1] == "r" and entry_id[1:].isascii() and entry_id[1:].isdigit()):
            return None
        return self._entries.get(int(entry_id[1:]))

    def newest_first(self, before: int | None = None) -> Iterator[JournalEntry]:
        with self._lock:
            entries = list(reversed(self._entries.values()))
        return (e for e in entries if before is None or e.sequence < before)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
