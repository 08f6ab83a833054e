"""Screenshots of the QA cockpit's main pages for the README (docs/screenshots/*.png).

    python tools/screenshots.py [page ...]     (default: every page; e.g. `payments`)

Serves the mock on a free loopback port, fills it through its APIs (tests/cockpit_scenario.py)
and photographs each page with Playwright driving Debian's Chromium (/usr/bin/chromium;
nothing is downloaded). Run it again when a page changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from klavi_mock.app import create_app
from klavi_mock.config import Settings
from klavi_mock.testing.helpers import Receiver, serve_in_thread, wait_for
from tests.cockpit_scenario import create_consent, populate, populate_payments  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
PAGES = {
    "dashboard": "/__mock/ui",
    "payments": "/__mock/ui/payments",
    "webhooks": "/__mock/ui/webhooks",
    "requests": "/__mock/ui/requests",
    "conformance": "/__mock/ui/conformance",
    "api-reference": "/__mock/docs?spec=mock-admin.yaml",
}


def main(only: list[str]) -> int:
    unknown = set(only) - set(PAGES)
    if unknown:
        print(f"no page {', '.join(sorted(unknown))}; the pages are {', '.join(PAGES)}", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    receiver = Receiver()
    try:
        with serve_in_thread(create_app(Settings())) as base, httpx.Client(base_url=base, timeout=10) as api:
            ids = populate(api, receiver.url("/events"))
            paid = populate_payments(api)
            create_consent(api, tax_id="00000000515")  # persona expires-soon, still pending
            wait_for(
                lambda: any(d["status"] == "delivered" for d in api.get("/__mock/webhooks").json()["items"]),
                what="a delivery",
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
                )
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                for name, path in PAGES.items():
                    if only and name not in only:
                        continue
                    page.goto(base + path)
                    if name == "dashboard":
                        page.locator(f"#timeline-{ids['authorised']} summary").click()
                        page.locator("[data-preset='1 h']").click()
                        page.locator("#fell-due").wait_for()
                        waiting = create_consent(api)["consentId"]  # appears without a reload
                        page.locator(f"#consent-{waiting}").wait_for()
                    elif name == "payments":
                        page.locator(f"#payment-timeline-{paid['completed']} summary").click()
                    elif name == "requests":
                        page.locator("tbody.entry details summary").first.click()
                    elif name == "api-reference":
                        page.locator(".opblock").first.wait_for()
                    page.wait_for_timeout(300)  # let the last refresh paint
                    page.screenshot(path=str(OUT / f"{name}.png"), full_page=name != "api-reference")
                    print(f"wrote {OUT / f'{name}.png'}")
                browser.close()
    finally:
        receiver.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
