"""A throwaway PostgreSQL server for the tests: started once per test session (initdb +
pg_ctl, as the `postgres` user, listening only on 127.0.0.1 on a free port, fsync off), a
fresh database per test. Without the binaries the tests that need it skip, unless
KLAVI_MOCK_REQUIRE_POSTGRES=1 (CI), where they fail."""

from __future__ import annotations

import atexit
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

REQUIRED = os.environ.get("KLAVI_MOCK_REQUIRE_POSTGRES") == "1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One PostgreSQL server in a temporary folder; stopped (and the folder removed) at exit."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="klavi-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")
        atexit.register(self.stop)

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(_binaries() / program), *arguments]  # type: ignore[operator]
        result = subprocess.run([*self._as_postgres, *command], capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"{program} failed: {result.stdout}{result.stderr}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def database(self, name: str) -> str:
        """The URL of database `name`, made empty if it did not exist."""
        with psycopg.connect(self.url(), autocommit=True) as db:
            if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                db.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def stop(self) -> None:
        if self.data.exists():
            subprocess.run(
                [*self._as_postgres, str(_binaries() / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],  # type: ignore[operator]
                capture_output=True,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


_server: Server | None = None


def _binaries() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, or where Debian's postgresql package puts them."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return versions[-1].parent if versions and versions[-1].parent.name == "bin" else None


def available() -> bool:
    return _binaries() is not None


def server() -> Server:
    """The session's server (started on first use); skips the test without PostgreSQL."""
    global _server
    if _server is None:
        if not available():
            if REQUIRED:
                pytest.fail("KLAVI_MOCK_REQUIRE_POSTGRES=1 but initdb/pg_ctl are not on PATH")
            pytest.skip("PostgreSQL's binaries (initdb, pg_ctl) are not installed")
        _server = Server()
    return _server


def database_for(where: Path) -> str:
    """A test's own database, named after its folder (the same folder: the same database)."""
    return server().database("t_" + hashlib.sha1(str(where).encode()).hexdigest()[:16])
