"""The CI recipes do what they say, run here for real: the GitHub composite action's `run:`
scripts (action.yml, read with PyYAML) in bash the way a runner runs them, installing this
checkout into a fresh venv, starting the mock and writing the base-url output; the plain
shell recipe (docs/recipes/ci.sh) around a command; the GitLab job's script
(docs/recipes/gitlab-ci.yml) against a mock set up as its service is."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.servers import free_port, serve_process
from tests.worlds import SANDBOX_KEYS

ROOT = Path(__file__).resolve().parents[2]
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")
BIN = str(Path(sys.executable).parent)


def _outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


class Runner:
    """Runs a composite action's steps as GitHub's runner does: `bash -eo pipefail`, the step's
    env with its ${{ }} expressions evaluated, a GITHUB_OUTPUT file per step."""

    def __init__(self, action: dict, temp: Path) -> None:
        self.action = action
        self.temp = temp
        self.steps: dict[str, dict[str, str]] = {}

    def value(self, text: str, inputs: dict[str, str]) -> str:
        def evaluate(match: re.Match) -> str:
            expression = match.group(1)
            if expression == "github.action_path":
                return str(ROOT)
            kind, _, rest = expression.partition(".")
            if kind == "inputs":
                return inputs.get(rest, str(self.action["inputs"][rest].get("default", "")))
            if kind == "steps":
                step, _, output = rest.partition(".outputs.")
                return self.steps.get(step, {}).get(output, "")
            raise AssertionError(f"an expression the test runner does not know: {expression}")

        return EXPRESSION.sub(evaluate, text)

    def run(self, step_id: str, inputs: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
        [step] = [s for s in self.action["runs"]["steps"] if s.get("id") == step_id]
        assert step["shell"] == "bash"
        output = self.temp / f"{step_id}.output"
        output.write_text("")
        env = {
            **os.environ,
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_OUTPUT": str(output),
            **{name: self.value(str(value), inputs) for name, value in step.get("env", {}).items()},
        }
        script = self.temp / f"{step_id}.sh"
        script.write_text(self.value(step["run"], inputs))
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
        self.steps[step_id] = _outputs(output)
        return done

    def output(self, name: str, inputs: dict[str, str]) -> str:
        return self.value(self.action["outputs"][name]["value"], inputs)


@pytest.fixture(scope="module")
def installed_action(tmp_path_factory) -> Runner:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    runner = Runner(action, tmp_path_factory.mktemp("runner"))
    done = runner.run("install", {"python": sys.executable})
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^klavi-mock \d", done.stdout, re.M), done.stdout
    return runner


def _stop(pid: str) -> None:
    os.kill(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(int(pid), signal.SIGKILL)


@pytest.mark.parametrize("port", ["free", "0"])
def test_the_action_starts_the_mock_waits_until_healthy_and_outputs_the_base_url(installed_action, port):
    inputs = {"port": str(free_port()) if port == "free" else "0", "timeout": "30"}
    done = installed_action.run("start", inputs, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    base = installed_action.output("base-url", inputs)
    pid = installed_action.output("pid", inputs)
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base), base
        if port == "free":
            assert base.endswith(f":{inputs['port']}")
        assert httpx.get(f"{base}/__mock/health").json()["status"] == "ok"
        assert httpx.post(f"{base}/data/v1/auth", json=SANDBOX_KEYS).status_code == 200
        assert Path(installed_action.output("log-file", inputs)).read_text().startswith("klavi-mock:")
    finally:
        _stop(pid)


def test_the_action_fails_with_the_log_when_the_mock_cannot_start(installed_action):
    inputs = {"port": "0", "args": "--log-level loud", "timeout": "10"}
    done = installed_action.run("start", inputs, timeout=60)
    assert done.returncode == 1
    assert "::error::klavi-mock exited before it was healthy" in done.stdout
    assert "--log-level" in done.stdout  # the mock's own one-line reason, from its log


def test_the_action_stops_the_mock_it_started_when_it_gives_up_waiting(installed_action):
    port = str(free_port())
    # The mock listens on another port than the one the action watches: it never looks healthy
    # (a timeout of 0 raced a fast start).
    inputs = {"port": port, "timeout": "1", "args": f"--port {free_port()}"}
    done = installed_action.run("start", inputs, timeout=60)
    assert done.returncode == 1
    assert "::error::klavi-mock was not healthy in 1s" in done.stdout
    left = None
    for _ in range(50):  # SIGTERM was sent; give the mock a moment to exit
        left = subprocess.run(["pgrep", "-f", f"klavi-mock serve --host 127.0.0.1 --port {port}"], capture_output=True)
        if left.returncode == 1:  # no such process
            break
        time.sleep(0.2)
    assert left is not None and left.returncode == 1, f"still running: {left.stdout!r}"


def _ci_sh(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "docs/recipes/ci.sh"), *command],
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ci_sh_runs_the_command_against_a_healthy_mock_then_stops_it():
    probe = (
        "import os, httpx; base = os.environ['KLAVI_MOCK_URL']; "
        "assert os.environ['KLAVI_BASE_URL'] == base + '/data/v1'; "
        "assert httpx.get(base + '/__mock/health').json()['status'] == 'ok'; print(base)"
    )
    done = _ci_sh(sys.executable, "-c", probe)
    assert done.returncode == 0, done.stderr[-3000:]
    base = done.stdout.strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)
    assert "klavi-mock health: ok" in done.stderr
    with pytest.raises(httpx.TransportError):  # stopped once the command ended
        httpx.get(f"{base}/__mock/health", timeout=2)


def test_ci_sh_exits_with_the_commands_status_and_shows_the_mocks_log():
    done = _ci_sh(sys.executable, "-c", "raise SystemExit(7)", env={"KLAVI_MOCK_PORT": str(free_port())})
    assert done.returncode == 7
    assert "the command exited 7" in done.stderr and "klavi-mock:" in done.stderr


def test_ci_sh_says_why_when_the_mock_cannot_start():
    done = _ci_sh("true", env={"KLAVI_MOCK_LOG_FORMAT": "xml"})
    assert done.returncode == 1
    assert "exited before it was healthy" in done.stderr and "KLAVI_MOCK_LOG_FORMAT" in done.stderr


def test_the_gitlab_job_script_waits_for_the_service_and_calls_the_api():
    recipe = yaml.safe_load((ROOT / "docs/recipes/gitlab-ci.yml").read_text())
    job = recipe["test-against-klavi-mock"]
    [service] = job["services"]
    assert service["alias"] == "klavi-mock" and service["name"] == "$KLAVI_MOCK_IMAGE"
    assert "docker build" in " ".join(recipe["build-klavi-mock"]["script"]) and (ROOT / "Dockerfile").exists()
    variables = {name: str(value) for name, value in job["variables"].items()}
    # The service as GitLab runs it: the image's settings plus the job's variables, here on loopback.
    service_env = {name: value for name, value in variables.items() if name.startswith("KLAVI_MOCK_")}
    service_env.pop("KLAVI_MOCK_URL")
    service_env.pop("KLAVI_MOCK_PUBLIC_URL")
    with serve_process(env=service_env) as (base, _):
        env = {**os.environ, **variables, "KLAVI_MOCK_URL": base, "KLAVI_BASE_URL": f"{base}/data/v1"}
        for number, line in enumerate(job["script"]):
            done = subprocess.run(["sh", "-ec", line], env=env, capture_output=True, text=True, timeout=90)
            assert done.returncode == 0, (number, done.stderr[-2000:])
            if number == 0:
                assert '"status":"ok"' in done.stdout
        assert "auth: True" in done.stdout
        # The admin token from the job's variables guards the control API.
        assert httpx.get(f"{base}/__mock/clock").status_code == 401


def test_ci_sh_installs_klavi_mock_from_the_clone_when_none_is_on_the_path():
    path = ":".join(p for p in os.environ["PATH"].split(":") if p != BIN and not (Path(p) / "klavi-mock").exists())
    done = subprocess.run(
        [
            "bash",
            str(ROOT / "docs/recipes/ci.sh"),
            "sh",
            "-c",
            'command -v klavi-mock >/dev/null || echo "$KLAVI_MOCK_URL"',
        ],
        env={**os.environ, "PATH": path, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ci.sh: installing klavi-mock from" in done.stderr and "klavi-mock health: ok" in done.stderr
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", done.stdout.strip())
