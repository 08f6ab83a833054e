"""What a container runtime, a CI job and a log pipeline see of a real `klavi-mock serve`:
GET /__mock/health and `klavi-mock health`, the banner once the port is bound (a port in
use: one line, exit 2; --port 0: the port chosen), one version everywhere, and the log in
text or JSON with every token masked."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from klavi_mock import __version__
from tests.conftest import VALID_CPF, bearer
from tests.servers import free_port, running, serve_process
from tests.worlds import SANDBOX_KEYS

CLI = [sys.executable, "-m", "klavi_mock"]


def _cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def test_health_answers_without_the_admin_token_from_any_host_and_holds_no_secret(tmp_path):
    state = str(tmp_path / "state.sqlite")
    with serve_process("--admin-token", "the-admin-token", "--state-file", state) as (base, _):
        for headers in ({}, {"Host": "mock.internal"}, {"Origin": "http://evil.example"}):
            response = httpx.get(f"{base}/__mock/health", headers=headers)
            assert response.status_code == 200, (headers, response.text)
            body = response.json()
            assert set(body) == {"status", "version", "uptimeSeconds", "storage"}
            assert body["status"] == "ok" and body["version"] == __version__
            assert body["storage"] == "sqlite" and body["uptimeSeconds"] >= 0
            for secret in ("the-admin-token", "sandbox-secret-key", "sandbox-access-key", "sandbox-app"):
                assert secret not in response.text
        # Every other control path still wants the token, and the Host guard still holds without one.
        assert httpx.get(f"{base}/__mock/clock").status_code == 401
        assert httpx.get(f"{base}/__mock/healthz").status_code == 404
    with serve_process() as (base, _):
        assert httpx.get(f"{base}/__mock/health").json()["storage"] == "memory"
        assert httpx.get(f"{base}/__mock/clock", headers={"Host": "mock.internal"}).status_code == 403


def test_klavi_mock_health_exits_0_when_healthy_and_1_otherwise_in_one_line():
    with serve_process("--admin-token", "t") as (base, _):
        result = _cli("health", "--url", base)
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.strip().splitlines()) == 1 and f"version {__version__}" in result.stdout
    nobody = _cli("health", "--url", f"http://127.0.0.1:{free_port()}", "--timeout", "2")
    assert nobody.returncode == 1
    assert len(nobody.stdout.strip().splitlines()) == 1 and "unreachable" in nobody.stdout
    assert "Traceback" not in nobody.stdout + nobody.stderr


def test_klavi_mock_health_reads_the_port_from_the_environment():
    """The image's HEALTHCHECK is a bare `klavi-mock health`: it follows KLAVI_MOCK_PORT."""
    with serve_process() as (base, _):
        port = base.rsplit(":", 1)[1]
        env = {"KLAVI_MOCK_PORT": port, "PATH": "/usr/bin:/bin"}
        result = subprocess.run([*CLI, "health"], capture_output=True, text=True, timeout=30, env=env)
        assert result.returncode == 0 and f":{port}/__mock/health" in result.stdout, result.stdout


def test_a_non_health_answer_is_unhealthy():
    """A server that is not the mock (here: the mock's own 404 for another path) is not healthy."""
    with serve_process() as (base, _):
        result = _cli("health", "--url", f"{base}/data/v1")
        assert result.returncode == 1 and "answered 404" in result.stdout


def test_version_flag_and_health_agree():
    assert _cli("--version").stdout.strip() == f"klavi-mock {__version__}"
    with serve_process() as (base, _):
        assert httpx.get(f"{base}/__mock/health").json()["version"] == __version__


def test_a_port_in_use_is_one_line_and_exit_2_with_no_banner(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        state = tmp_path / "state.sqlite"
        result = _cli("serve", "--host", "127.0.0.1", "--port", str(port), "--state-file", str(state))
    assert not state.exists()  # the port is tried before the state file is opened
    assert result.returncode == 2
    assert result.stdout == ""  # no "serving" banner for a server that never served
    assert result.stderr.count("\n") == 1 and f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_0_binds_a_free_port_and_the_banner_names_it():
    process = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline() + process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/data/v1", first)
        assert match, first
        port = int(match.group(1))
        assert port != 0
        # The banner comes once the port is bound: it answers right away.
        assert httpx.get(f"http://127.0.0.1:{port}/__mock/health", timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def _link_flow(base: str) -> dict:
    """A link, and its linkURL followed (the link token travels in its query)."""
    api = f"{base}/data/v1"
    access = httpx.post(f"{api}/auth", json=SANDBOX_KEYS).json()["accessToken"]
    link = httpx.post(f"{api}/links", json={"personalTaxId": VALID_CPF}, headers=bearer(access)).json()
    httpx.get(link["linkURL"])
    httpx.get(f"{api}/links/institutions", headers=bearer(link["linkToken"]))
    return {"access": access, "link": link["linkToken"]}


def _stop(process) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=10)
    return output


def test_json_logs_are_one_object_a_line_with_access_lines_and_tokens_masked():
    port = free_port()
    command = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-format", "json"]
    with running(command, port) as (base, process):
        tokens = _link_flow(base)
        time.sleep(0.2)
        output = _stop(process)
    lines = output.splitlines()
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    # Every line but the banner (stdout, shared with stderr here) is a JSON object.
    assert len(logged) == len([line for line in lines if not line.startswith(("klavi-mock:", "  "))])
    assert all({"time", "level", "logger", "message"} <= set(line) for line in logged)
    access = [line for line in logged if line["logger"] == "klavi_mock.access"]
    institutions = [line for line in access if line["path"] == "/data/v1/links/institutions"]
    assert institutions and institutions[0]["method"] == "GET" and institutions[0]["status"] == 200
    assert isinstance(institutions[0]["latencyMs"], float)
    assert re.fullmatch(r"r\d+", institutions[0]["journalId"])  # GET /__mock/requests/{id}
    assert all("journalId" not in line for line in access if line["path"].startswith("/__mock"))
    followed = [line for line in access if "?" in line["path"] and "v=" in line["path"]]
    assert followed and all("v=***" in line["path"] for line in followed), followed
    for token in tokens.values():
        assert token not in output
    assert any(line["message"].startswith("Finished server process") for line in logged)


def test_text_logs_mask_tokens_too():
    port = free_port()
    command = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with running(command, port) as (base, process):
        tokens = _link_flow(base)
        time.sleep(0.2)
        output = _stop(process)
    assert "v=***" in output and '"GET /data/v1/links/institutions" 200' in output
    for token in tokens.values():
        assert token not in output


def test_no_access_log_writes_no_access_lines():
    port = free_port()
    command = [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-format", "json"]
    with running(command, port) as (base, process):
        httpx.get(f"{base}/__mock/health")
        output = _stop(process)
    assert "klavi_mock.access" not in output and "Finished server process" in output


@pytest.mark.parametrize("value", ["yaml", ""])
def test_a_bad_log_format_is_one_line(value):
    result = _cli("serve", "--log-format", value)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "--log-format" in result.stderr and "text, json" in result.stderr
