"""Run the mock as a real process on a free loopback port, as a user would."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(
    command: list[str], port: int, *, env: dict[str, str] | None = None, cwd: str | None = None, timeout: float = 15
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start `command` (a server on `port`) and yield its base URL once /__mock/clock answers;
    stop it afterwards. Its output goes to a file, not a pipe (a pipe nobody reads while the
    server runs would block it once full); `communicate()` still returns it."""
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115  (closed by the Popen wrapper)
    process = _LoggedPopen(command, log, env={**os.environ, **(env or {})}, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[1:3]} exited with {process.returncode}: {process.output()}")
            try:
                httpx.get(f"{base}/__mock/clock", timeout=0.5)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[1:3]} did not start in time") from None
                time.sleep(0.05)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


class _LoggedPopen(subprocess.Popen):
    """A server process whose stdout and stderr go to `log`; communicate() returns them."""

    def __init__(self, command: list[str], log, **kwargs) -> None:
        super().__init__(command, stdout=log, stderr=subprocess.STDOUT, text=True, **kwargs)
        self._log = log

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read()

    def communicate(self, input=None, timeout=None):  # noqa: A002 (Popen's signature)
        self.wait(timeout=timeout)
        return self.output(), None


def serve_process(*args: str, env: dict[str, str] | None = None, timeout: float = 15):
    """`python -m klavi_mock serve --port <free> *args`, yielding its base URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "klavi_mock", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    return running(command, port, env=env, timeout=timeout)
