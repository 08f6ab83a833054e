"""The server log, for people (text) or machines (json: one object a line), tokens masked.

`log_config(level, fmt)` is the logging configuration `klavi-mock serve` gives uvicorn: its
own loggers, the mock's ("klavi_mock") and the access log ("klavi_mock.access") all go to
stderr through one formatter, which masks every line as the journal masks its entries
(qa/journal/masking.mask_text: JWTs such as the link token in `/link?v=eyJ...`, bearer
tokens, secret query parameters).

`AccessLog` writes the access lines (uvicorn's own is switched off): method, path with its
query, status, latency, the client, and for a Klavi API request its journal entry's id
(GET /__mock/requests/{id}), which record.py leaves in the scope under JOURNAL_ID.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from klavi_mock.qa.journal.masking import mask_text

ACCESS_LOGGER = "klavi_mock.access"
JOURNAL_ID = "klavi_mock.journal_id"  # scope key: the journal entry's id of a Klavi API request
FORMATS = ("text", "json")

# The attributes every LogRecord has; anything else was passed as `extra` and goes in the JSON.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "color_message"}


class MaskingTextFormatter(logging.Formatter):
    """`LEVEL:     message`, as uvicorn prints, with credentials masked."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s:     %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return mask_text(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and the record's extra fields
    (an access line's method, path, status, latencyMs, client, journalId)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = mask_text(value) if isinstance(value, str) else value
        if record.exc_info:
            line["exception"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(line, default=str, ensure_ascii=False)


def log_config(level: str, fmt: str) -> dict[str, Any]:
    """The dictConfig for uvicorn's `log_config`: every logger the mock writes to, one format."""
    formatter = {"()": JsonFormatter} if fmt == "json" else {"()": MaskingTextFormatter}
    handler = {"class": "logging.StreamHandler", "formatter": "mock", "stream": "ext://sys.stderr"}
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"mock": formatter},
        "handlers": {"mock": handler},
        "loggers": {
            "uvicorn": {"handlers": ["mock"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "uvicorn.access": {"handlers": ["mock"], "level": upper, "propagate": False},
            "klavi_mock": {"handlers": ["mock"], "level": upper, "propagate": False},
        },
    }


class AccessLog:
    """One access line a request, written when its answer is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None  # None: no answer was sent (a hang-up fault, a client gone)

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self._write(scope, status, time.perf_counter() - started)

    def _write(self, scope: Scope, status: int | None, latency: float) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        path = scope["path"]
        target = f"{path}?{query}" if query else path
        client = scope.get("client")
        where = f"{client[0]}:{client[1]}" if client else "-"
        journal_id = scope.get(JOURNAL_ID)
        extra: dict[str, Any] = {
            "method": scope["method"],
            "path": mask_text(target),
            "status": status,
            "latencyMs": round(latency * 1000, 3),
            "client": where,
        }
        if journal_id is not None:
            extra["journalId"] = journal_id
        tail = f" [{journal_id}]" if journal_id is not None else ""
        shown = "-" if status is None else str(status)
        self.log.info(
            '%s - "%s %s" %s %.1fms%s', where, scope["method"], target, shown, latency * 1000, tail, extra=extra
        )
