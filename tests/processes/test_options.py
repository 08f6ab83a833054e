"""`klavi-mock serve` takes its options from flags, KLAVI_MOCK_* variables and a config file,
in that order, as a real process: it listens where they say, and refuses a bad value in one
line naming the option and its source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, running

SERVE = [sys.executable, "-m", "klavi_mock", "serve"]


def _clean_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KLAVI_MOCK_")}


def test_host_port_and_log_level_from_the_environment():
    port = free_port()
    env = {"KLAVI_MOCK_HOST": "127.0.0.1", "KLAVI_MOCK_PORT": str(port), "KLAVI_MOCK_LOG_LEVEL": "warning"}
    with running(SERVE, port, env=env) as (base, process):
        assert httpx.get(f"{base}/__mock/clock").status_code == 200
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert f"Klavi API    http://127.0.0.1:{port}/data/v1" in output
    assert "Application startup complete" not in output  # an info line, below the level asked for


@pytest.mark.parametrize("name_the_file", ["--config", "KLAVI_MOCK_CONFIG"])
def test_the_config_file_loses_to_a_variable_however_it_is_named(tmp_path: Path, name_the_file: str):
    in_file, in_variable = free_port(), free_port()
    config = tmp_path / "mock.json"
    config.write_text(json.dumps({"host": "127.0.0.1", "port": in_file}))
    env = {"KLAVI_MOCK_PORT": str(in_variable)}
    command = SERVE + (["--config", str(config)] if name_the_file == "--config" else [])
    if name_the_file == "KLAVI_MOCK_CONFIG":
        env["KLAVI_MOCK_CONFIG"] = str(config)
    with running(command, in_variable, env=env) as (base, _):
        assert httpx.get(f"{base}/__mock/clock").status_code == 200


def test_a_flag_beats_the_variable_and_the_file(tmp_path: Path):
    in_file, in_variable, in_flag = free_port(), free_port(), free_port()
    config = tmp_path / "mock.yaml"
    config.write_text(f"port: {in_file}\n")
    env = {"KLAVI_MOCK_CONFIG": str(config), "KLAVI_MOCK_PORT": str(in_variable)}
    with running(SERVE + ["--port", str(in_flag)], in_flag, env=env) as (base, _):
        assert httpx.get(f"{base}/__mock/clock").status_code == 200


@pytest.mark.parametrize(
    "args, env, file, says",
    [
        (["--webhook-retention", "-1"], {}, None, "klavi-mock: --webhook-retention -1: give a number of deliveries"),
        ([], {"KLAVI_MOCK_PORT": "eighty"}, None, "klavi-mock: KLAVI_MOCK_PORT 'eighty': a port is a number"),
        ([], {}, "webhookConcurrency: 0\n", ": webhookConcurrency 0: give 1 (strict per-URL order) to 64 (default 8)"),
        ([], {}, "tenants: [unclosed\n", "is not valid YAML"),
    ],
)
def test_a_bad_value_stops_serve_in_one_line(tmp_path: Path, args, env, file, says):
    environ = {**_clean_environment(), **env}
    if file is not None:
        config = tmp_path / "mock.yaml"
        config.write_text(file)
        environ["KLAVI_MOCK_CONFIG"] = str(config)
    result = subprocess.run(
        SERVE + ["--port", str(free_port()), *args], capture_output=True, text=True, timeout=30, env=environ
    )
    assert result.returncode == 2 and says in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
