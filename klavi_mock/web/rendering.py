"""How the mock's pages are rendered: one Jinja2 environment over bank/templates, the
mock's own address for the URLs a page carries, and the shared pieces (an institution's
header, the partner's name, the generic message page)."""

from __future__ import annotations

from datetime import datetime
from html import escape

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from klavi_mock.domain.formats import is_web_url
from klavi_mock.domain.institutions import DEFAULT_BRAND_COLOR
from klavi_mock.domain.taxid import mask_cnpj, mask_cpf
from klavi_mock.resources import package_dir
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.web.server.call import request_origin

STATIC_DIR = package_dir("web", "pages", "static")
_templates = Environment(
    loader=FileSystemLoader(package_dir("web", "pages", "templates")), autoescape=select_autoescape(default=True)
)


def date_label(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y %H:%M UTC")


def masked_tax_id(consent_or_link) -> tuple[str, str]:
    """("CNPJ", "**.222.333/0001-**") or ("CPF", "***.982.247-**"): a company's (a consent
    may name its representative's CPF too, the CNPJ says whose it is) or a person's."""
    if consent_or_link.business_tax_id:
        return "CNPJ", mask_cnpj(consent_or_link.business_tax_id)
    return "CPF", mask_cpf(consent_or_link.personal_tax_id)


def leave_for(url: str) -> Response:
    """The end of a journey: a 302 to the partner's URL. For an app's deep link
    (`myapp://redirect?link_id=...`) the 302 carries a small page with a link to it too: a
    WebView catches the navigation to its scheme, and a desktop browser with no app for the
    scheme (which does not follow such a redirect) shows the page and its link."""
    if is_web_url(url):
        return RedirectResponse(url, status_code=302)
    href = escape(url, quote=True)
    page = (
        '<!doctype html><html lang="pt-BR"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Voltar ao aplicativo</title></head><body>"
        "<p>Compartilhamento concluído. Se o aplicativo não abrir sozinho, toque no link abaixo.</p>"
        f'<p><a id="klavi-return" href="{href}">Voltar ao aplicativo</a></p></body></html>'
    )
    return HTMLResponse(page, status_code=302, headers={"Location": url})


class PageRenderer:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def base(self, request: Request) -> str:
        return self.sandbox.settings.public_url or request_origin(request)

    def institution(self, request: Request, code: str) -> dict:
        institution = self.sandbox.institutions.get(code)
        return {
            "code": code,
            "name": self.sandbox.institutions.name_of(code),
            "color": institution.brand_color if institution else DEFAULT_BRAND_COLOR,
            "logo_url": f"{self.base(request)}/assets/logos/{code}.svg",
        }

    def partner_name(self, app_id: str) -> str:
        tenant = self.sandbox.tenants.get(app_id)
        return (tenant.display_name if tenant else None) or app_id

    def page(self, name: str, request: Request, status: int = 200, **context) -> HTMLResponse:
        html = _templates.get_template(name).render(static_url=f"{self.base(request)}/assets", **context)
        return HTMLResponse(html, status_code=status)

    def message(
        self,
        request: Request,
        status: int,
        title: str,
        message: str,
        tone: str = "error",
        institution_code: str | None = None,
        detail: str | None = None,
        back_url: str | None = None,
        back_label: str | None = None,
        **context,
    ) -> HTMLResponse:
        """A page that ends a step. Error pages always offer a way back: `back_url`, or the
        browser's history when no better place is known."""
        institution = self.institution(request, institution_code) if institution_code else None
        return self.page(
            "message.html",
            request,
            status,
            title=title,
            message=message,
            tone=tone,
            detail=detail,
            institution=institution,
            back_url=back_url,
            back_label=back_label or "Voltar",
            **context,
        )

    def invalid_decision(self, request: Request, back_url: str | None = None) -> HTMLResponse:
        """A bank page's answer that is neither Autorizar nor Recusar (a hand-made request)."""
        return self.message(
            request,
            400,
            "Escolha inválida",
            "Escolha Autorizar ou Recusar para continuar.",
            detail="Send decision=approve or decision=deny.",
            back_url=back_url,
        )
