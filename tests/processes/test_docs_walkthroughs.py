"""The README's one-minute tour and the docs' tutorial, run as written against a real
`klavi-mock serve` (only the address changes: a free port for 8080)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.servers import serve_process

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq") and shutil.which("bash")),
    reason="the walk-throughs use curl and jq (apt-get install curl jq)",
)


def run_shell_blocks(markdown: Path, base: str, section: str = "") -> str:
    """Run the ```sh blocks of `markdown` (of its `section` only, when given) in one bash."""
    text = markdown.read_text(encoding="utf-8")
    if section:
        text = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    script = "set -euo pipefail\n" + "\n".join(blocks).replace("http://127.0.0.1:8080", base)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_tutorial_runs_as_written_and_ends_on_the_report():
    with serve_process() as (base, _):
        out = run_shell_blocks(ROOT / "docs" / "tutorial.md", base)
    lines = out.splitlines()
    assert "https://partner.example.com/return?link_id=" in out and "external_info=" in out
    assert '"AUTHORISED"' in lines
    assert '[{"institutionCode":"341","name":"Itaú","status":"AUTHORISED"}]' in lines
    assert lines[-1].startswith('{"productName":"pf_checking_account","code":200,"account":{"brandName":"Itaú"')


def test_the_readme_tour_runs_as_written():
    with serve_process() as (base, _):
        out = run_shell_blocks(ROOT / "README.md", base, "A one-minute tour")
    assert out.splitlines()[-1] == '"AUTHORISED"'
