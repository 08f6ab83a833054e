"""An Open Data institution's login on the hosted journey (institutionType 2: 003, 021, 389).

Continuar on the data confirmation page makes the consent and its login task, as POST
/consents does in the API-only flow (`OpenDataTasks.create_consent`); this page then asks
each step the task asks (GET /tasks/{taskId}/status's mfaInfo: basic, contact, questions,
multichoice) and posts the answer where POST /tasks/{taskId}/mfa does (`submit_mfa`). The
rules (the institutions' scripts, the sandbox passwords and their Open Data codes) are the
domain's (`domain/tasks.py`). The end is the API-only flow's (the task's outcome moves the
consent: consent_authorised or consent_error), then Klavi's result page."""

from __future__ import annotations

from typing import Protocol

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from klavi_mock.domain.consents import Consent
from klavi_mock.domain.links import Link
from klavi_mock.domain.tasks import MULTICHOICES, NEED_MFA, PENDING, QUESTIONS, Task
from klavi_mock.domain.tenants import Tenant
from klavi_mock.errors import BusinessRuleError, InvalidRequest, KlaviError
from klavi_mock.sandbox.sandbox import Sandbox
from klavi_mock.web.pages.bank.forms import one, read_form
from klavi_mock.web.rendering import PageRenderer

_FIELDS = ("username", "password", "code", "switchVerificationType", "birthday")


class HostedJourney(Protocol):
    """What this page uses of the hosted pages (pages.HostedPages), which route to it."""

    sandbox: Sandbox
    render: PageRenderer

    def _open(self, request: Request, token: str) -> tuple[Tenant, Link] | Response: ...
    def _here(self, request: Request, token: str, path: str = "/link", **extra: str) -> str: ...
    def _consent_of(self, request: Request, tenant: Tenant, link: Link, token: str) -> Consent | Response: ...


class OpenDataLogin:
    def __init__(self, pages: HostedJourney) -> None:
        self.pages = pages
        self.sandbox = pages.sandbox
        self.render = pages.render

    async def login(self, request: Request) -> Response:
        """GET: the step the task asks now (or, once it is done, the result page). POST: the
        answer, then the next step."""
        form = await read_form(request, self.sandbox.settings.max_body_bytes)
        token = one(form, "v") or ""
        opened = self.pages._open(request, token)
        if isinstance(opened, Response):
            return opened
        tenant, link = opened
        consent = self.pages._consent_of(request, tenant, link, token)
        if isinstance(consent, Response):
            return consent
        task = self.sandbox.store.get_task(consent.task_id) if consent.task_id else None
        if task is None:  # a consent of the bank journey: its result page says where it is
            return self._to_result(request, token, consent)
        if request.method == "POST" and task.status == NEED_MFA:
            error = self._answer(token, task, form)
            if error is not None:
                return self._step(request, link, token, consent, task, error, status=400)
            return RedirectResponse(self._here(request, token, consent), status_code=303)
        if task.status == NEED_MFA:
            return self._step(request, link, token, consent, task)
        if task.status == PENDING:
            return self.render.message(
                request,
                200,
                "Coletando seus dados",
                f"{self.sandbox.institutions.name_of(consent.institution_code)} está enviando seus dados. "
                "Isso pode levar alguns instantes.",
                tone="info",
                institution_code=consent.institution_code,
                detail=f"task {task.id} is pending (the bank's data is being collected)",
                back_url=self._here(request, token, consent),
                back_label="Atualizar",
            )
        return self._to_result(request, token, consent)

    def _answer(self, token: str, task: Task, form: dict[str, list[str]]) -> str | None:
        """Post the answer as POST /tasks/{taskId}/mfa would; what was wrong with it, if anything."""
        raw_id = one(form, "mfaId") or ""
        if not (raw_id.isascii() and raw_id.isdigit()):
            return "Não foi possível continuar: recarregue a página e tente de novo. (mfaId is missing)"
        mfa: dict = {"mfaId": int(raw_id), **{name: one(form, name) for name in _FIELDS if one(form, name)}}
        try:
            _, claims = self.sandbox.authenticate(token, ("link",), "the link page")
            self.sandbox.tasks.submit_mfa(claims, task.id, mfa)
        except InvalidRequest as error:
            return f"Preencha o que foi pedido. ({error.message})"
        except BusinessRuleError:
            return None  # no longer waiting (answered in another tab): the page shows where it is
        except KlaviError as error:
            return error.message
        return None

    def _step(
        self,
        request: Request,
        link: Link,
        token: str,
        consent: Consent,
        task: Task,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        return self.render.page(
            "open_data_login.html",
            request,
            status,
            institution=self.render.institution(request, consent.institution_code),
            partner_name=self.render.partner_name(link.tenant_id),
            step=task.mfa_type,
            contact=task.status_view().get("mfaInfo", {}).get("contact", ""),
            questions=QUESTIONS,
            multichoices=MULTICHOICES,
            mfa_id=task.mfa_id,
            action_url=self._here(request, token, consent),
            error=error,
            list_url=self.pages._here(request, token),
        )

    def _here(self, request: Request, token: str, consent: Consent) -> str:
        return self.pages._here(request, token, "/link/login", consent_id=consent.id)

    def _to_result(self, request: Request, token: str, consent: Consent) -> Response:
        return RedirectResponse(
            self.pages._here(request, token, "/link/result", consent_id=consent.id), status_code=303
        )
