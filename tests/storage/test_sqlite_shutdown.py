"""The state file's checkpoint runs on a thread (the ticker's) while the app may be closing
the store: closing a connection another thread is using crashes the process, so close
waits for a checkpoint under way, and a checkpoint after close does nothing."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from klavi_mock.storage.sqlite import SqliteStore


class HeldConnection:
    """The checkpoint connection, held inside `execute` until the test lets it go; it
    notes whether it was closed while in use."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real
        self.inside = threading.Event()
        self.go_on = threading.Event()
        self.executing = False
        self.closed_while_executing = False
        self.closed = False

    def execute(self, sql: str) -> Any:
        self.executing = True
        self.inside.set()
        self.go_on.wait(10)
        try:
            return self.real.execute(sql)
        finally:
            self.executing = False

    def close(self) -> None:
        self.closed_while_executing = self.executing
        self.closed = True
        self.real.close()


def test_close_waits_for_a_checkpoint_under_way(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite")
    held = HeldConnection(store._checkpoints)  # type: ignore[arg-type]
    store._checkpoints = held  # type: ignore[assignment]
    checkpoint = threading.Thread(target=store.checkpoint)
    checkpoint.start()
    assert held.inside.wait(10)
    closing = threading.Thread(target=store.close)
    closing.start()
    closing.join(0.3)
    assert closing.is_alive(), "close went on while a checkpoint was using its connection"
    held.go_on.set()
    checkpoint.join(10)
    closing.join(10)
    assert not closing.is_alive() and held.closed and not held.closed_while_executing


def test_a_checkpoint_after_close_does_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SqliteStore(tmp_path / "state.sqlite")
    store.close()
    with caplog.at_level(logging.WARNING, logger="klavi_mock"):
        store.checkpoint()  # the ticker's last one, after the app closed the store
    assert caplog.records == []  # not "could not checkpoint ... closed database"
