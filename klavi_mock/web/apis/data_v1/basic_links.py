"""GET /basic-links/{appId}: the Basic WhiteLabel URL, opened in the user's browser."""

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from klavi_mock.domain.formats import redirect_url_problem
from klavi_mock.errors import KlaviError, NotFound
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.web.apis.data_v1.basic_link_query import link_request
from klavi_mock.web.rendering import PageRenderer
from klavi_mock.web.server.call import Call


async def open_basic_link(call: Call) -> Response:
    """Creates a link as POST /links would (link_created included), then sends the browser
    to its linkURL."""
    app_id = call.path["appId"]
    tenant = call.sandbox.tenants.get(app_id)
    if tenant is None:
        raise NotFound(
            f"path.appId: no partner with appId {app_id!r} is configured in this mock; see GET /__mock/tenants"
        )
    call.record.app_id = app_id
    _, token = call.sandbox.create_link(tenant, link_request(call.query))
    return RedirectResponse(f"{call.base_url}/link?{urlencode({'v': token})}", status_code=302)


_BASIC_LINK_ERRORS = {
    400: "O endereço deste link tem um dado inválido. Avise quem enviou o link.",
    404: "Este link não pertence a nenhum parceiro da Klavi. Confira o endereço ou avise quem enviou o link.",
    416: "Este link indica uma instituição que não existe. Avise quem enviou o link.",
}


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def basic_link_error_page(request: Request, sandbox: Sandbox, error: KlaviError) -> Response | None:
    """A browser gets a Portuguese page (the developer detail below it); a client that asks
    for JSON gets Klavi's error shape (None: the dispatcher renders it)."""
    if wants_json(request):
        return None
    back = request.query_params.get("redirect_url") or request.query_params.get("redirectURL") or ""
    usable = bool(back) and redirect_url_problem(back) is None
    return PageRenderer(sandbox).message(
        request,
        error.status,
        "Não foi possível abrir o link",
        _BASIC_LINK_ERRORS.get(error.status, "Não foi possível abrir este link agora. Tente de novo em instantes."),
        detail=error.message,
        **({"back_url": back, "back_label": "Voltar ao site de origem"} if usable else {}),
    )
