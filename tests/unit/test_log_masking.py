"""Every log line is masked as the journal masks its entries (qa/journal/masking.mask_text)."""

from __future__ import annotations

import json
import logging

import pytest

from klavi_mock.qa.journal.masking import mask_text
from klavi_mock.web.server.logs import JsonFormatter, MaskingTextFormatter

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsaW5rIn0.c2lnbmF0dXJl-_x"


@pytest.mark.parametrize(
    "line, masked",
    [
        (f'"GET /link?v={JWT} HTTP/1.1" 200', '"GET /link?v=*** HTTP/1.1" 200'),
        ("Authorization: Bearer abc.def-123", "Authorization: Bearer ***"),
        ("GET /x?linkToken=opaque&page=2", "GET /x?linkToken=***&page=2"),
        ("GET /x?page=1&secretKey=s3cr3t", "GET /x?page=1&secretKey=***"),
        ("X-Mock-Admin-Token: hunter2", "X-Mock-Admin-Token: ***"),
        ("GET /data/v1/institutions?page=1 200", "GET /data/v1/institutions?page=1 200"),
    ],
)
def test_mask_text(line, masked):
    assert mask_text(line) == masked


def _record(message: str, **extra) -> logging.LogRecord:
    record = logging.LogRecord("klavi_mock.access", logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_the_json_formatter_writes_one_masked_object_with_the_extra_fields():
    line = JsonFormatter().format(_record(f"GET /link?v={JWT}", path=f"/link?v={JWT}", status=200, latencyMs=1.5))
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "GET /link?v=***" and data["path"] == "/link?v=***"
    assert data["status"] == 200 and data["latencyMs"] == 1.5 and data["level"] == "info"
    assert JWT not in line


def test_the_text_formatter_masks():
    assert JWT not in MaskingTextFormatter().format(_record(f"GET /link?v={JWT}"))
