"""`klavi-mock serve` as a real process: the banner, the API over a socket, config errors."""

import subprocess
import sys

import httpx
import pytest

from tests.servers import serve_process


def test_serve_prints_the_base_url_and_keys_and_answers_the_api():
    with serve_process() as (base, process):
        token = httpx.post(
            f"{base}/data/v1/auth", json={"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}
        ).json()["accessToken"]
        link = httpx.post(f"{base}/data/v1/links", json={}, headers={"Authorization": f"Bearer {token}"}).json()
        assert link["linkURL"].startswith(f"{base}/link?v=")
        institutions = httpx.get(
            f"{base}/data/v1/links/institutions", headers={"Authorization": f"Bearer {link['linkToken']}"}
        )
        assert institutions.status_code == 200 and len(institutions.json()) >= 20
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert f"Klavi API    {base}/data/v1" in output
    assert f"payments     {base}/payment/customer/v1" in output
    assert "accessKey=sandbox-access-key secretKey=sandbox-secret-key" in output


def test_serve_uses_tenants_from_a_config_file(tmp_path):
    config = tmp_path / "tenants.yaml"
    config.write_text("tenants:\n  - {appId: acme, accessKey: acme-key, secretKey: acme-secret}\n")
    with serve_process("--config", str(config)) as (base, _):
        assert (
            httpx.post(f"{base}/data/v1/auth", json={"accessKey": "acme-key", "secretKey": "acme-secret"}).status_code
            == 200
        )
        assert (
            httpx.post(
                f"{base}/data/v1/auth", json={"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}
            ).status_code
            == 401
        )


def test_a_bad_config_stops_serve_with_a_clear_message(tmp_path):
    config = tmp_path / "tenants.yaml"
    config.write_text("tenants: []\n")
    result = subprocess.run(
        [sys.executable, "-m", "klavi_mock", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "klavi-mock:" in result.stderr and "should be non-empty" in result.stderr


def test_conformance_prints_the_report_of_a_running_mock():
    with serve_process() as (base, _):
        token = httpx.post(
            f"{base}/data/v1/auth", json={"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}
        ).json()["accessToken"]
        httpx.post(f"{base}/data/v1/links", json={"personalTaxId": "123"}, headers={"Authorization": f"Bearer {token}"})
        command = [sys.executable, "-m", "klavi_mock", "conformance", "--base-url", base]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert "tenant sandbox-app: 2 requests, 1 violations of the spec" in result.stdout
        assert "✗ body.personalTaxId" in result.stdout
        strict = subprocess.run(command + ["--fail-on-violations"], capture_output=True, text=True, timeout=30)
        assert strict.returncode == 1


def test_conformance_says_when_no_mock_answers():
    result = subprocess.run(
        [sys.executable, "-m", "klavi_mock", "conformance", "--base-url", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "cannot reach" in result.stderr


def _serve_refused(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-m", "klavi_mock", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    "args, says",
    [
        (["--port", "99999"], "--port 99999: a port is a number from 0 (any free port) to 65535"),
        (["--port", "-1"], "--port -1: a port is a number from 0 (any free port) to 65535"),
        (["--max-body-bytes", "-5"], "--max-body-bytes -5: give a number of bytes of at least 1"),
        (["--public-url", "not-a-url"], "--public-url 'not-a-url' is not an http(s) URL"),
        (["--admin-token", ""], "--admin-token is empty"),
    ],
)
def test_serve_refuses_what_cannot_work_in_one_line(args, says):
    result = _serve_refused(*args)
    assert result.returncode == 2
    assert result.stderr == f"klavi-mock: {result.stderr.removeprefix('klavi-mock: ')}" and says in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


def test_a_config_webhook_url_that_is_not_a_url_is_refused(tmp_path):
    config = tmp_path / "tenants.yaml"
    config.write_text("tenants:\n  - {appId: acme, accessKey: a, secretKey: s, eventsUrl: not-a-url}\n")
    result = _serve_refused("--config", str(config))
    assert result.returncode == 2 and "tenant acme: eventsUrl 'not-a-url' is not an http(s) URL" in result.stderr
    config.write_text(
        "tenants:\n  - {appId: acme, accessKey: a, secretKey: s, productsCallbackURL: {all: 'ftp://x'}}\n"
    )
    result = _serve_refused("--config", str(config))
    assert result.returncode == 2 and "productsCallbackURL.all 'ftp://x' is not an http(s) URL" in result.stderr


def test_an_empty_admin_token_in_the_environment_is_refused():
    result = _serve_refused(env={"KLAVI_MOCK_ADMIN_TOKEN": ""})
    assert result.returncode == 2 and "KLAVI_MOCK_ADMIN_TOKEN is set but empty" in result.stderr


def test_version_and_a_bare_command():
    from klavi_mock import __version__

    version = subprocess.run(
        [sys.executable, "-m", "klavi_mock", "--version"], capture_output=True, text=True, timeout=30
    )
    assert version.returncode == 0 and version.stdout.strip() == f"klavi-mock {__version__}"
    assert __version__[0].isdigit()
    bare = subprocess.run([sys.executable, "-m", "klavi_mock"], capture_output=True, text=True, timeout=30)
    assert (
        bare.returncode == 0
        and "usage: klavi-mock" in bare.stdout
        and "serve" in bare.stdout
        and "check" in bare.stdout
    )
