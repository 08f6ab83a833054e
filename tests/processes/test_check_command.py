"""`klavi-mock check`: the contract suite over HTTP, run as a user would (a subprocess)
against the mock served as a real process, and against a deliberately broken server."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from klavi_mock.resources import openapi_dir
from tests.servers import free_port, running, serve_process

MAX_EXAMPLES = "5"


def spec_operations(name: str = "klavi.yaml") -> dict[str, str]:
    spec = yaml.safe_load((openapi_dir() / name).read_text(encoding="utf-8"))
    return {
        op["operationId"]: f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict)
    }


def check(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "klavi_mock", "check", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def mock_base() -> Iterator[str]:
    with serve_process("--no-access-log") as (base, _):
        yield base


# A server that breaks the contract on purpose: POST /auth (and the payments API's POST
# /customer/v1/auth) answers {"accessToken": 1}.
BROKEN_SERVER = textwrap.dedent("""
    import sys

    import uvicorn
    from starlette.responses import JSONResponse

    from klavi_mock.web.apis.data_v1 import handlers as api
    from klavi_mock.web.apis.payments import handlers as payments
    from klavi_mock.app import create_app


    async def off_spec_access_token(call):
        return JSONResponse({"accessToken": 1})


    api.HANDLERS["createAccessToken"] = off_spec_access_token
    payments.HANDLERS["createPaymentAccessToken"] = off_spec_access_token
    uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
""")


@contextlib.contextmanager
def broken_server(tmp_path: Path) -> Iterator[str]:
    script = tmp_path / "broken_server.py"
    script.write_text(BROKEN_SERVER)
    port = free_port()
    with running([sys.executable, str(script), str(port)], port, cwd=str(Path(__file__).resolve().parents[2])) as (
        base,
        _,
    ):
        yield base


def test_check_passes_against_the_mock_with_progress_and_a_junit_report(mock_base, tmp_path):
    report = tmp_path / "reports" / "contract.xml"
    result = check(
        "--base-url", f"{mock_base}/data/v1", "--max-examples", MAX_EXAMPLES, "--junit-xml", str(report), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    operations = spec_operations()
    # Progress: one line per operation and phase as it finishes, named by operationId.
    for operation_id, label in operations.items():
        assert f"  ok   fuzzing   {operation_id} ({label}): success" in result.stdout
    assert "klavi-mock check: Stateful phase ..." in result.stdout
    assert "klavi-mock check: passed (exit code 0)" in result.stdout
    # schemathesis.toml's tables for the other contract's operations are left out, unwarned.
    assert "Unmatched filters" not in result.stdout
    # The JUnit report parses and has a test case per operation, none failed.
    root = ET.parse(report).getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert set(operations.values()) <= set(cases)
    assert not [
        name for name, case in cases.items() if case.find("failure") is not None or case.find("error") is not None
    ]


def test_check_of_the_payments_contract_passes_against_the_mock(mock_base, tmp_path):
    report = tmp_path / "payments.xml"
    # The server root: /payment is appended.
    result = check(
        "--base-url",
        mock_base,
        "--contract",
        "payments",
        "--max-examples",
        MAX_EXAMPLES,
        "--junit-xml",
        str(report),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert f"openapi/klavi-payments.yaml against {mock_base}/payment (" in result.stdout
    assert "Unmatched filters" not in result.stdout and "listConsents" not in result.stdout
    operations = spec_operations("klavi-payments.yaml")
    assert "createPaymentAccessToken" in operations
    for operation_id, label in operations.items():
        assert f"  ok   fuzzing   {operation_id} ({label}): success" in result.stdout
    assert "klavi-mock check: passed (exit code 0)" in result.stdout
    cases = {case.get("name"): case for case in ET.parse(report).getroot().iter("testcase")}
    assert set(operations.values()) <= set(cases)
    assert not [
        name for name, case in cases.items() if case.find("failure") is not None or case.find("error") is not None
    ]


def test_check_of_the_payments_contract_fails_naming_the_operation_the_server_breaks(tmp_path):
    with broken_server(tmp_path) as base:
        result = check(
            "--base-url",
            f"{base}/payment",
            "--contract",
            "payments",
            "--max-examples",
            "3",
            "--include",
            "createPaymentAccessToken",
            "getInstantPayment",
            cwd=tmp_path,
        )
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr
    assert "  FAIL fuzzing   createPaymentAccessToken (POST /customer/v1/auth): failure" in result.stdout
    summary = result.stdout[result.stdout.index("klavi-mock check: failed checks and errors in 1 operation(s):") :]
    assert "createPaymentAccessToken (POST /customer/v1/auth)" in summary and "getInstantPayment" not in summary
    assert "klavi-mock check: FAILED (exit code 1)" in result.stdout


def test_check_fails_and_names_the_operation_when_the_server_breaks_the_contract(tmp_path):
    report = tmp_path / "contract.xml"
    with broken_server(tmp_path) as base:
        # The server root works too: /data/v1 is appended.
        result = check(
            "--base-url",
            base,
            "--max-examples",
            MAX_EXAMPLES,
            "--junit-xml",
            str(report),
            "--include",
            "createAccessToken",
            "listInstitutions",
            cwd=tmp_path,
        )
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr
    assert "  FAIL fuzzing   createAccessToken (POST /auth): failure" in result.stdout
    summary = result.stdout[result.stdout.index("klavi-mock check: failed checks and errors in 1 operation(s):") :]
    assert "  createAccessToken (POST /auth)\n    - response_schema_conformance: Response violates schema" in summary
    assert "listInstitutions" not in summary
    assert "klavi-mock check: FAILED (exit code 1)" in result.stdout
    # The token could not be had: said once, and the run went on without one.
    assert (
        result.stderr.count('cannot get tokens: POST /auth answered 200 without an accessToken: {"accessToken":1}') == 1
    )
    cases = {case.get("name"): case for case in ET.parse(report).getroot().iter("testcase")}
    assert cases["POST /auth"].find("failure") is not None
    assert cases["GET /links/institutions"].find("failure") is None


def test_an_unreachable_url_exits_2_with_one_line(tmp_path):
    result = check("--base-url", f"http://127.0.0.1:{free_port()}/data/v1", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("klavi-mock check: cannot reach http://127.0.0.1:")
    assert len(result.stderr.strip().splitlines()) == 1


def test_wrong_keys_for_the_payments_contract_exit_2_naming_its_auth(mock_base, tmp_path):
    result = check(
        "--base-url", mock_base, "--contract", "payments", "--access-key", "wrong", "--secret-key", "no", cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"klavi-mock check: {mock_base}/payment/customer/v1/auth refused the keys (HTTP 401: Invalid accessKey or "
        "secretKey): pass the partner's --access-key and --secret-key"
    )


def test_wrong_keys_exit_2_saying_the_keys_were_refused(mock_base, tmp_path):
    result = check("--base-url", mock_base, "--access-key", "wrong", "--secret-key", "wrong", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"klavi-mock check: {mock_base}/data/v1/auth refused the keys (HTTP 401: Invalid accessKey or secretKey): "
        "pass the partner's --access-key and --secret-key"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--include", "noSuchOperation"], "unknown operation id noSuchOperation; the spec has: createAccessToken,"),
        (["--max-examples", "0"], "--max-examples should be 1 or more, not 0"),
        (["--base-url", "ftp://example.com"], "--base-url 'ftp://example.com' should be an http(s) URL"),
        (
            ["--contract", "payments", "--base-url", "http://127.0.0.1:9/data/v1"],
            "--base-url 'http://127.0.0.1:9/data/v1' is the data API's (/data/v1) but --contract is payments: "
            "give --contract data, or the server root",
        ),
        (
            ["--base-url", "http://127.0.0.1:9/payment/"],
            "--base-url 'http://127.0.0.1:9/payment/' is the payments API's (/payment) but --contract is data",
        ),
        (
            ["--contract", "payments", "--base-url", "http://127.0.0.1:9", "--include", "createAccessToken"],
            "unknown operation id createAccessToken; the spec has: ",
        ),
    ],
)
def test_bad_flags_exit_2_before_any_request(tmp_path, args, message):
    base = ["--base-url", "http://127.0.0.1:9/data/v1"] if "--base-url" not in args else []
    result = check(*base, *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"klavi-mock check: {message}")


def test_serve_does_not_import_schemathesis():
    code = (
        "import sys, klavi_mock.cli, klavi_mock.app; klavi_mock.app.create_app(); "
        "assert 'schemathesis' not in sys.modules and 'hypothesis' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
