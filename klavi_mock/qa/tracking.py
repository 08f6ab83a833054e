"""Web tracking events (docs.klavi.ai/connect/web-tracking-events): `{eventName, payload}`
emitted by the hosted pages as the user moves through them.

The pages post each event to the window that opened them (a popup's `window.opener`) and to
a React Native WebView bridge when there is one (the static `tracking.js`); no other site
may frame them. Klavi's webhooks overview says the event webhook carries "events of end users
clicking or jumping on all web pages", so each event also goes to the tenant's eventsUrl
(`Sandbox.track`; eventType `web`, a mock choice). The events the server sees (a page
served, a button that submits) are recorded where they happen; the few only the browser
sees (a click that opens text on the page, the time spent on a page) are posted back by
`tracking.js` (`client_event` checks them). All are kept here, per link, so a test without a
browser can read them (`GET /__mock/tracking-events`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from klavi_mock.domain.institutions import InstitutionCatalog
from klavi_mock.errors import InvalidRequest

# Every event name on Klavi's page (its table is cut off after authorise_fail).
EVENT_NAMES = frozenset(
    {
        "app_loaded",
        "page_view",
        "page_duration",
        "landing_continue_click",
        "landing_exit_click",
        "landing_terms_click",
        "landing_privacy_policy_click",
        "institution_list_back_click",
        "institution_list_exit_click",
        "institution_list_citizen_portal_click",
        "institution_list_search",
        "institution_click",
        "data_confirmation_back_click",
        "data_confirmation_exit_click",
        "data_confirmation_continue_click",
        "data_confirmation_validity_click",
        "data_confirmation_klavi_portal_click",
        "authorise_success",
        "authorise_success_connect_more_click",
        "authorise_success_finish_click",
        "authorise_fail",
    }
)

# The events only the browser sees, which tracking.js posts back; every other event is
# recorded by the server when the page is served or the button's request arrives.
CLIENT_EVENTS = frozenset(
    {
        "page_duration",
        "landing_terms_click",
        "landing_privacy_policy_click",
        "institution_list_citizen_portal_click",
        "data_confirmation_validity_click",
        "data_confirmation_klavi_portal_click",
    }
)
_INSTITUTION_EVENTS = frozenset({"data_confirmation_validity_click", "data_confirmation_klavi_portal_click"})
PAGES = frozenset({"landing", "institution_list", "data_confirmation", "lgpd", "result"})
_LONGEST_PAGE_MS = 86_400_000  # a day: past it, a page_duration is a client's bug

LOG_LIMIT = 10_000  # the oldest are forgotten first: a long-running sandbox does not grow


def event(name: str, **payload: Any) -> dict[str, Any]:
    assert name in EVENT_NAMES, name
    return {"eventName": name, "payload": payload}


def institution_payload(institution, with_type: bool = False) -> dict[str, Any]:
    payload: dict[str, Any] = {"institutionCode": institution.code, "institutionName": institution.name}
    if with_type:
        payload["institutionType"] = institution.institution_type
    return payload


def client_event(body: object, institutions: InstitutionCatalog) -> tuple[str, dict[str, Any]]:
    """The page and the event a page's script posted (`{"page", "eventName", "payload"}`),
    checked: only CLIENT_EVENTS, on a page of the journey; an institution's name is taken
    from the catalogue, not from the client. InvalidRequest names the field."""
    if not isinstance(body, dict):
        raise InvalidRequest("body: must be a JSON object {page, eventName, payload}")
    page, name, payload = body.get("page"), body.get("eventName"), body.get("payload", {})
    if not isinstance(page, str) or page not in PAGES:
        raise InvalidRequest(f"body.page: must be one of {', '.join(sorted(PAGES))}")
    if not isinstance(name, str) or name not in CLIENT_EVENTS:
        raise InvalidRequest(
            f"body.eventName: must be one of {', '.join(sorted(CLIENT_EVENTS))} "
            "(the server records the journey's other events itself)"
        )
    if not isinstance(payload, dict):
        raise InvalidRequest("body.payload: must be an object")
    if name == "page_duration":
        duration = payload.get("durationMs")
        if isinstance(duration, bool) or not isinstance(duration, int) or not 0 <= duration <= _LONGEST_PAGE_MS:
            raise InvalidRequest(f"body.payload.durationMs: must be an integer from 0 to {_LONGEST_PAGE_MS}")
        return page, event(name, page=page, durationMs=duration)
    if name in _INSTITUTION_EVENTS:
        code = payload.get("institutionCode")
        institution = institutions.get(code) if isinstance(code, str) else None
        if institution is None:
            raise InvalidRequest("body.payload.institutionCode: must be an institution of GET /links/institutions")
        return page, event(name, **institution_payload(institution))
    return page, event(name)


@dataclass(frozen=True)
class Recorded:
    app_id: str
    link_id: str
    page: str
    event_name: str
    payload: dict[str, Any]
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "eventName": self.event_name,
            "payload": self.payload,
            "appId": self.app_id,
            "linkId": self.link_id,
            "page": self.page,
            "recordedAt": self.at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }


class TrackingLog:
    """In memory only (not in a state file): a record of what the pages showed, not state."""

    def __init__(self, limit: int = LOG_LIMIT) -> None:
        self._events: deque[Recorded] = deque(maxlen=limit)
        self._links_seen: set[str] = set()

    def record(self, app_id: str, link_id: str, page: str, events: list[dict[str, Any]], now: datetime) -> None:
        self._links_seen.add(link_id)
        for item in events:
            self._events.append(Recorded(app_id, link_id, page, item["eventName"], item["payload"], now))

    def first_visit(self, link_id: str) -> bool:
        """No page of this link was shown yet: the journey (Klavi's "app") is loading."""
        return link_id not in self._links_seen

    def list(self, app_id: str | None = None, link_id: str | None = None, event_name: str | None = None) -> list[dict]:
        return [
            e.as_json()
            for e in self._events
            if (app_id is None or e.app_id == app_id)
            and (link_id is None or e.link_id == link_id)
            and (event_name is None or e.event_name == event_name)
        ]

    def clear(self) -> None:
        self._events.clear()
        self._links_seen.clear()
