"""The payer's bank for an instant Pix payment, and Klavi's hosted WhiteLabel payment page.

    redirectConsentURL  GET|POST /bank/payments/authorize?ticket=...   the bank page
    the bank's answer   POST /bank/payments/flow/{flow}                 decision=approve|deny
    paymentURL          GET|POST /payments/start?v=...                  pick the institution, then the bank

Non-interactive use (curl, CI): add `decision=approve|deny` to the redirectConsentURL (or to
the paymentURL, with `institutionId` if the payment has none), as query parameters or a form
post, and the mock answers with the redirect to the partner's redirectUrl straight away.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from klavi_mock.domain import payments as states
from klavi_mock.domain.institutions import DEFAULT_BRAND_COLOR
from klavi_mock.domain.payments import InstantPayment, creditor_of
from klavi_mock.domain.taxid import mask_cnpj, mask_cpf
from klavi_mock.sandbox.payments import PaymentLinkError
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.web.pages.bank.forms import one, read_form
from klavi_mock.web.rendering import PageRenderer, leave_for

LINK_ERRORS = {
    "unknown": (404, "Link inválido", "Este endereço de pagamento não existe ou foi digitado incorretamente."),
    "used": (410, "Link já utilizado", "Este link de pagamento só pode ser aberto uma vez. Volte ao aplicativo."),
    "expired": (
        410,
        "Link expirado",
        "O link de autorização vale por 60 segundos depois de criado. Volte ao aplicativo e comece de novo.",
    ),
    "finished": (410, "Pagamento encerrado", "Este pagamento já foi autorizado, recusado ou cancelado."),
}


def brl(amount: str) -> str:
    """R$ 1.333,00"""
    whole, cents = f"{Decimal(amount):,.2f}".split(".")
    return f"R$ {whole.replace(',', '.')},{cents}"


class PaymentPages:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.payments = sandbox.instant
        self.render = PageRenderer(sandbox)

    def _institution(self, request: Request, payment: InstantPayment) -> dict:
        found = self.payments.institution_of(payment)
        if found is None:
            return {"code": "", "name": "Seu banco", "color": DEFAULT_BRAND_COLOR, "logo_url": ""}
        return self.render.institution(request, found.code)

    def _payment_context(self, payment: InstantPayment) -> dict:
        creditor = creditor_of(payment)
        customer = payment.request.get("customer") or {}
        identifier = str(customer.get("identifier") or "")
        cnpj = customer.get("identifierType") == "CNPJ"
        scheduled = payment.scheduled_for()
        today = states.brasilia_today(self.sandbox.clock.now())
        return {
            "id": payment.id,
            "amount_label": brl(payment.amount),
            "creditor_name": creditor["name"],
            "creditor_key": creditor["key"],
            "creditor_account": creditor["account"],
            "payer_label": "CNPJ" if cnpj else "CPF",
            "payer_masked": (mask_cnpj if cnpj else mask_cpf)(identifier) if identifier else "",
            "scheduled": bool(scheduled and scheduled > today),
            "date_label": _date_label(scheduled, today),
            "remittance": payment.request.get("remittanceInformation"),
        }

    def _error(self, request: Request, error: PaymentLinkError) -> Response:
        status, title, message = LINK_ERRORS[error.reason]
        back = {}
        if error.payment is not None:
            back = {"back_url": self.payments.return_url(error.payment), "back_label": "Voltar"}
            message = f"{message} Situação: {error.payment.status}."
        return self.render.message(request, status, title, message, **back)

    def _after_bank(self, request: Request, payment: InstantPayment) -> Response:
        """The bank page, a wait for the bank's app, or back to the partner."""
        if payment.status != states.CONSENT_AWAITING_AUTHORIZATION:
            return leave_for(self.payments.return_url(payment))
        if self.payments.waits_for_app(payment):
            return self.render.message(
                request,
                200,
                "Aguardando confirmação",
                "Confirme o pagamento no aplicativo do seu banco para continuar.",
                tone="info",
                detail="Se a confirmação não chegar em 60 minutos, o pagamento é cancelado.",
            )
        return self.render.page(
            "payment_authorise.html",
            request,
            institution=self._institution(request, payment),
            payment=self._payment_context(payment),
            partner_name=self.render.partner_name(payment.tenant_id),
            action_url=f"{self.render.base(request)}/bank/payments/flow/{payment.flow_token}",
        )

    # -- routes ---------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        """redirectConsentURL: the bank page (or, with `decision`, the whole journey)."""
        form = await read_form(request, self.sandbox.settings.max_body_bytes)
        try:
            payment = self.payments.open_redirect(one(form, "ticket") or "")
            return self._decide_or_show(request, payment, one(form, "decision"))
        except PaymentLinkError as error:
            return self._error(request, error)

    def _decide_or_show(self, request: Request, payment: InstantPayment, decision: str | None) -> Response:
        if decision in ("approve", "deny") and payment.status == states.CONSENT_AWAITING_AUTHORIZATION:
            payment = self.payments.decide(payment.flow_token or "", decision == "approve")
        return self._after_bank(request, payment)

    async def flow(self, request: Request) -> Response:
        """The bank page again (GET), or the payer's answer (POST decision=approve|deny)."""
        token = request.path_params["flow"]
        try:
            if request.method == "GET":
                return self._after_bank(request, self.payments.flow(token))
            decision = one(await read_form(request, self.sandbox.settings.max_body_bytes), "decision")
            if decision not in ("approve", "deny"):
                return self.render.invalid_decision(request)
            payment = self.payments.decide(token, decision == "approve")
        except PaymentLinkError as error:
            return self._error(request, error)
        return self._after_bank(request, payment)

    async def start(self, request: Request) -> Response:
        """paymentURL: the payment, the institution to pick (unless given), then the bank."""
        form = await read_form(request, self.sandbox.settings.max_body_bytes)
        token = one(form, "v") or ""
        try:
            payment = self.payments.by_link(token)
            chosen = one(form, "institutionId") or payment.request.get("institutionId")
            if request.method == "GET" and not one(form, "decision"):
                return self.render.page(
                    "payment_start.html",
                    request,
                    payment=self._payment_context(payment),
                    partner_name=self.render.partner_name(payment.tenant_id),
                    institutions=[
                        {"code": i.code, "name": i.name}
                        for i in self.sandbox.institutions.all()
                        if i.institution_type == 1 and not i.is_outage
                    ],
                    chosen=chosen,
                    token=token,
                    action_url=f"{self.render.base(request)}/payments/start",
                )
            if not chosen:
                return self.render.message(
                    request,
                    400,
                    "Escolha o seu banco",
                    "Escolha um banco para continuar.",
                    detail="Send institutionId.",
                )
            payment = self.payments.start_link(token, str(chosen))
            if one(form, "decision"):
                return self._decide_or_show(request, payment, one(form, "decision"))
        except PaymentLinkError as error:
            return self._error(request, error)
        if payment.status != states.CONSENT_AWAITING_AUTHORIZATION:  # a bank that refuses at once
            return leave_for(self.payments.return_url(payment))
        return RedirectResponse(f"{self.render.base(request)}/bank/payments/flow/{payment.flow_token}", 303)

    def routes(self) -> list:
        return [
            Route("/bank/payments/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/bank/payments/flow/{flow}", self.flow, methods=["GET", "POST"]),
            Route("/payments/start", self.start, methods=["GET", "POST"]),
        ]


def _date_label(day: date | None, today: date) -> str:
    if day is None or day <= today:
        return "Hoje (pagamento imediato)"
    return f"Agendado para {day.strftime('%d/%m/%Y')}"
