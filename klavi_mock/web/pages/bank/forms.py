"""What a page's form sent: query parameters and an urlencoded body, merged."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from klavi_mock.web.server.body import read_body


async def read_form(request: Request, limit: int) -> dict[str, list[str]]:
    """Query parameters and an urlencoded form body, merged (the body wins)."""
    values: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        values.setdefault(key, []).append(value)
    if request.method == "POST":
        body: dict[str, list[str]] = {}
        for key, value in parse_qsl(
            (await read_body(request, limit)).decode("utf-8", "replace"), keep_blank_values=True
        ):
            body.setdefault(key, []).append(value)
        values.update(body)
    return values


def one(form: dict[str, list[str]], key: str) -> str | None:
    return form[key][-1] if form.get(key) else None
