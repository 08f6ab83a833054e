"""What users install is what is tested: the sdist and the wheel are built from this tree,
the wheel is installed (not editable) into a fresh virtual environment, and a real
`klavi-mock serve` from it runs the whole API-only flow for a person and a company, up to
the report webhook of every one of the 39 products; then `klavi-mock check` runs against
it. A wheel built from the sdist has the same files as one built from the tree.

Slow (two builds and a fresh environment, a couple of minutes): it needs PyPI or a local
index for the build backend and the dependencies, as `pip install .` does."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import venv
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from klavi_mock.domain.reports import PRODUCTS, products_for
from klavi_mock.testing import Receiver, wait_for
from klavi_mock.webhooks.signing import verify_signature
from tests.conftest import VALID_CNPJ, VALID_CPF, bearer
from tests.payments import autopix, instant
from tests.servers import free_port, running
from tests.worlds import SANDBOX_KEYS

ROOT = Path(__file__).resolve().parents[2]
CPF, CNPJ = VALID_CPF, VALID_CNPJ


def _run(*command: str | Path, cwd: Path | None = None, timeout: float = 600) -> str:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=cwd, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def _files(wheel: Path) -> dict[str, str]:
    """Every file of a wheel but its RECORD, with a hash of its content."""
    with zipfile.ZipFile(wheel) as archive:
        return {
            name: hashlib.sha256(archive.read(name)).hexdigest()
            for name in archive.namelist()
            if not name.endswith(".dist-info/RECORD")
        }


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """sdist + a wheel built from the sdist (`python -m build`), and a wheel built from the tree."""
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out / "from-sdist", ROOT)
    _run(sys.executable, "-m", "build", "--wheel", "--outdir", out / "from-tree", ROOT)
    [sdist] = (out / "from-sdist").glob("*.tar.gz")
    [wheel] = (out / "from-sdist").glob("*.whl")
    [tree_wheel] = (out / "from-tree").glob("*.whl")
    return {"sdist": sdist, "wheel": wheel, "tree_wheel": tree_wheel}


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel (and its `check` extra) installed; its bin/."""
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True)
    bin_dir = home / ("Scripts" if os.name == "nt" else "bin")
    _run(bin_dir / "python", "-m", "pip", "install", "-q", f"{built['wheel']}[check]", timeout=900)
    return bin_dir


def test_a_wheel_built_from_the_sdist_has_the_same_files(built):
    from_sdist, from_tree = _files(built["wheel"]), _files(built["tree_wheel"])
    assert from_sdist == from_tree
    names = set(from_sdist)
    for data in (
        "klavi_mock/_data/openapi/klavi.yaml",
        "klavi_mock/_data/openapi/mock-admin.yaml",
        "klavi_mock/_data/fixtures/institutions.yaml",
        "klavi_mock/_data/fixtures/personas.yaml",
        "klavi_mock/_data/fixtures/reports/seed.yaml",
        "klavi_mock/_data/schemathesis.toml",
        "klavi_mock/py.typed",
        "klavi_mock/web/pages/static/bank.css",
        "klavi_mock/web/pages/templates/base.html",
        "klavi_mock/web/pages/static/tracking.js",
        "klavi_mock/web/pages/templates/result.html",
        "klavi_mock/web/pages/hosted/pages.py",
        "klavi_mock/web/pages/cockpit/static/cockpit.js",
        "klavi_mock/web/pages/cockpit/static/cockpit.css",
        "klavi_mock/web/pages/cockpit/templates/dashboard.html",
        "klavi_mock/web/pages/cockpit/templates/_layout.html",
    ):
        assert data in names, f"the wheel lacks {data}"
    with tarfile.open(built["sdist"]) as sdist:
        assert any(name.endswith("/LICENSE") for name in sdist.getnames()), "the sdist lacks the LICENSE"
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), "the wheel lacks the LICENSE"


def test_the_installed_package_runs_from_site_packages_not_the_tree(installed, tmp_path):
    where = _run(installed / "python", "-c", "import klavi_mock; print(klavi_mock.__file__)", cwd=tmp_path)
    assert "site-packages" in where and str(ROOT) not in where, where
    assert _run(installed / "klavi-mock", "--version", cwd=tmp_path).startswith("klavi-mock ")


def _flow(base: str, receiver: Receiver, person: str) -> None:
    """auth -> link -> institutions -> consent -> the bank -> every report of that person."""
    api = f"{base}/data/v1"
    tax_field, tax_id = ("personalTaxId", CPF) if person == "pf" else ("businessTaxId", CNPJ)
    access = httpx.post(f"{api}/auth", json=SANDBOX_KEYS).json()["accessToken"]
    link = httpx.post(f"{api}/links", json={tax_field: tax_id}, headers=bearer(access)).json()
    institutions = httpx.get(f"{api}/links/institutions", headers=bearer(link["linkToken"]))
    assert institutions.status_code == 200 and institutions.json()
    consent = httpx.post(
        f"{api}/consents",
        headers=bearer(link["linkToken"]),
        json={
            "externalTrackId": f"installed-{person}",
            tax_field: tax_id,
            "institutionCode": "341",
            "redirectURL": "https://partner.example.com/return",
        },
    )
    assert consent.status_code == 200, consent.text
    back = httpx.get(consent.json()["consentRedirectURL"] + "&decision=approve")
    assert back.status_code == 302 and "consent_id=" in back.headers["location"], back.text[:300]
    endpoint = "personal" if person == "pf" else "business"
    for level, extra in (("institution", {"institutionCode": "341"}), ("user", {})):
        response = httpx.post(
            f"{api}/{endpoint}/{level}-data",
            headers=bearer(access),
            json={"taxId": tax_id, "products": ["all"], **extra},
        )
        assert response.status_code == 200, f"{endpoint}/{level}-data: {response.status_code} {response.text}"


def test_the_installed_serve_runs_the_whole_flow_and_sends_every_report(installed, tmp_path):
    receiver = Receiver()
    port = free_port()
    try:
        with running(
            [str(installed / "klavi-mock"), "serve", "--port", str(port), "--no-access-log"],
            port,
            cwd=str(tmp_path),
            env={"PYTHONPATH": ""},
        ) as (base, process):
            hooks = {
                "eventsUrl": receiver.url("/events"),
                "productsCallbackURL": receiver.url("/reports"),
                "paymentsUrl": receiver.url("/payments"),
            }
            assert httpx.put(f"{base}/__mock/tenants/sandbox-app/webhooks", json=hooks).status_code == 200
            for person in ("pf", "pj"):
                _flow(base, receiver, person)
            expected = {
                name
                for person in ("pf", "pj")
                for level in ("institution", "user")
                for name in products_for(person, level)
            }
            assert len(expected) == len(PRODUCTS) == 39
            reports = wait_for(
                lambda: (lambda got: got if got >= expected else None)(
                    {r.json()["productName"] for r in receiver.at("/reports")}
                ),
                timeout=60,
                what="all 39 reports",
            )
            assert reports == expected
            events = {e["eventName"] for e in receiver.events("/events")}
            assert {
                "link_created",
                "consent_authorised",
                "product_request_received",
                "product_generated_success",
            } <= events
            for delivery in receiver.received:
                assert verify_signature(delivery.body, delivery.headers["X-Klavi-Signature"], SANDBOX_KEYS["secretKey"])
            # The hosted journey from the wheel: Basic WhiteLabel -> the link page, and its script.
            hosted = httpx.get(
                f"{base}/data/v1/basic-links/sandbox-app?personal_tax_id=52998224725", follow_redirects=True
            )
            assert hosted.status_code == 200 and "Escolha sua instituição" in hosted.text
            assert httpx.get(f"{base}/assets/tracking.js").status_code == 200
            _payments(base, receiver)
            # Nothing answered 5xx: the conformance report has every request the flow made.
            report = httpx.get(f"{base}/__mock/conformance").json()
            statuses = {s for t in report["tenants"] for op in t["operations"].values() for s in op["statuses"]}
            assert all(int(s) < 500 for s in statuses), statuses
            # The cockpit's pages, its script and Swagger UI's assets come from the installed packages.
            for path in (
                "/__mock/ui",
                "/__mock/ui/requests",
                "/__mock/ui/static/cockpit.js",
                "/__mock/docs",
                "/__mock/docs/assets/swagger-ui-bundle.js",
                "/__mock/docs/spec/klavi.yaml",
                "/__mock/docs/spec/klavi-payments.yaml",
                "/__mock/ui/payments",
            ):
                assert httpx.get(f"{base}{path}").status_code == 200, path

            check = subprocess.run(
                [str(installed / "klavi-mock"), "check", "--base-url", base, "--max-examples", "5"],
                capture_output=True,
                text=True,
                cwd=tmp_path,
                timeout=600,
            )
            assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-2000:]
            check = subprocess.run(
                [str(installed / "klavi-mock"), "check", "--contract", "payments", "--base-url", f"{base}/payment"]
                + ["--max-examples", "5"],
                capture_output=True,
                text=True,
                cwd=tmp_path,
                timeout=600,
            )
            assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-2000:]
            process.terminate()
            output = process.communicate(timeout=15)[0]
        assert "Traceback" not in output, output[-4000:]
    finally:
        receiver.stop()


def _payments(base: str, receiver: Receiver) -> None:
    """The payments API from the wheel: an instant Pix payment by key, approved at the bank
    without a browser and settled on the clock; an Automatic Pix consent authorised; each
    status change a signed payment event."""
    token = httpx.post(f"{base}/payment/customer/v1/auth", json=SANDBOX_KEYS).json()["accessToken"]
    created = httpx.post(f"{base}{instant.PAYMENTS}", json=instant.body("PIX_DICT"), headers=bearer(token))
    assert created.status_code == 201, created.text
    payment = created.json()
    back = httpx.get(payment["redirectConsentURL"] + "&decision=approve")
    assert back.status_code in (302, 303) and back.headers["location"].startswith(instant.RETURN)
    assert httpx.post(f"{base}/__mock/clock/advance", json={"seconds": 60}).status_code == 200
    seen = httpx.get(f"{base}{instant.PAYMENTS}/{payment['id']}", headers=bearer(token)).json()
    assert seen["status"] == "PAYMENT_COMPLETED", seen
    today = datetime.fromisoformat(httpx.get(f"{base}/__mock/clock").json()["now"][:19]) - timedelta(hours=3)
    consent = httpx.post(
        f"{base}{autopix.BASE}/consents", json=autopix.consent_body(today.date()), headers=bearer(token)
    )
    assert consent.status_code == 201, consent.text
    approved = httpx.get(consent.json()["redirectConsentURL"], params={"decision": "approve"})
    assert approved.status_code in (302, 303), approved.text
    events = wait_for(
        lambda: (
            lambda got: (
                got if {"PAYMENT_COMPLETED", "CONSENT_AUTHORIZED"} <= {e["payload"]["status"] for e in got} else None
            )
        )(receiver.events("/payments")),
        what="the payment events",
    )
    assert {e["eventType"] for e in events} == {"payment"}
