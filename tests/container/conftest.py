"""The container image, built once per test session from this tree's Dockerfile with podman.

No registry is reached: the base is a Debian bookworm made with debootstrap (python3 and
python3-venv, from Debian's mirror) and imported into podman, and pip installs from a
wheelhouse built on the host (`pip wheel . -w wheelhouse`). Both live in the session's temp
dir and are removed with the images at the end.

Rootful podman runs here with runc and a containers.conf without default ulimits and with
cgroupfs (docs/reference: crun cannot set rlimits on these machines). The tests skip, saying
why, only when podman cannot run at all; a failing build fails them.

Environment:
- KLAVI_TEST_CONTAINER_BASE: an image to build FROM instead of the debootstrap one (e.g.
  python:3.12-slim where a registry is reachable);
- KLAVI_TEST_DEBIAN_MIRROR: the mirror debootstrap uses (default http://deb.debian.org/debian).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = """\
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
"""


class Podman:
    def __init__(self, conf: Path) -> None:
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    def run(self, *args: str, check: bool = True, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["podman", "--runtime", "runc", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args[:3])} exited {result.returncode}: {result.stderr[-3000:]}")
        return result

    def out(self, *args: str) -> str:
        return self.run(*args).stdout.strip()


def _why_podman_cannot_run(podman: Podman) -> str | None:
    if shutil.which("podman") is None:
        return "podman is not installed (apt-get install podman runc debootstrap; .ci/run does)"
    if shutil.which("runc") is None:
        return "runc is not installed (apt-get install runc)"
    try:
        info = podman.run("info", check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"podman cannot run: {exc}"
    if info.returncode != 0:
        return f"podman cannot run: {info.stderr.strip()[-500:]}"
    return None


@pytest.fixture(scope="session")
def podman(tmp_path_factory) -> Podman:
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    podman = Podman(conf)
    why = _why_podman_cannot_run(podman)
    if why:
        pytest.skip(why)
    return podman


def _debootstrap_base(podman: Podman, work: Path, tag: str) -> str:
    """A Debian bookworm with python3 and python3-venv, imported as `tag` (about a minute)."""
    if shutil.which("debootstrap") is None:
        raise AssertionError("debootstrap is not installed: apt-get install debootstrap (.ci/run does)")
    root = work / "root"
    mirror = os.environ.get("KLAVI_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
    done = subprocess.run(
        ["debootstrap", "--variant=minbase", "--include=python3,python3-venv", "bookworm", str(root), mirror],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise AssertionError(f"debootstrap exited {done.returncode}: {done.stderr[-2000:]}{done.stdout[-2000:]}")
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    podman.run("import", "-", tag, stdin=tar.stdout)
    tar.wait()
    shutil.rmtree(root, ignore_errors=True)
    return tag


@pytest.fixture(scope="session")
def image(podman: Podman, tmp_path_factory) -> Iterator[str]:
    """The image's tag, built from the Dockerfile (with --format docker: OCI drops HEALTHCHECK)."""
    work = tmp_path_factory.mktemp("image")
    run_id = uuid.uuid4().hex[:10]
    made: list[str] = []
    try:
        base = os.environ.get("KLAVI_TEST_CONTAINER_BASE")
        if not base:
            base = _debootstrap_base(podman, work, f"localhost/klavi-mock-test-base:{run_id}")
            made.append(base)
        # The build context: only a wheelhouse of this tree and its dependencies (the
        # Dockerfile installs from it when present), built by the interpreter running the tests.
        context = work / "context"
        wheels = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", str(ROOT), "-w", str(context / "wheelhouse")],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert wheels.returncode == 0, wheels.stderr[-3000:]
        tag = f"localhost/klavi-mock-test:{run_id}"
        podman.run(
            "build",
            "--format",
            "docker",
            # No intermediate images left behind (the build stage's): the run leaves nothing.
            "--layers=false",
            "--network",
            "host",
            "--build-arg",
            f"BASE={base}",
            "-f",
            str(ROOT / "Dockerfile"),
            "-t",
            tag,
            str(context),
            timeout=1200,
        )
        made.append(tag)
        yield tag
    finally:
        for tag in reversed(made):
            podman.run("rmi", "-f", tag, check=False)
