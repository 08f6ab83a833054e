"""Where `klavi-mock serve` builds reports: a child process at a lower priority when it may
use two cores, a thread when pinned to one; a child that dies loses no report."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from klavi_mock.domain.report_requests import ReportRequest
from klavi_mock.domain.reports import ReportConsent, ReportLink
from klavi_mock.sandbox.report_builder import NICENESS, ProcessBuilder, ThreadBuilder, has_a_core_to_spare
from klavi_mock.sandbox.report_building import Scripted
from klavi_mock.testing import wait_for
from tests.processes.test_restarts import run_flow
from tests.servers import free_port, running, serve_process

needs_two_cores = pytest.mark.skipif(not has_a_core_to_spare(), reason="this machine gives the tests one core")


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def builder_of(pid: int) -> int | None:
    for child in children(pid):
        if b"klavi_mock.sandbox.report_builder" in Path(f"/proc/{child}/cmdline").read_bytes():
            return child
    return None


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def request(products: list[str]) -> ReportRequest:
    return ReportRequest(
        id="req-builder",
        tenant_id="sandbox-app",
        person="pf",
        level="institution",
        tax_id="52998224725",
        products=products,
        consent_ids=["c-1"],
        created_at=datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc),
        scope=[ReportLink("l-1", "341", "Itaú", [ReportConsent("c-1", ["ACCOUNTS_ALL", "CREDIT_CARDS_ALL"])])],
        external_info={"trace": "t-1"},
    )


def test_the_builder_process_builds_what_the_thread_builds_and_ends_when_closed():
    async def both():
        job = request(["pf_checking_account", "pf_credit_card", "pf_loans"])
        in_process = ProcessBuilder()
        await in_process.start()
        child = in_process._child
        assert child is not None
        wait_for(lambda: niceness(child.pid) == NICENESS, what="the builder lowering its priority")
        built_there = await in_process.build(job, Scripted(), "secret")
        await in_process.close()
        assert child.returncode == 0  # it ended on its own once its stdin closed
        return built_there, await ThreadBuilder().build(job, Scripted(), "secret")

    (there, failed_there), (here, failed_here) = asyncio.run(both())
    assert there == here and failed_there == failed_here == []
    assert [b.product for b in there] == ["pf_checking_account", "pf_credit_card", "pf_loans"]
    assert [b.code for b in there] == [200, 200, 204]  # no consent in scope grants LOANS


@needs_two_cores
def test_serve_builds_reports_in_a_lower_priority_child_that_dies_with_it(receiver):
    with serve_process() as (base, process):
        builder = wait_for(lambda: builder_of(process.pid), what="the report builder process")
        wait_for(lambda: niceness(builder) == NICENESS, what="the builder lowering its priority")
        made = run_flow(base, receiver)
        report = wait_for(lambda: receiver.at("/reports"), what="the report")[0].json()
        assert report["requestId"] == made["requestId"] and report["code"] == 200
        process.kill()  # SIGKILL: the child sees its stdin close and ends
        process.wait(timeout=10)
        wait_for(lambda: not alive(builder), timeout=10, what="the builder ending with the mock")


@needs_two_cores
def test_a_builder_that_dies_loses_no_report(receiver):
    with serve_process() as (base, process):
        builder = wait_for(lambda: builder_of(process.pid), what="the report builder process")
        os.kill(builder, signal.SIGKILL)
        made = run_flow(base, receiver)
        report = wait_for(lambda: receiver.at("/reports"), what="the report, built on a thread")[0].json()
        assert report["requestId"] == made["requestId"] and report["code"] == 200
        process.terminate()
        output = process.communicate(timeout=15)[0]
    assert "the report builder process ended" in output and "reports are built on a thread" in output


@pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset")
def test_pinned_to_one_core_serve_builds_reports_on_a_thread(receiver):
    port = free_port()
    command = ["taskset", "-c", "0", sys.executable, "-m", "klavi_mock", "serve", "--host", "127.0.0.1"]
    with running([*command, "--port", str(port)], port) as (base, process):
        made = run_flow(base, receiver)
        report = wait_for(lambda: receiver.at("/reports"), what="the report")[0].json()
        assert report["requestId"] == made["requestId"]
        time.sleep(0.2)
        assert builder_of(process.pid) is None  # taskset execs the mock: process.pid is the mock's
