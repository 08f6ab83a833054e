"""Open Data tasks (institutionType 2; the rules are in domain/tasks.py): the login task a
consent at such an institution gets, the MFA answers that walk it, and what its outcome
does to the consent (through the lifecycle). POST /__mock/tasks makes one in any status."""

from __future__ import annotations

from klavi_mock.domain.consents import Consent
from klavi_mock.domain.institutions import InstitutionCatalog
from klavi_mock.domain.links import Link
from klavi_mock.domain.tasks import FAIL, NEED_MFA, PENDING, SUCCESS, Task, login_task, new_task
from klavi_mock.domain.tenants import Tenant
from klavi_mock.domain.tokens import TokenClaims
from klavi_mock.errors import BusinessRuleError, InvalidRequest, NotFound
from klavi_mock.sandbox.consents import ConsentLifecycle
from klavi_mock.storage.protocol import Store


class OpenDataTasks:
    def __init__(self, store: Store, institutions: InstitutionCatalog, consents: ConsentLifecycle) -> None:
        self.store = store
        self.institutions = institutions
        self.consents = consents

    def create_consent(self, tenant: Tenant, link: Link, request: dict, hosted: bool = False) -> Consent:
        """POST /consents: a consent (the lifecycle's rules); at an Open Data institution,
        with the task that logs in. A link made with a connectionKey of this institution
        updates without a login."""
        known = self.connection(tenant.app_id, link.connection_key) if link.connection_key else None
        if known is not None and known.institution_code != request["institutionCode"]:  # first: nothing half-made
            raise BusinessRuleError(
                4004,
                f"body.institutionCode: the link's connectionKey is for institution "
                f"{known.institution_code}, not {request['institutionCode']}",
            )
        consent = self.consents.create(tenant, link, request, hosted=hosted)
        if consent.open_data:
            task = login_task(
                tenant.app_id, link.id, consent.institution_code, consent.id, known.connection_key if known else None
            )
            self.store.add_task(task)
            with self.store.updating(consent):
                consent.task_id = task.id
            if task.status == SUCCESS:
                self.consents.open_data_connected(consent, task.connection_key or "")
        return consent

    def create(
        self,
        link_id: str,
        institution_code: str,
        status: str,
        code: int | None = None,
        message: str | None = None,
        mfa_type: str = "questions",
    ) -> Task:
        """POST /__mock/tasks: a task in any status, on any link."""
        link = self.store.get_link(None, link_id)
        if link is None:
            raise NotFound(f"link {link_id} not found")
        institution = self.institutions.get(institution_code)
        if institution is None or institution.institution_type != 2:
            raise InvalidRequest(
                f"body.institutionCode: {institution_code!r} is not an Open Data institution (institutionType 2)"
            )
        task = new_task(link.tenant_id, link.id, institution_code, status, code, message, mfa_type)
        self.store.add_task(task)
        return task

    def of_link(self, claims: TokenClaims, task_id: str) -> Task:
        task = self.store.get_task(task_id)
        if task is None or task.link_id != claims.link_id:
            raise NotFound(f"task {task_id} not found for this link")
        return task

    def on_link(self, link_id: str) -> list[Task]:
        return self.store.list_tasks(link_id)

    def connection(self, app_id: str, connection_key: str) -> Task | None:
        """The task that gave a tenant this connectionKey (None: no such connection)."""
        return self.store.task_with_connection(app_id, connection_key)

    def submit_mfa(self, claims: TokenClaims, task_id: str, mfa: dict) -> Task:
        task = self.of_link(claims, task_id)
        with self.store.updating(task):
            if task.consent_id is None:  # made by POST /__mock/tasks: any answer with its mfaId will do
                if task.status != NEED_MFA:
                    raise BusinessRuleError(4001, f"task {task_id} is {task.status}; it is not waiting for MFA")
                if mfa["mfaId"] != task.mfa_id:
                    raise InvalidRequest(
                        f"body.mfaId: {mfa['mfaId']} is not the pending MFA of task {task_id} ({task.mfa_id}); "
                        f"see GET /tasks/{task_id}/status"
                    )
                task.status = SUCCESS
                return task
            task.answer(mfa)
        consent = self.store.get_consent(None, task.consent_id)
        if consent is not None and task.status == SUCCESS:
            self.consents.open_data_connected(consent, task.connection_key or "", task.code)
        elif consent is not None and task.status == FAIL:
            self.consents.open_data_failed(consent)
        elif consent is not None and task.status == PENDING:
            self.consents.open_data_collecting(consent, task.crawl_seconds)
        return task
