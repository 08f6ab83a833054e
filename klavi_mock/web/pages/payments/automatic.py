"""The payer's bank authorising an Automatic Pix consent: the consent URL
(`/bank/automatic-pix/{ticket}`, the consent's `redirectConsentURL` and a consent link's
`consentURL`) shows the creditor, the recurrence, the amounts and the first payment, with
Autorizar and Recusar; the answer goes back to the partner's `redirectUrl`.

Without a browser (curl, CI): add `decision=approve|deny` to the consent URL, as a query
parameter or a form post, and the mock answers with the redirect straight away.
"""

from __future__ import annotations

from decimal import Decimal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from klavi_mock.domain import automatic_pix as ap
from klavi_mock.domain.institutions import DEFAULT_BRAND_COLOR
from klavi_mock.domain.taxid import mask_cnpj, mask_cpf
from klavi_mock.errors import Conflict, NotFound
from klavi_mock.sandbox.automatic_pix import BankResult
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.web.pages.bank.forms import one, read_form
from klavi_mock.web.pages.bank.logos import logo_svg
from klavi_mock.web.rendering import PageRenderer, date_label, leave_for

GENERIC_BANK = "Banco do pagador"  # an institutionId the catalogue does not know
GENERIC_LOGO = "/bank/automatic-pix-logo.svg"
INTERVALS = {
    "WEEKLY": "Semanal",
    "MONTHLY": "Mensal",
    "QUARTERLY": "Trimestral",
    "SEMIANNUAL": "Semestral",
    "ANNUAL": "Anual",
}
STATUS_LABELS = {
    ap.AUTHORIZED: "autorizado",
    ap.PARTIALLY_ACCEPTED: "aguardando os demais aprovadores da empresa",
    ap.REJECTED: "recusado",
    ap.REVOKED: "revogado",
    ap.EXPIRED: "expirado (não autorizado em 60 minutos)",
    ap.PERIOD_EXPIRED: "vencido",
    ap.ERROR: "erro na autorização",
}


def reais(amount: str) -> str:
    """ "1333.5" -> "R$ 1.333,50"."""
    whole, cents = f"{Decimal(amount):,.2f}".split(".")
    return f"R$ {whole.replace(',', '.')},{cents}"


def day_label(iso_date: str) -> str:
    year, month, day = iso_date.split("-")
    return f"{day}/{month}/{year}"


def masked(party: dict) -> str:
    return mask_cpf(party["identifier"]) if party.get("identifierType") == "CPF" else mask_cnpj(party["identifier"])


class AutomaticPixPages:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.service = sandbox.automatic_pix
        self.render = PageRenderer(sandbox)

    def _institution(self, request: Request, consent: ap.AutomaticConsent) -> dict:
        """The payer's institution: `institutionId` as a catalogue code or organizationId, else a generic bank."""
        wanted = consent.institution_id
        for institution in self.sandbox.institutions.all():
            if wanted in (institution.code, institution.api_fields.get("organizationId")):
                return self.render.institution(request, institution.code)
        generic = {"code": "", "name": GENERIC_BANK, "color": DEFAULT_BRAND_COLOR}
        return {**generic, "logo_url": f"{self.render.base(request)}{GENERIC_LOGO}"}

    def _context(self, request: Request, consent: ap.AutomaticConsent) -> dict:
        config = consent.config
        limits = consent.limits
        first = config.get("firstPayment")
        creditor = consent.creditor_account
        return {
            "institution": self._institution(request, consent),
            "partner_name": self.render.partner_name(consent.tenant_id),
            "consent": {
                "id": consent.id,
                "payer_name": consent.customer["name"],
                "payer_masked": masked(consent.customer),
                "payer_label": consent.customer["identifierType"],
                "requested_at": date_label(consent.created_at),
                "description": consent.additional_information,
            },
            "creditor": {
                "name": creditor["holder"]["name"],
                "masked": masked(creditor["holder"]),
                "label": creditor["holder"]["identifierType"],
                "account": f"ISPB {creditor['ispb']} · Agência {creditor.get('issuer', '-')} · Conta {creditor['number']}",
            },
            "recurrence": {
                "interval": INTERVALS.get(config["interval"], config["interval"]),
                "start": day_label(config["referenceStartDate"]),
                "contract": config["contractId"],
                "debtor": config["contractDebtor"]["name"],
                "retries": "Sim" if consent.retry_accepted else "Não",
            },
            "limits": {
                "fixed": reais(str(limits.fixed)) if limits.fixed is not None else None,
                "minimum": reais(str(limits.minimum)) if limits.minimum is not None else None,
                "maximum": reais(str(limits.maximum)) if limits.maximum is not None else None,
            },
            "first_payment": {
                "amount": reais(first["amount"]),
                "date": day_label(first["date"]),
                "description": first.get("remittanceInformation"),
            }
            if first
            else None,
            "action_url": f"{self.render.base(request)}/bank/automatic-pix/{consent.ticket}",
        }

    def _leave(self, request: Request, result: BankResult) -> Response:
        if result.return_url is not None:
            return leave_for(result.return_url)
        consent = result.consent
        approved = consent.status == ap.AUTHORIZED
        return self.render.message(
            request,
            200,
            "Pix Automático autorizado" if approved else "Pix Automático não autorizado",
            "Você já pode voltar ao aplicativo." if approved else "Nenhuma cobrança será feita.",
            tone="success" if approved else "error",
            detail=f"Consentimento {consent.id}: {consent.status}",
        )

    async def authorise(self, request: Request) -> Response:
        """The consent URL: the bank's page, or with `decision` the whole step at once."""
        form = await read_form(request, self.sandbox.settings.max_body_bytes)
        try:
            consent = self.service.at_bank(request.path_params["ticket"])
        except NotFound:
            return self.render.message(
                request, 404, "Link inválido", "Este endereço de autorização não existe ou foi digitado incorretamente."
            )
        if consent.status != ap.AWAITING_AUTHORIZATION:
            label = STATUS_LABELS.get(consent.status, consent.status)
            return self.render.message(
                request,
                410,
                "Solicitação encerrada",
                f"Este Pix Automático já foi respondido ou não pode mais ser autorizado: {label}.",
                detail=f"Situação do consentimento: {consent.status}",
                back_url=self.service.return_url(consent),
            )
        scripted = self.service.bank_outcome(consent)
        if scripted is not None:
            return self._leave(request, scripted)
        decision = one(form, "decision")
        if decision is None:
            return self.render.page("bank_automatic_pix.html", request, **self._context(request, consent))
        if decision not in ("approve", "deny"):
            return self.render.invalid_decision(
                request, back_url=f"{self.render.base(request)}/bank/automatic-pix/{consent.ticket}"
            )
        try:
            result = self.service.decide(consent, decision == "approve")
        except Conflict as error:
            return self.render.message(request, 409, "Solicitação encerrada", error.message)
        return self._leave(request, result)

    async def logo(self, request: Request) -> Response:
        return Response(
            logo_svg(GENERIC_BANK, DEFAULT_BRAND_COLOR),
            media_type="image/svg+xml",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    def routes(self) -> list:
        return [
            Route(GENERIC_LOGO, self.logo, methods=["GET"]),
            Route("/bank/automatic-pix/{ticket}", self.authorise, methods=["GET", "POST"]),
        ]
