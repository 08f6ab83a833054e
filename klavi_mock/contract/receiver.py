"""`klavi-mock check-receiver` and POST /__mock/receiver-checks: send a partner's webhook
receiver every case of receiver_cases.py and judge what it did with each.

Verdicts: a valid event or report must be acknowledged (2xx) within the timeout (10 s, as
Klavi waits), else it fails. A bad or missing signature should be refused: accepting it is
a warning, since Klavi only *recommends* verifying (docs.klavi.ai, Security), or a failure
with require_signatures. A duplicate eventId must stay 2xx (a refusal makes Klavi retry
what was already processed). An empty body must get an answer: 2xx passes, another 4xx is a
warning, a 5xx or no answer fails. A stale timestamp should be refused; accepting it is a
warning, a 5xx or no answer fails.

Exit codes (like `klavi-mock check`): 0 no case failed, 1 a case failed, 2 the check could
not run (bad arguments, or the receiver gave no HTTP answer to the first case).
"""

from __future__ import annotations

import asyncio
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from klavi_mock.contract.receiver_cases import ACK, ANSWER, STAY_2XX, Case, Post, build_cases

DEFAULT_TIMEOUT = 10.0
CONCURRENCY = 4  # cases in flight at once (a duplicate's two posts stay in order)


@dataclass
class CaseResult:
    case: Case
    verdict: str  # pass | warn | fail
    status: int | None
    latency_ms: float | None
    error: str | None
    detail: str

    def view(self) -> dict[str, Any]:
        return {
            "name": self.case.name,
            "group": self.case.group,
            "expectation": self.case.expectation,
            "verdict": self.verdict,
            "statusCode": self.status,
            "latencyMs": self.latency_ms,
            "error": self.error,
            "detail": self.detail,
        }


@dataclass
class ReceiverCheck:
    url: str
    reachable: bool
    results: list[CaseResult] = field(default_factory=list)

    def count(self, verdict: str) -> int:
        return sum(1 for result in self.results if result.verdict == verdict)

    @property
    def passed(self) -> bool:
        return self.reachable and self.count("fail") == 0

    @property
    def exit_code(self) -> int:
        return 2 if not self.reachable else (1 if self.count("fail") else 0)

    def view(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "reachable": self.reachable,
            "passed": self.passed,
            "counts": {verdict: self.count(verdict) for verdict in ("pass", "warn", "fail")},
            "cases": [result.view() for result in self.results],
        }


@dataclass(frozen=True)
class _Answer:
    status: int | None
    latency_ms: float
    error: str | None


async def _post(client: httpx.AsyncClient, url: str, post: Post) -> _Answer:
    started = time.perf_counter()
    try:
        response = await client.post(url, content=post.body, headers=post.headers)
        status, error = response.status_code, None
    except httpx.TimeoutException:
        status, error = None, "no answer within the timeout"
    except httpx.RequestError as exc:  # refused, reset, too many redirects...
        status, error = None, f"{type(exc).__name__}: {exc or 'no answer'}"
    except (httpx.InvalidURL, ValueError) as exc:  # e.g. a host name IDNA refuses
        status, error = None, f"not a URL httpx can send to ({exc})"
    return _Answer(status, round((time.perf_counter() - started) * 1000, 1), error)


def _is_2xx(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _judge(case: Case, answers: list[_Answer], require_signatures: bool) -> tuple[str, str]:
    """(verdict, why) for what the receiver answered to the case's posts."""
    last = answers[-1]
    status = last.status
    if status is None:  # no HTTP answer: whatever the case, the receiver did not cope
        return "fail", f"no HTTP answer ({last.error})"
    crashed = status >= 500
    if case.expectation == ACK:
        return (
            ("pass", f"acknowledged with {status}")
            if _is_2xx(status)
            else ("fail", f"answered {status}: Klavi retries anything but a 2xx")
        )
    if case.expectation == STAY_2XX:
        first = answers[0].status
        if not _is_2xx(first):
            return "fail", f"the first delivery was answered {first}"
        return (
            ("pass", f"both acknowledged ({first}, {status})")
            if _is_2xx(status)
            else (
                "fail",
                f"the duplicate was answered {status}: a receiver deduplicates on eventId and still answers 2xx",
            )
        )
    if case.expectation == ANSWER:
        if _is_2xx(status):
            return "pass", f"answered {status}"
        return (
            ("fail", f"answered {status}: an empty body crashed it")
            if crashed
            else ("warn", f"answered {status}, not 2xx")
        )
    if case.group == "signature":
        if _is_2xx(status):
            return (
                "fail" if require_signatures else "warn"
            ), f"accepted it ({status}): the receiver does not check X-Klavi-Signature"
        return (
            ("warn", f"refused it, but with a server error ({status})")
            if crashed
            else ("pass", f"refused with {status}")
        )
    # the stale timestamp: refused, or at least not a crash
    if crashed:
        return "fail", f"crashed ({status})"
    return (
        ("warn", f"accepted a delivery an hour old ({status}): replays are not refused")
        if _is_2xx(status)
        else ("pass", f"refused with {status}")
    )


async def _run_case(client: httpx.AsyncClient, url: str, case: Case, require_signatures: bool) -> CaseResult:
    answers = [await _post(client, url, post) for post in case.posts]
    verdict, detail = _judge(case, answers, require_signatures)
    last = answers[-1]
    return CaseResult(case, verdict, last.status, last.latency_ms, last.error, detail)


async def check_receiver(
    url: str,
    secret: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    require_signatures: bool = False,
    app_id: str = "sandbox-app",
) -> ReceiverCheck:
    cases = build_cases(secret, app_id)
    gate = asyncio.Semaphore(CONCURRENCY)

    # Redirects are followed as the mock's dispatcher follows them (3 at most).
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=True, max_redirects=3, trust_env=False) as client:
        first = await _run_case(client, url, cases[0], require_signatures)
        if first.status is None:  # nobody there: the other cases would only say so again
            return ReceiverCheck(url, reachable=False, results=[first])

        async def limited(case: Case) -> CaseResult:
            async with gate:
                return await _run_case(client, url, case, require_signatures)

        rest = await asyncio.gather(*(limited(case) for case in cases[1:]))
    return ReceiverCheck(url, reachable=True, results=[first, *rest])


# ------------------------------------------------------------------------------ the output

MARKS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}


def render_table(check: ReceiverCheck) -> str:
    width = max((len(result.case.name) for result in check.results), default=10)
    lines = [f"klavi-mock check-receiver: {len(check.results)} cases against {check.url}"]
    for result in check.results:
        status = str(result.status) if result.status is not None else "---"
        latency = f"{result.latency_ms:7.1f} ms" if result.latency_ms is not None else ""
        lines.append(
            f"  {MARKS[result.verdict]}  {result.case.group:<9}  {result.case.name:<{width}}  {status:>3}  {latency}  {result.detail}"
        )
    if not check.reachable:
        lines.append(
            f"klavi-mock check-receiver: could not run: {check.url} gave no HTTP answer "
            f"({check.results[0].error}) (exit code 2)"
        )
    else:
        warnings = check.count("warn")
        lines.append(
            f"klavi-mock check-receiver: {check.count('pass')} passed, {warnings} warning{'' if warnings == 1 else 's'}, "
            f"{check.count('fail')} failed (exit code {check.exit_code})"
        )
    return "\n".join(lines)


def junit_xml(check: ReceiverCheck) -> ET.ElementTree:
    """One test case per webhook case; a warning passes, with the reason in system-out."""
    seconds = sum((result.latency_ms or 0) for result in check.results) / 1000
    suite = ET.Element(
        "testsuite",
        name="klavi-mock check-receiver",
        tests=str(len(check.results)),
        failures=str(check.count("fail")),
        errors="0",
        skipped="0",
        time=f"{seconds:.3f}",
    )
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="url", value=check.url)
    for result in check.results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"check-receiver.{result.case.group}",
            name=result.case.name,
            time=f"{(result.latency_ms or 0) / 1000:.3f}",
        )
        if result.verdict == "fail":
            failure = ET.SubElement(case, "failure", message=result.detail, type="ReceiverCheckFailure")
            failure.text = f"expected: {result.case.expectation}\ngot: {result.detail}"
        elif result.verdict == "warn":
            ET.SubElement(case, "system-out").text = f"WARNING: {result.detail} (expected: {result.case.expectation})"
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.ElementTree(root)


def run_check_receiver(
    url: str,
    secret: str,
    junit_path: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    require_signatures: bool = False,
    app_id: str = "sandbox-app",
) -> int:
    """The command: prints the table, writes the JUnit XML; returns the exit code."""
    parsed = httpx.URL(url) if "://" in url else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        print(
            f"klavi-mock check-receiver: --url {url!r} should be an http(s) URL such as http://127.0.0.1:9000/klavi/events",
            file=sys.stderr,
        )
        return 2
    if not 0 < timeout <= 60:
        print(
            f"klavi-mock check-receiver: --timeout should be between 0 and 60 seconds, not {timeout:g}", file=sys.stderr
        )
        return 2
    check = asyncio.run(
        check_receiver(url, secret, timeout=timeout, require_signatures=require_signatures, app_id=app_id)
    )
    print(render_table(check), flush=True)
    if junit_path is not None:
        path = Path(junit_path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            junit_xml(check).write(path, encoding="utf-8", xml_declaration=True)
        except OSError as exc:
            print(f"klavi-mock check-receiver: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return check.exit_code
