"""State files with real `klavi-mock serve` processes: a file that is refused is left byte
for byte as it was, and a full disk never costs a change that was answered 200."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys

import httpx
import pytest

from tests.conftest import VALID_CPF, bearer
from tests.servers import free_port, serve_process
from tests.worlds import SANDBOX_KEYS

CPF = VALID_CPF


def digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def serve_once(state_file) -> subprocess.CompletedProcess:
    """`klavi-mock serve` on a file it should refuse: it must exit by itself."""
    command = [sys.executable, "-m", "klavi_mock", "serve", "--port", str(free_port()), "--state-file", str(state_file)]
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


def create_consent(api: str, link_token: str, track_id: str) -> httpx.Response:
    return httpx.post(
        f"{api}/consents",
        headers=bearer(link_token),
        timeout=10,
        json={
            "externalTrackId": track_id,
            "personalTaxId": CPF,
            "institutionCode": "341",
            "redirectURL": "https://partner.example.com/return",
        },
    )


def fill(base: str, consents: int) -> None:
    api = f"{base}/data/v1"
    access = httpx.post(f"{api}/auth", json=SANDBOX_KEYS).json()["accessToken"]
    link = httpx.post(f"{api}/links", json={"externalInfo": {"filler": "x" * 500}}, headers=bearer(access)).json()
    for number in range(consents):
        assert create_consent(api, link["linkToken"], f"fill-{number}").status_code == 200


def test_a_damaged_state_file_is_refused_and_left_as_it_was(tmp_path):
    state = tmp_path / "state.sqlite"
    with serve_process("--state-file", str(state)) as (base, _):
        fill(base, 150)
    size = state.stat().st_size
    assert size > 64 * 1024, size
    data = bytearray(state.read_bytes())
    middle = size // 2 - 4096
    data[middle : middle + 8192] = random.Random(7).randbytes(8192)
    state.write_bytes(bytes(data))
    before = digest(state)

    refused = serve_once(state)

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "damaged" in refused.stderr or "cannot be used" in refused.stderr or "cannot be read" in refused.stderr, (
        refused.stderr
    )
    assert refused.stderr.count("\n") <= 3, "a refusal is a message, not a traceback"
    assert digest(state) == before
    assert sorted(os.listdir(tmp_path)) == ["state.sqlite"]  # no -wal or -shm left behind


@pytest.mark.parametrize("user_version", [0, 1, 7])
def test_another_programs_sqlite_file_is_refused_and_left_as_it_was(tmp_path, user_version):
    other = tmp_path / "their.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE consents (consent_id INTEGER PRIMARY KEY, customer TEXT, amount REAL)")
    db.execute("INSERT INTO consents VALUES (1, 'someone', 12.5)")
    db.execute(f"PRAGMA user_version = {user_version}")
    db.commit()
    db.close()
    before = digest(other)

    refused = serve_once(other)

    assert refused.returncode == 2, refused.stdout + refused.stderr
    if user_version > 1:
        assert "newer klavi-mock" in refused.stderr
    else:
        assert "another program" in refused.stderr or "did not make" in refused.stderr, refused.stderr
    assert digest(other) == before
    assert sorted(os.listdir(tmp_path)) == ["their.sqlite"]
    db = sqlite3.connect(f"file:{other}?mode=ro", uri=True)
    assert [name for (name,) in db.execute("SELECT name FROM sqlite_master")] == ["consents"]
    assert db.execute("PRAGMA user_version").fetchone()[0] == user_version
    db.close()


def test_a_text_file_is_refused_and_left_as_it_was(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a database\n" * 100)
    before = digest(notes)
    refused = serve_once(notes)
    assert refused.returncode == 2 and "not an SQLite database" in refused.stderr
    assert digest(notes) == before


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs (needs root; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_answers_503_never_200_and_loses_nothing_answered(small_disk):
    state = small_disk / "state.sqlite"
    filler = small_disk / "filler"
    answered: list[str] = []
    with serve_process("--state-file", str(state)) as (base, process):
        api = f"{base}/data/v1"
        access = httpx.post(f"{api}/auth", json=SANDBOX_KEYS).json()["accessToken"]
        link = httpx.post(f"{api}/links", json={"externalInfo": {"big": "y" * 2000}}, headers=bearer(access)).json()
        # Fill the disk but for a little room, then create consents until it is full.
        free = shutil.disk_usage(small_disk).free
        with open(filler, "wb") as handle:
            handle.write(b"\0" * max(0, free - 96 * 1024))
        statuses = []
        for number in range(400):
            response = create_consent(api, link["linkToken"], f"disk-{number}")
            statuses.append(response.status_code)
            if response.status_code == 200:
                answered.append(response.json()["consentId"])
            else:
                assert response.status_code == 503, response.text
                body = response.json()
                assert body["statusCode"] == 503 and "nothing was changed" in body["message"], body
            if statuses[-5:] == [503] * 5:
                break
        assert 503 in statuses, "the disk never filled up"
        refused = len(statuses) - len(answered)
        # Still serving while the disk is full.
        assert httpx.get(f"{api}/links/institutions", headers=bearer(link["linkToken"])).status_code == 200
        # Space comes back: the mock recovers by itself.
        filler.unlink()
        after = create_consent(api, link["linkToken"], "after-space-came-back")
        assert after.status_code == 200, after.text
        answered.append(after.json()["consentId"])
        process.kill()  # no shutdown: what was answered must already be on disk
        process.wait(timeout=10)

    with serve_process("--state-file", str(state)) as (base, _):
        kept = {c["consentId"] for c in httpx.get(f"{base}/__mock/consents").json()}
    assert refused >= 5
    assert set(answered) <= kept, f"{len(set(answered) - kept)} consents answered 200 were lost"
    assert len(kept) == len(answered), "a consent answered 503 was kept"
