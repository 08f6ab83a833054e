"""`klavi-mock check-receiver` and POST /__mock/receiver-checks against real receivers on
loopback ports: one that does everything right, one that does everything wrong."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jsonschema import Draft202012Validator

from klavi_mock.cli import main
from klavi_mock.contract.receiver_cases import build_cases, spec_events_and_products, spec_payment_events
from klavi_mock.domain.formats import checker
from klavi_mock.spec.operations import load_spec
from tests.contract import event_problems
from tests.servers import free_port

SECRET = "sandbox-secret-key"
# "  FAIL  empty      empty body      500      6.4 ms  answered 500: ..."
TABLE_LINE = re.compile(r"^  (PASS|WARN|FAIL)  (\S+)\s+(.+?)\s{2,}(?:\d{3}|---)\s.*?  (\S.*)$")


def _receiver(well_behaved: bool):
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(self._status(body))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _status(self, body: bytes) -> int:
            if not well_behaved:
                if not body:
                    return 500  # crashes on an empty body
                events = json.loads(body)
                if isinstance(events, list):
                    if events[0]["eventId"] in seen:
                        return 409  # refuses the duplicate
                    seen.add(events[0]["eventId"])
                elif events.get("productName") == "pf_funds":
                    time.sleep(1.5)  # slower than the check's timeout
                return 200  # never checks a signature or a timestamp
            expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, self.headers.get("X-Klavi-Signature", "")):
                return 401
            if abs(time.time() - int(self.headers.get("X-Klavi-Timestamp", "0"))) > 300:
                return 400
            if not body:
                return 200  # a test POST
            return 200  # a duplicate is acknowledged too (processed once, on eventId)

        def log_message(self, *args) -> None:
            pass

    return Handler


@contextlib.contextmanager
def receiver(well_behaved: bool) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _receiver(well_behaved))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/klavi/events"
    finally:
        server.shutdown()
        server.server_close()


def test_the_cases_cover_every_event_and_report_of_the_spec():
    events, products = spec_events_and_products()
    names = [case.name for case in build_cases(SECRET)]
    assert events and products
    assert all(f"event {name}" in names for name in events)
    assert all(f"report {name}" in names for name in products)
    payment_events = spec_payment_events()
    assert set(payment_events) == {
        "payment_status_changed",
        "automatic_consent_status_changed",
        "automatic_payment_status_changed",
    }
    assert all(f"event {name}" in names for name in payment_events)
    assert {"bad signature", "missing signature", "duplicate eventId", "empty body", "stale timestamp"} <= set(names)


def test_every_valid_case_body_matches_its_webhook_schema():
    webhooks = load_spec("klavi.yaml").resolved["webhooks"]
    for case in build_cases(SECRET):
        if case.group not in ("event", "report"):
            continue
        if case.group == "event":  # each event against its own contract (payment events: klavi-payments.yaml)
            problems = event_problems(json.loads(case.posts[0].body))
            assert not problems, f"{case.name}: {problems[:3]}"
            continue
        schema = webhooks[case.name.removeprefix("report ")]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]
        errors = list(Draft202012Validator(schema, format_checker=checker).iter_errors(json.loads(case.posts[0].body)))
        assert not errors, f"{case.name}: {errors[0].message}"


def test_a_well_behaved_receiver_passes(tmp_path, capsys):
    report = tmp_path / "receiver.xml"
    with receiver(well_behaved=True) as url:
        code = main(["check-receiver", "--url", url, "--secret", SECRET, "--junit-xml", str(report)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out and "WARN" not in out and "0 failed (exit code 0)" in out
    assert "PASS  signature  bad signature" in out
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite.get("failures") == "0" and int(suite.get("tests")) == len(build_cases(SECRET))


def test_a_badly_behaved_receiver_fails_and_says_why(tmp_path, capsys):
    report = tmp_path / "receiver.xml"
    with receiver(well_behaved=False) as url:
        code = main(["check-receiver", "--url", url, "--secret", SECRET, "--junit-xml", str(report), "--timeout", "1"])
    out = capsys.readouterr().out
    assert code == 1
    lines = {match[3]: match for match in map(TABLE_LINE.match, out.splitlines()) if match}
    assert lines["empty body"][1] == "FAIL" and "crashed" in lines["empty body"][4]
    assert lines["duplicate eventId"][1] == "FAIL" and "409" in lines["duplicate eventId"][4]
    assert lines["report pf_funds"][1] == "FAIL" and "no HTTP answer" in lines["report pf_funds"][4]
    assert lines["bad signature"][1] == "WARN"  # Klavi recommends checking: a warning
    assert lines["missing signature"][1] == "WARN"
    assert lines["stale timestamp"][1] == "WARN"
    suite = ET.parse(report).getroot().find("testsuite")
    failed = {
        case.get("name"): case.find("failure").get("message")
        for case in suite.iter("testcase")
        if case.find("failure") is not None
    }
    assert set(failed) == {"empty body", "duplicate eventId", "report pf_funds"}
    warned = [case.get("name") for case in suite.iter("testcase") if case.find("system-out") is not None]
    assert set(warned) == {"bad signature", "missing signature", "stale timestamp"}


def test_require_signatures_turns_the_warnings_into_failures(capsys):
    with receiver(well_behaved=False) as url:
        code = main(["check-receiver", "--url", url, "--secret", SECRET, "--timeout", "1", "--require-signatures"])
    out = capsys.readouterr().out
    assert code == 1
    lines = {match[3]: match for match in map(TABLE_LINE.match, out.splitlines()) if match}
    assert lines["bad signature"][1] == "FAIL" and lines["missing signature"][1] == "FAIL"


def test_no_receiver_at_the_url_exits_2(capsys):
    code = main(["check-receiver", "--url", f"http://127.0.0.1:{free_port()}/events", "--secret", SECRET])
    out = capsys.readouterr().out
    assert code == 2 and "could not run" in out


@pytest.mark.parametrize(
    "args", [["--url", "not a url"], ["--url", "ftp://x/y"], ["--url", "http://127.0.0.1:1/", "--timeout", "0"]]
)
def test_bad_arguments_exit_2(capsys, args):
    assert main(["check-receiver", *args, "--secret", SECRET]) == 2
    assert "klavi-mock check-receiver:" in capsys.readouterr().err


def test_the_control_api_runs_the_same_check_with_a_tenants_secret(client):
    with receiver(well_behaved=True) as url:
        response = client.post("/__mock/receiver-checks", json={"url": url, "appId": "sandbox-app"})
        wrong_tenant = client.post("/__mock/receiver-checks", json={"url": url, "appId": "other-app"}).json()
    assert wrong_tenant["counts"]["fail"] > 0  # signed with other-app's secretKey: the receiver refuses
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["passed"] is True and result["reachable"] is True and result["counts"]["fail"] == 0
    assert len(result["cases"]) == len(build_cases(SECRET))


def test_the_control_api_reports_failures_and_an_unreachable_receiver(client):
    with receiver(well_behaved=False) as url:
        result = client.post("/__mock/receiver-checks", json={"url": url, "secret": SECRET, "timeoutSeconds": 1}).json()
    assert result["passed"] is False and result["counts"]["fail"] == 3
    nobody = client.post(
        "/__mock/receiver-checks", json={"url": f"http://127.0.0.1:{free_port()}/", "secret": SECRET}
    ).json()
    assert nobody["reachable"] is False and nobody["passed"] is False
    unknown = client.post("/__mock/receiver-checks", json={"url": "http://127.0.0.1:1/", "appId": "nobody"})
    assert unknown.status_code == 404


def test_events_carry_the_partner_app_id_and_a_valid_signature():
    from klavi_mock.webhooks.signing import verify_signature

    for case in build_cases(SECRET, "acme"):
        if case.group == "event":
            post = case.posts[0]
            assert json.loads(post.body)[0]["partnerAppId"] == "acme"
            assert verify_signature(post.body, post.headers["X-Klavi-Signature"], SECRET)


def test_a_receiver_that_redirects_forever_is_reported_not_raised(client):
    class Loop(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.send_response(307)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Loop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        response = client.post(
            "/__mock/receiver-checks",
            json={"url": f"http://127.0.0.1:{server.server_address[1]}/hook", "secret": SECRET},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 200
    [case] = response.json()["cases"]
    assert response.json()["reachable"] is False and "TooManyRedirects" in case["error"]
