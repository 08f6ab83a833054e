#!/usr/bin/env python
"""Instant Pix payments in-process, as ratios against the data API's consent in the same run.

    python bench/instant_payments.py [--count N]

Per item, over Starlette's TestClient (no network): creating an instant payment against
creating a data-API consent (POST /consents), and a payment's whole journey (create, the bank
page with decision=approve, settlement on the clock, GET) against a consent's (create, the bank
and LGPD steps with decision=approve). Nothing asserts on time; it prints the ratios.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]

from tests.conftest import Klavi  # noqa: E402
from tests.payments.instant import Payer, body  # noqa: E402
from tests.worlds import in_process  # noqa: E402


def per_item(count: int, step) -> float:
    started = time.perf_counter()
    for _ in range(count):
        step()
    return (time.perf_counter() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    count = parser.parse_args().count
    with in_process(follow_redirects=False) as http:
        klavi, payer = Klavi(http), Payer(http)
        link_token = klavi.create_link()["linkToken"]
        consent = per_item(count, lambda: klavi.create_consent(link_token))
        payment = per_item(count, lambda: payer.created(body()))

        def consent_journey() -> None:
            created = klavi.create_consent(klavi.create_link()["linkToken"])
            klavi.follow(created["consentRedirectURL"].replace("http://testserver", "") + "&decision=approve")

        def payment_journey() -> None:
            created = payer.created(body())
            payer.at_bank(created["redirectConsentURL"].replace("http://testserver", ""), "approve")

        consent_flow = per_item(count // 3, consent_journey)
        payment_flow = per_item(count // 3, payment_journey)
    print(f"create: payment {payment * 1e3:.2f} ms, consent {consent * 1e3:.2f} ms, ratio {payment / consent:.2f}")
    print(
        f"journey: payment {payment_flow * 1e3:.2f} ms, consent {consent_flow * 1e3:.2f} ms, "
        f"ratio {payment_flow / consent_flow:.2f}"
    )


if __name__ == "__main__":
    main()
