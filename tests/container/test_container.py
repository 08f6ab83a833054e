"""The container image users run: built from the Dockerfile (conftest.py), run with podman on
the host's network, healthy by its own HEALTHCHECK (`klavi-mock health`, no curl in it), the
whole flow against it with the webhooks reaching a receiver on the host, and a graceful exit
on SIGTERM. Slow (a minute or two, the base and the build once per session)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from klavi_mock import __version__
from klavi_mock.testing import Receiver, wait_for
from klavi_mock.webhooks.signing import verify_signature
from tests.conftest import VALID_CPF, bearer
from tests.servers import free_port
from tests.worlds import SANDBOX_KEYS

TOKEN = "container-admin-token"


def test_the_image_is_small_non_root_and_has_a_healthcheck(podman, image):
    inspected = json.loads(podman.out("image", "inspect", image))[0]
    config = inspected["Config"]
    assert config["User"] == "10001:10001"
    # Kept because the build used --format docker (podman's OCI format drops HEALTHCHECK).
    assert inspected["Healthcheck"]["Test"] == ["CMD", "klavi-mock", "health"]
    assert config["Entrypoint"] == ["klavi-mock"] and config["Cmd"] == ["serve"]
    assert "KLAVI_MOCK_HOST=0.0.0.0" in config["Env"]
    # Neither the sources, the wheelhouse nor pip in the final stage: only the venv over the base.
    files = podman.run(
        "run",
        "--rm",
        "--network",
        "host",
        "--entrypoint",
        "sh",
        image,
        "-c",
        "ls /src /opt/klavi-mock/bin/pip 2>&1; id -u",
    )
    assert files.stdout.count("No such file") == 2 and files.stdout.strip().endswith("10001"), files.stdout


def test_on_0_0_0_0_without_an_admin_token_the_image_refuses_to_start_in_one_line(podman, image):
    result = podman.run("run", "--rm", "--network", "none", image, check=False, timeout=120)
    assert result.returncode == 2
    # podman's own complaints (no systemd to run health checks on a timer) start with time=.
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("time=")]
    assert len(lines) == 1 and "admin" in lines[0].lower(), result.stderr


@pytest.fixture
def container(podman, image):
    """The image serving on a free loopback port of the host's network, its webhooks to a
    receiver on the host; yields (base URL, container id, receiver)."""
    receiver = Receiver()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    tenants = [
        {
            "appId": "sandbox-app",
            **SANDBOX_KEYS,
            "eventsUrl": receiver.url("/events"),
        }
    ]
    cid = podman.out(
        "run",
        "-d",
        "--network",
        "host",
        # Only a loopback address on the host's network (the image's default is 0.0.0.0).
        "-e",
        "KLAVI_MOCK_HOST=127.0.0.1",
        "-e",
        f"KLAVI_MOCK_PORT={port}",
        "-e",
        f"KLAVI_MOCK_ADMIN_TOKEN={TOKEN}",
        "-e",
        f"KLAVI_MOCK_PUBLIC_URL={base}",
        "-e",
        "KLAVI_MOCK_LOG_FORMAT=json",
        "-e",
        f"KLAVI_MOCK_TENANTS={json.dumps(tenants)}",
        image,
    )
    try:
        yield base, cid, receiver
    finally:
        podman.run("rm", "-f", "-t", "0", cid, check=False)
        receiver.stop()


def _wait_healthy(podman, cid: str, timeout: float = 60) -> None:
    """Runs the image's HEALTHCHECK (podman runs it on a timer only under systemd) until it passes."""
    deadline = time.monotonic() + timeout
    while True:
        if podman.run("healthcheck", "run", cid, check=False).returncode == 0:
            return
        state = podman.out("inspect", "--format", "{{.State.Status}}", cid)
        if state != "running" or time.monotonic() > deadline:
            logs = podman.run("logs", cid, check=False)
            raise AssertionError(f"the container is {state}, not healthy: {logs.stdout[-2000:]}{logs.stderr[-2000:]}")
        time.sleep(0.5)


def test_the_image_runs_the_whole_flow_sends_webhooks_to_the_host_and_stops_gracefully(podman, container):
    base, cid, receiver = container
    _wait_healthy(podman, cid)
    assert podman.out("inspect", "--format", "{{.State.Health.Status}}", cid) == "healthy"

    # Health: no token needed; the same version as the package's (and `klavi-mock --version`).
    health = httpx.get(f"{base}/__mock/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["version"] == __version__
    assert podman.out("exec", cid, "klavi-mock", "--version") == f"klavi-mock {__version__}"
    # The rest of the control API wants the admin token from KLAVI_MOCK_ADMIN_TOKEN.
    assert httpx.get(f"{base}/__mock/clock").status_code == 401
    assert httpx.get(f"{base}/__mock/clock", headers={"X-Mock-Admin-Token": TOKEN}).status_code == 200

    # auth -> link -> consent -> the bank approves -> consent_authorised at the host's receiver.
    api = f"{base}/data/v1"
    access = httpx.post(f"{api}/auth", json=SANDBOX_KEYS).json()["accessToken"]
    link = httpx.post(f"{api}/links", json={"personalTaxId": VALID_CPF}, headers=bearer(access)).json()
    assert link["linkURL"].startswith(base)  # KLAVI_MOCK_PUBLIC_URL: the links a browser follows
    consent = httpx.post(
        f"{api}/consents",
        headers=bearer(link["linkToken"]),
        json={
            "externalTrackId": "container-1",
            "personalTaxId": VALID_CPF,
            "institutionCode": "341",
            "redirectURL": "https://partner.example.com/return",
        },
    )
    assert consent.status_code == 200, consent.text
    redirect = consent.json()["consentRedirectURL"]
    assert redirect.startswith(base)
    back = httpx.get(redirect + "&decision=approve")
    assert back.status_code == 302 and "consent_id=" in back.headers["location"], back.text[:300]
    [authorised] = wait_for(
        lambda: [e for e in receiver.events() if e["eventName"] == "consent_authorised"],
        timeout=30,
        what="consent_authorised at the host's receiver",
    )
    assert authorised["payload"]["consents"]["consentId"] == consent.json()["consentId"]
    request = next(r for r in receiver.at("/events") if b"consent_authorised" in r.body)
    assert verify_signature(request.body, request.headers["x-klavi-signature"], SANDBOX_KEYS["secretKey"])

    # SIGTERM (podman stop): a graceful exit, code 0, before the kill timeout.
    started = time.monotonic()
    podman.run("stop", "-t", "20", cid)
    assert time.monotonic() - started < 15
    assert podman.out("inspect", "--format", "{{.State.ExitCode}}", cid) == "0"
    logs = podman.run("logs", cid)
    lines = [json.loads(line) for line in logs.stderr.splitlines() if line.startswith("{")]
    assert any(line["message"].startswith("Finished server process") for line in lines), logs.stderr[-2000:]
    # JSON logs, access lines included, the link token masked (it travels in the consent URL).
    access_lines = [line for line in lines if line["logger"] == "klavi_mock.access"]
    assert any(line["path"] == "/data/v1/consents" and line["status"] == 200 for line in access_lines)
    assert link["linkToken"] not in logs.stderr + logs.stdout and access not in logs.stderr + logs.stdout
