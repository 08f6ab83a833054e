"""Where reports are built, off the event loop: what `ReportService` awaits.

Building a report is the largest part of a flow's CPU (a pf_checking_account: about 2 ms,
against about 0.5 ms for a request). On a worker thread it takes the GIL from the event
loop half the time while it runs, so under load every request queues behind it.

- `ThreadBuilder`: one worker thread. In-process apps use it (the tests' ASGI apps,
  `serve_in_thread`): starting a process for each would cost more than it saves.
- `ProcessBuilder`: `klavi-mock serve`'s when it may use two cores or more
  (`has_a_core_to_spare`). One child process (`python -m klavi_mock.sandbox.report_builder`),
  started with the app, builds while the event loop serves, on another core, at a lower
  scheduling priority (nice NICENESS) so that the loop comes first when they share a core.
  Jobs go down its stdin and results come up its stdout, each a length-prefixed pickle (a
  pipe between two processes of the same program). A child that cannot start or that dies
  sends its builds, and later ones, to the thread, with a warning: a report is never lost.
  The child ends when its stdin closes (the mock stopped, or was killed).

Measured (bench/rounds.py, 200 flow clients): with two cores shared by the mock and the
load, the process gives 1.4x the flows/s of the thread at 0.8x the CPU per flow; pinned to
one core, it gives 0.8x (two processes taking turns on one core cost more than the GIL's
turns), hence the thread there.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import pickle
import signal
import struct
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Protocol

from klavi_mock.domain.report_requests import ReportRequest
from klavi_mock.sandbox import report_building
from klavi_mock.sandbox.report_building import Built, Scripted

log = logging.getLogger("klavi_mock")

NICENESS = 5  # the builder's: under contention it gets about a quarter of a core, the loop the rest
_HEAD = struct.Struct("<I")  # a frame's length

# One thread builds every report: with more, they would outnumber the event loop for the GIL.
_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="klavi-mock-reports")

Result = tuple[list[Built], list[str]]  # the reports, and why any failed to build (for the log)


def has_a_core_to_spare() -> bool:
    """May this process run on two cores or more (its affinity, where the system says)?"""
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return len(cores) >= 2


class ReportBuilder(Protocol):
    async def start(self) -> None: ...

    async def build(self, request: ReportRequest, scripted: Scripted, secret_key: str) -> Result: ...

    async def close(self) -> None: ...


class ThreadBuilder:
    async def start(self) -> None:
        pass

    async def build(self, request: ReportRequest, scripted: Scripted, secret_key: str) -> Result:
        build = functools.partial(report_building.build_each, request, scripted, secret_key)
        return await asyncio.get_running_loop().run_in_executor(_THREAD, build)

    async def close(self) -> None:
        pass


class _ChildGone(Exception):
    pass


class ProcessBuilder:
    def __init__(self) -> None:
        self._child: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None
        self._jobs: dict[int, asyncio.Future[Result]] = {}
        self._numbers = itertools.count()
        self._starting = asyncio.Lock()
        self._on_thread = False  # the child could not start, or died: the thread from now on
        self._closing = False
        self._thread = ThreadBuilder()

    async def start(self) -> None:
        async with self._starting:
            if self._child is not None or self._on_thread or self._closing:
                return
            try:
                self._child = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", __name__, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
                )
            except (OSError, NotImplementedError) as exc:  # no subprocesses here (an event loop without them)
                log.warning("reports are built on a thread: the builder process did not start (%s)", exc)
                self._on_thread = True
                return
            self._reader = asyncio.create_task(self._read(self._child))

    async def build(self, request: ReportRequest, scripted: Scripted, secret_key: str) -> Result:
        await self.start()
        child = self._child
        if child is None or child.stdin is None or self._closing:
            return await self._thread.build(request, scripted, secret_key)
        number = next(self._numbers)
        answer: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._jobs[number] = answer
        job = pickle.dumps((number, request, scripted, secret_key), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            child.stdin.write(_HEAD.pack(len(job)) + job)
            await child.stdin.drain()
            return await answer
        except (_ChildGone, ConnectionError):  # it died with this build under way: built here instead
            return await self._thread.build(request, scripted, secret_key)
        finally:
            self._jobs.pop(number, None)

    async def _read(self, child: asyncio.subprocess.Process) -> None:
        assert child.stdout is not None
        try:
            while True:
                (size,) = _HEAD.unpack(await child.stdout.readexactly(_HEAD.size))
                number, result = pickle.loads(await child.stdout.readexactly(size))
                answer = self._jobs.get(number)
                if answer is not None and not answer.done():
                    answer.set_result(result)
        except (asyncio.IncompleteReadError, ConnectionError):  # it ended
            pass
        finally:
            if not self._closing:
                log.warning(
                    "the report builder process ended (code %s); reports are built on a thread", child.returncode
                )
            self._child, self._on_thread = None, True
            for answer in self._jobs.values():
                if not answer.done():
                    answer.set_exception(_ChildGone())

    async def close(self, grace: float = 5.0) -> None:
        """Close its stdin (it ends once the build under way does), wait `grace` seconds, then kill it."""
        self._closing = True
        child, reader = self._child, self._reader
        if child is None:
            return
        if child.stdin is not None:
            child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), grace)
        except asyncio.TimeoutError:
            child.kill()
            await child.wait()
        if reader is not None:
            await reader


def _serve(jobs: IO[bytes], results: IO[bytes]) -> None:
    """The child: one job at a time, in order, until the mock closes the pipe."""
    while True:
        head = jobs.read(_HEAD.size)
        if len(head) < _HEAD.size:
            return
        number, request, scripted, secret_key = pickle.loads(jobs.read(_HEAD.unpack(head)[0]))
        result = pickle.dumps((number, report_building.build_each(request, scripted, secret_key)))
        results.write(_HEAD.pack(len(result)) + result)
        results.flush()


def main() -> None:
    with contextlib.suppress(AttributeError, OSError):  # no nice() on Windows; a container may refuse
        os.nice(NICENESS)
    # Ctrl-C in a terminal reaches the whole process group: the mock stops this child by
    # closing its stdin, after the builds under way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print goes to stderr, never into a frame
    _serve(sys.stdin.buffer, results)


if __name__ == "__main__":
    main()
