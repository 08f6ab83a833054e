"""Stored objects (dataclasses) to JSON-ready dicts and back, so a state file can be read
with any SQLite client. Datetimes become ISO 8601 strings, bytes base64; nested
dataclasses (a delivery's attempts) follow their field types.

Each class's field conversions are worked out once, from its type hints: every commit
writes records and every start-up on a state file reads them all.

Reading is lenient: a field the dataclass no longer has is ignored and a missing one
takes its default, so a state file outlives small changes to the classes.
"""

from __future__ import annotations

import base64
import dataclasses
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")
Convert = Callable[[Any], Any]


def to_record(obj: Any) -> dict[str, Any]:
    record = {}
    for name, (encode, _) in _conversions(type(obj)).items():
        value = getattr(obj, name)
        record[name] = value if value is None or encode is None else encode(value)
    return record


def from_record(cls: type[T], record: dict[str, Any]) -> T:
    conversions = _conversions(cls)
    values = {}
    for name, value in record.items():
        if name in conversions:
            decode = conversions[name][1]
            values[name] = value if value is None or decode is None else decode(value)
    return cls(**values)


_CONVERSIONS: dict[type, dict[str, tuple[Convert | None, Convert | None]]] = {}


def _conversions(cls: type) -> dict[str, tuple[Convert | None, Convert | None]]:
    """Field name -> (encode, decode); None where the value is JSON as it is (worked out once a class)."""
    found = _CONVERSIONS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = {field.name: _conversion(hints[field.name]) for field in dataclasses.fields(cls)}
        _CONVERSIONS[cls] = found
    return found


def _conversion(hint: Any) -> tuple[Convert | None, Convert | None]:
    args = typing.get_args(hint)
    if hint is datetime or datetime in args:
        return datetime.isoformat, datetime.fromisoformat
    if hint is bytes:
        return (lambda raw: base64.b64encode(raw).decode("ascii")), base64.b64decode
    if typing.get_origin(hint) is list and args and dataclasses.is_dataclass(args[0]):
        item = typing.cast(type, args[0])  # a dataclass (checked above)
        return (lambda items: [to_record(i) for i in items]), (lambda items: [from_record(item, i) for i in items])
    return None, None
