"""The JavaScript/TypeScript helper (js/klavi-mock-helper) passes its own node:test suite
against a real mock served on a loopback port (KLAVI_MOCK_URL); skipped without Node."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from klavi_mock.app import create_app
from klavi_mock.config import Settings
from klavi_mock.testing import serve_in_thread

HELPER = Path(__file__).resolve().parents[2] / "js" / "klavi-mock-helper"
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_javascript_helpers_own_tests_pass_against_a_running_mock():
    with serve_in_thread(create_app(Settings())) as url:
        result = subprocess.run(
            [NODE, "--test", "test/"],
            cwd=HELPER,
            env={**os.environ, "KLAVI_MOCK_URL": url},
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout and "# pass 9" in result.stdout


def test_the_helper_is_a_zero_dependency_esm_package_with_types():
    import json

    package = json.loads((HELPER / "package.json").read_text())
    assert package["type"] == "module" and package["types"] == "./index.d.ts"
    assert not package.get("dependencies") and not package.get("devDependencies")
    source = (HELPER / "index.js").read_text()
    imports = [line for line in source.splitlines() if line.lstrip().startswith(("import ", "require("))]
    assert imports == [], imports  # only the dynamic node:http import for the receiver
    exported = {
        name
        for name in (
            "klaviMock",
            "KlaviMock",
            "startReceiver",
            "waitFor",
            "violationsOf",
            "renderReport",
            "KlaviContractViolation",
            "KlaviMockError",
        )
        if f"export function {name}" in source
        or f"export class {name}" in source
        or f"export async function {name}" in source
    }
    types = (HELPER / "index.d.ts").read_text()
    assert all(name in types for name in exported) and len(exported) == 8


TSC = os.environ.get("KLAVI_MOCK_TSC") or shutil.which("tsc")


@pytest.mark.skipif(TSC is None, reason="no TypeScript compiler (tsc on PATH, or KLAVI_MOCK_TSC)")
def test_the_types_check_in_strict_typescript():
    result = subprocess.run(
        [TSC, "--strict", "--noEmit", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022"]
        + ["test/types.check.ts", "index.d.ts"],
        cwd=HELPER,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
