"""Stored objects (dataclasses) to JSON-ready dicts and back, so a state file can be read
with any SQLite client. Datetimes become ISO 8601 strings, bytes base64; nested
dataclasses (a delivery's attempts) follow their field types.

Reading is lenient: a field the dataclass no longer has is ignored and a missing one
takes its default, so a state file outlives small changes to the classes.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import typing
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


def to_record(obj: Any) -> dict[str, Any]:
    return {f.name: _encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}


def from_record(cls: type[T], record: dict[str, Any]) -> T:
    hints = _hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{name: _decode(hints[name], value) for name, value in record.items() if name in known})


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if dataclasses.is_dataclass(value):
        return to_record(value)
    if isinstance(value, list):
        return [_encode(item) for item in value]
    return value


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    args = typing.get_args(hint)
    if hint is datetime or datetime in args:
        return datetime.fromisoformat(value)
    if hint is bytes:
        return base64.b64decode(value)
    if typing.get_origin(hint) is list and args and dataclasses.is_dataclass(args[0]):
        return [from_record(args[0], item) for item in value]
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)
