"""App2App (docs.klavi.ai/connect/integration-whitelabel-using-app2app-flow): once the user
has answered at the institution, the journey goes back to the partner's app instead of
staying in the browser, and the app opens the rest of the journey in its WebView.

- connect space: `appLink` with the query key the partner named in `appRedirectURLKey`;
- link space: `applicationLink` with `link_callback_url`.

The value is the address of the page the WebView must open (Klavi's next page: the LGPD
step, or the result page when the institution refused). **Mock choice**: the docs name the
parameter but not its value; `appLink` wins when a link has both.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from klavi_mock.domain.links import Link

LINK_CALLBACK_KEY = "link_callback_url"


def with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = urlencode(parse_qsl(parts.query, keep_blank_values=True) + list(extra.items()))
    return urlunsplit(parts._replace(query=query))


def app_return_url(link: Link, continue_url: str) -> str | None:
    """Where the browser goes after the institution, for a link set up for App2App."""
    if link.app_link and link.app_redirect_url_key:
        return with_query(link.app_link, {link.app_redirect_url_key: continue_url})
    if link.application_link:
        return with_query(link.application_link, {LINK_CALLBACK_KEY: continue_url})
    return None
