"""Garbage path parameters, and the bank and hosted-link pages (not in the specs)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.requests import encode, path_params, request_for, url_of
from tests.fuzz.strategies import MARKUP, nasty_text
from tests.fuzz.world import LIMIT, PATH_OPS, fuzz, ids

# --- path parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize("spec, op", PATH_OPS, ids=ids(PATH_OPS))
def test_garbage_path_parameters_are_refused(mock, spec, op):
    world = mock.world()
    request = request_for(op, world)
    real = world.path_values(op)
    garbage = st.one_of(
        nasty_text,
        st.text(min_size=1, max_size=80),
        st.text(alphabet="0123456789abcdef-", min_size=37, max_size=300),
        st.sampled_from(["..", ".", "%2F", "null", "undefined", "0", "-1", "*", "'; DROP TABLE consents;--"]),
        st.sampled_from(sorted(set(real.values()))).map(lambda v: v + "x"),
        st.sampled_from(sorted(set(real.values()))).map(str.upper),
    ).filter(lambda v: v not in real.values())

    @fuzz(12)
    @given(st.sampled_from(path_params(op)), garbage)
    def check(name, value):
        response = mock.send(op.method, url_of(spec, op, {**real, name: value}), request["headers"], request["content"])
        assert response.status_code in (400, 404, 405), (
            f"{name}={value!r}: {response.status_code} {response.text[:200]}"
        )

    check()


# --- the bank and hosted-link pages (not in the specs) -------------------------------------------


def test_the_bank_and_link_pages_survive_garbage(mock):
    world = mock.world()
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    def query(**values: str) -> str:
        return "&".join(f"{encode(k)}={encode(v)}" for k, v in values.items())

    pages = st.one_of(
        st.tuples(
            st.just("GET"),
            st.builds(
                lambda t, d: "/bank/authorize?" + query(ticket=t, decision=d),
                nasty_text,
                st.sampled_from(["approve", "deny", ""]),
            ),
        ),
        st.tuples(
            st.just("POST"), st.builds(lambda t: "/bank/authorize|" + query(ticket=t, decision="approve"), nasty_text)
        ),
        st.tuples(
            st.just("POST"),
            st.builds(lambda f, d: f"/bank/flow/{encode(f)}/bank|" + query(decision=d), nasty_text, nasty_text),
        ),
        st.tuples(
            st.sampled_from(["GET", "POST"]),
            st.builds(lambda f: f"/bank/flow/{encode(f)}/lgpd|decision=accept", nasty_text),
        ),
        st.tuples(
            st.sampled_from(["GET", "POST"]), st.builds(lambda v, q: "/link?" + query(v=v, q=q), nasty_text, nasty_text)
        ),
        st.tuples(
            st.just("POST"),
            st.builds(lambda c: "/link?" + query(v=world.link_token) + "|" + query(institutionCode=c), nasty_text),
        ),
        st.tuples(st.just("GET"), st.builds(lambda q: "/link?" + query(v=world.link_token, q=q), nasty_text)),
        st.tuples(
            st.just("POST"),
            st.builds(lambda t: "/link?" + query(v=world.link_token) + "|" + query(taxId=t), nasty_text),
        ),
        st.tuples(
            st.just("POST"),
            st.builds(
                lambda c: "/link?" + query(v=world.link_token) + "|" + query(institutionCode=c, confirm="1"), nasty_text
            ),
        ),
        st.tuples(st.just("GET"), st.builds(lambda b: "/link?" + query(v=world.link_token, back=b), nasty_text)),
        st.tuples(
            st.just("GET"),
            st.builds(
                lambda v, c: "/link/confirm?" + query(v=v, institutionCode=c),
                st.one_of(nasty_text, st.just(world.link_token)),
                nasty_text,
            ),
        ),
        st.tuples(
            st.just("GET"),
            st.builds(
                lambda v, c: "/link/result?" + query(v=v, consent_id=c),
                st.one_of(nasty_text, st.just(world.link_token)),
                st.one_of(nasty_text, st.just(world.consent_id)),
            ),
        ),
        st.tuples(
            st.just("GET"),
            st.builds(
                lambda c, a: "/link/finish?" + query(v=world.link_token, consent_id=c, action=a),
                st.one_of(nasty_text, st.just(world.consent_id)),
                st.one_of(nasty_text, st.sampled_from(["more", "exit", ""])),
            ),
        ),
        st.tuples(
            st.just("GET"),
            st.builds(
                lambda q: "/data/v1/basic-links/sandbox-app?" + query(personal_tax_id=q, redirect_url=q), nasty_text
            ),
        ),
        st.tuples(st.just("GET"), st.builds(lambda c: f"/assets/logos/{encode(c)}.svg", nasty_text)),
        st.tuples(
            st.sampled_from(["GET", "POST"]),
            st.builds(lambda v: "/link?" + query(v=world.link_token, view="landing", **{"from": v}), nasty_text),
        ),
        # the events tracking.js posts back: JSON with nasty fields, or no JSON at all
        st.tuples(
            st.just("POST"),
            st.builds(
                lambda p, e, d: (
                    "/link/events?"
                    + query(v=world.link_token)
                    + "|"
                    + json.dumps({"page": p, "eventName": e, "payload": d})
                ),
                st.one_of(
                    nasty_text, st.sampled_from(["landing", "data_confirmation"]), st.lists(st.integers(), max_size=2)
                ),
                st.one_of(nasty_text, st.sampled_from(["page_duration", "data_confirmation_validity_click"])),
                st.one_of(
                    st.dictionaries(nasty_text, st.one_of(nasty_text, st.integers(), st.booleans()), max_size=3),
                    st.builds(lambda n: {"durationMs": n, "institutionCode": "341"}, st.integers()),
                ),
            ),
        ),
        st.tuples(
            st.just("POST"),
            st.builds(lambda b: "/link/events?" + query(v=world.link_token) + "|" + encode(b), nasty_text),
        ),
        # an Open Data login page: any consent, any answer
        st.tuples(
            st.sampled_from(["GET", "POST"]),
            st.builds(
                lambda c, m, p: (
                    "/link/login?" + query(v=world.link_token, consent_id=c) + "|" + query(mfaId=m, password=p)
                ),
                st.one_of(nasty_text, st.just(world.consent_id)),
                st.one_of(nasty_text, st.integers(min_value=0).map(str)),
                nasty_text,
            ),
        ),
    )

    @fuzz(40)
    @given(pages)
    def check(page):
        method, target = page
        url, _, data = target.partition("|")
        response = mock.send(
            method, url, form if method == "POST" else {}, data.encode() if method == "POST" else None, pages=True
        )
        if response.headers.get("content-type", "").startswith("text/html"):
            assert MARKUP not in response.text, f"{url}: reflected markup unescaped"

    check()
    big = mock.send("POST", "/bank/authorize", form, b"ticket=" + b"x" * LIMIT, pages=True)
    assert big.status_code == 413 and big.json()["statusCode"] == 413
