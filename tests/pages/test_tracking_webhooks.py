"""Issue 23, item 5: the hosted pages' web tracking events reach the tenant's event webhook
(signed, eventType web, in the link's line after link_created), the events only the browser
sees are posted back by tracking.js to POST /link/events, the landing page's and the
institution list's events fire, and a tenant setting turns the webhook off."""

from __future__ import annotations

import re
from html import unescape

import pytest

from klavi_mock.testing import wait_for
from klavi_mock.webhooks.signing import verify_signature
from tests.conftest import VALID_CPF
from tests.contract import webhook_problems
from tests.pages.test_whitelabel import PARTNER, confirm_page, events, tracking_of
from tests.worlds import SANDBOX_KEYS, in_process, tenant, world_settings

SECRET = SANDBOX_KEYS["secretKey"]


def beacon_of(page_text: str) -> str:
    found = re.search(r'id="klavi-tracking"[^>]*data-beacon="([^"]+)"', page_text)
    assert found, "the page names no beacon for tracking.js"
    return unescape(found.group(1))


def posted(received) -> list[dict]:
    """The web events the receiver got, each body's signature checked."""
    out = []
    for r in received:
        assert verify_signature(r.body, r.headers["X-Klavi-Signature"], SECRET), r.body
        out.extend(e for e in r.json() if e["eventType"] == "web")
    return out


def test_page_events_go_to_the_event_webhook_signed_after_link_created(hooked, receiver):
    link = hooked.create_link(personalTaxId=VALID_CPF, redirectURL=PARTNER, externalInfo={"order": "7"})
    hooked.http.get(link["linkURL"] + "&q=nubank")
    confirm_page(hooked, link["linkURL"], "260")
    wanted = ["app_loaded", "page_view", "institution_list_search", "institution_click", "page_view"]
    web = wait_for(lambda: len(posted(receiver.at("/events"))) >= 5 and posted(receiver.at("/events")), 10, "5 events")
    assert [e["eventName"] for e in web] == wanted
    everything = receiver.events()
    assert everything[0]["eventName"] == "link_created"  # the link's first event goes first
    click = web[3]
    assert click["eventType"] == "web" and click["partnerAppId"] == "sandbox-app"
    assert click["payload"] == {
        "institutionCode": "260",
        "institutionName": "Nubank",
        "linkId": link["linkId"],
        "page": "institution_list",
    }
    assert click["externalInfo"] == {"order": "7"}
    assert web[2]["payload"]["key"] == "nubank"
    for r in receiver.at("/events"):
        assert webhook_problems("apiEvents", r.json()) == []
    # the delivery log keeps them as events of the link, like the other deliveries
    log = hooked.http.get("/__mock/webhooks", params={"name": "institution_click"}).json()["items"]
    assert [d["status"] for d in log] == ["delivered"] and log[0]["kind"] == "event"


def test_a_failing_receiver_gets_page_events_retried(hooked, receiver):
    receiver.scripts["/events"] = [200, 500]  # link_created, then the first page event fails once
    link = hooked.create_link(personalTaxId=VALID_CPF)
    hooked.http.get(link["linkURL"])
    wait_for(lambda: len(posted(receiver.at("/events"))) >= 3, 10, "app_loaded twice and page_view")
    statuses = [(e["eventName"], r.status) for r in receiver.at("/events") for e in r.json()]
    assert statuses[:4] == [("link_created", 200), ("app_loaded", 500), ("app_loaded", 200), ("page_view", 200)]


def test_the_browser_only_events_are_posted_back_by_the_pages(hooked, receiver, client):
    link = hooked.create_link(personalTaxId=VALID_CPF)
    page = confirm_page(hooked, link["linkURL"], "341")
    assert 'data-track="data_confirmation_validity_click" data-track-post' in page.text
    beacon = beacon_of(page.text)
    for name in ("data_confirmation_validity_click", "data_confirmation_klavi_portal_click"):
        sent = client.post(
            beacon,
            json={"page": "data_confirmation", "eventName": name, "payload": {"institutionCode": "341"}},
        )
        assert sent.status_code == 204, sent.text
    sent = client.post(
        beacon, json={"page": "data_confirmation", "eventName": "page_duration", "payload": {"durationMs": 1500}}
    )
    assert sent.status_code == 204, sent.text
    names = events(client, linkId=link["linkId"])
    assert names[-3:] == ["data_confirmation_validity_click", "data_confirmation_klavi_portal_click", "page_duration"]
    web = wait_for(
        lambda: [e for e in posted(receiver.at("/events")) if e["eventName"] == "page_duration"], 10, "page_duration"
    )
    assert web[0]["payload"] == {"page": "data_confirmation", "durationMs": 1500, "linkId": link["linkId"]}
    [validity] = [e for e in posted(receiver.at("/events")) if e["eventName"] == "data_confirmation_validity_click"]
    # the institution's name comes from the catalogue, not from the page's script
    assert validity["payload"]["institutionName"] == "Itaú"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"page": "landing", "eventName": "institution_click", "payload": {}}, "body.eventName"),
        ({"page": "landing", "eventName": "nope"}, "body.eventName"),
        ({"page": "elsewhere", "eventName": "landing_terms_click"}, "body.page"),
        ({"page": "landing", "eventName": "landing_terms_click", "payload": []}, "body.payload"),
        ({"page": "landing", "eventName": "page_duration", "payload": {"durationMs": -1}}, "body.payload.durationMs"),
        ({"page": "landing", "eventName": "page_duration", "payload": {"durationMs": True}}, "body.payload.durationMs"),
        (
            {
                "page": "data_confirmation",
                "eventName": "data_confirmation_validity_click",
                "payload": {"institutionCode": "x"},
            },
            "body.payload.institutionCode",
        ),
        (["not", "an", "object"], "body"),
        ({"page": ["landing"], "eventName": "landing_terms_click"}, "body.page"),
        ({"page": "landing", "eventName": {"a": 1}}, "body.eventName"),
    ],
)
def test_a_bad_page_event_is_a_400_naming_the_field(klavi, client, body, field):
    link = klavi.create_link(personalTaxId=VALID_CPF)
    beacon = beacon_of(klavi.http.get(link["linkURL"]).text)
    before = events(client, linkId=link["linkId"])
    refused = client.post(beacon, json=body)
    assert refused.status_code == 400, refused.text
    assert set(refused.json()) == {"statusCode", "error", "message"} and refused.json()["message"].startswith(
        field + ":"
    )
    assert events(client, linkId=link["linkId"]) == before  # nothing recorded


def test_a_page_event_needs_the_links_token(klavi, client):
    link = klavi.create_link(personalTaxId=VALID_CPF)
    refused = client.post("/link/events?v=not-a-token", json={"page": "landing", "eventName": "landing_terms_click"})
    assert refused.status_code == 401 and refused.json()["statusCode"] == 401
    not_json = client.post(
        beacon_of(klavi.http.get(link["linkURL"]).text), content=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and not_json.json()["message"].startswith("body:")


def test_the_landing_and_list_events_that_never_fired_now_do(klavi, client):
    link = klavi.create_link()  # no tax id: the landing page asks for one
    landing = klavi.http.get(link["linkURL"])
    for name in ("landing_terms_click", "landing_privacy_policy_click"):
        assert f'data-track="{name}" data-track-post' in landing.text
        assert client.post(beacon_of(landing.text), json={"page": "landing", "eventName": name}).status_code == 204
    klavi.http.post(link["linkURL"], data={"taxId": VALID_CPF})
    listing = klavi.http.get(link["linkURL"])
    assert 'data-track="institution_list_citizen_portal_click" data-track-post' in listing.text
    sent = client.post(
        beacon_of(listing.text), json={"page": "institution_list", "eventName": "institution_list_citizen_portal_click"}
    )
    assert sent.status_code == 204
    # Voltar on the list: the landing page again, then its Continuar back to the list
    back = unescape(re.search(r'href="([^"]+)" data-track="institution_list_back_click"', listing.text).group(1))
    again = klavi.http.get(back)
    assert again.status_code == 200 and tracking_of(again.text)[-1] == {
        "eventName": "page_view",
        "payload": {"page": "landing"},
    }
    assert 'data-track="landing_exit_click"' in again.text
    onward = unescape(re.search(r'href="([^"]+)" data-track="landing_continue_click"', again.text).group(1))
    assert "Escolha sua instituição" in klavi.http.get(onward).text
    assert events(client, linkId=link["linkId"]) == [
        "app_loaded",
        "page_view",
        "landing_terms_click",
        "landing_privacy_policy_click",
        "landing_continue_click",
        "page_view",
        "institution_list_citizen_portal_click",
        "institution_list_back_click",
        "page_view",
        "landing_continue_click",
        "page_view",
    ]


def test_tracking_events_can_be_turned_off_for_a_tenant(hooked, receiver, client):
    turned = client.put("/__mock/tenants/sandbox-app/webhooks", json={"trackingEvents": False})
    assert turned.status_code == 200 and turned.json()["trackingEvents"] is False
    assert turned.json()["eventsUrl"] == receiver.url("/events")  # the rest kept
    link = hooked.create_link(personalTaxId=VALID_CPF)
    hooked.http.get(link["linkURL"])
    assert events(client, linkId=link["linkId"]) == ["app_loaded", "page_view"]  # still recorded
    assert client.get("/__mock/webhooks", params={"name": "page_view"}).json()["items"] == []
    wait_for(lambda: receiver.events(), 10, "link_created")
    assert [e["eventName"] for e in receiver.events()] == ["link_created"]
    on = client.put("/__mock/tenants/sandbox-app/webhooks", json={"trackingEvents": True})
    assert on.json()["trackingEvents"] is True
    hooked.http.get(link["linkURL"])
    assert len(client.get("/__mock/webhooks", params={"name": "page_view"}).json()["items"]) == 1


def test_the_config_file_turns_tracking_events_off():
    settings = world_settings(tenants=[tenant("sandbox-app", tracking_events=False), tenant("other-app")])
    with in_process(settings, follow_redirects=False) as http:
        [mine, other] = http.get("/__mock/tenants").json()
        assert (mine["trackingEvents"], other["trackingEvents"]) == (False, True)
        token = http.post("/data/v1/auth", json=SANDBOX_KEYS).json()["accessToken"]
        link = http.post(
            "/data/v1/links", json={"personalTaxId": VALID_CPF}, headers={"Authorization": f"Bearer {token}"}
        ).json()
        http.get(link["linkURL"])
        assert http.get("/__mock/webhooks", params={"name": "app_loaded"}).json()["items"] == []


def test_reset_brings_back_the_configured_setting(client):
    assert client.put("/__mock/tenants/sandbox-app/webhooks", json={"trackingEvents": False}).status_code == 200
    assert client.post("/__mock/reset", json={}).status_code == 200
    [tenant] = [t for t in client.get("/__mock/tenants").json() if t["appId"] == "sandbox-app"]
    assert tenant["trackingEvents"] is True
