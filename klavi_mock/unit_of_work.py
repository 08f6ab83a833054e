"""A request's changes as one unit: applied when it succeeds, undone when it fails.

The app opens a unit for every HTTP request (`app.OneUnitPerRequest`). Whatever changes
state while it is open says how to undo itself (`on_rollback`) and defers what must wait
for success (`after_commit`: handing webhooks to the dispatcher). A request that answers
5xx, or raises, is rolled back: no stored change, no webhook in the outbox, no state-file
row. Outside a unit (the ticker, the dispatcher) changes apply at once.

The unit lives in a context variable, so concurrent requests on one event loop each have
their own, and tasks started before a request (the dispatcher) have none.
"""

from __future__ import annotations

import contextvars
import copy
from collections.abc import Callable
from typing import Any

Action = Callable[[], object]  # what it returns is ignored


class Unit:
    def __init__(self) -> None:
        self.status: int | None = None  # the status the request was answered with, once sent
        self._undo: list[Action] = []
        self._after: list[Action] = []
        self._saved: set[int] = set()  # ids of objects whose state before the unit is kept

    @property
    def changed_anything(self) -> bool:
        return bool(self._undo or self._after)

    def on_rollback(self, undo: Action) -> None:
        self._undo.append(undo)

    def after_commit(self, action: Action) -> None:
        self._after.append(action)

    def save(self, obj: Any) -> None:
        """Keep `obj`'s attributes as they are now (once per unit), to put back on rollback."""
        if id(obj) in self._saved:
            return
        self._saved.add(id(obj))
        before = {name: _copy(value) for name, value in vars(obj).items()}

        def restore() -> None:
            vars(obj).clear()
            vars(obj).update(before)

        self._undo.append(restore)

    def committed(self) -> None:
        after, self._after, self._undo = self._after, [], []
        for action in after:
            action()

    def rolled_back(self) -> None:
        undo, self._undo, self._after = self._undo, [], []
        for action in reversed(undo):
            action()


def _copy(value: Any) -> Any:
    # One level deep: stored objects hold lists and dicts of plain values.
    return copy.copy(value) if isinstance(value, (list, dict, set)) else value


_current: contextvars.ContextVar[Unit | None] = contextvars.ContextVar("klavi_mock_unit", default=None)


def begin() -> tuple[Unit, contextvars.Token]:
    unit = Unit()
    return unit, _current.set(unit)


def end(token: contextvars.Token) -> None:
    _current.reset(token)


def current() -> Unit | None:
    return _current.get()


def detach() -> None:
    """In a task a request started: leave the request's unit (the task has its own copy of
    the context), so what the task changes applies at once."""
    _current.set(None)


def on_rollback(undo: Action) -> None:
    """Register how to undo a change just made (nothing to do outside a unit)."""
    unit = _current.get()
    if unit is not None:
        unit.on_rollback(undo)


def after_commit(action: Action) -> None:
    """Run `action` once the unit commits; at once outside a unit."""
    unit = _current.get()
    if unit is None:
        action()
    else:
        unit.after_commit(action)


def save(obj: Any) -> None:
    """`obj` is about to change in place: keep how it was, in case the unit rolls back."""
    unit = _current.get()
    if unit is not None:
        unit.save(obj)
