"""Open Data tasks (institutionType 2): a data collection that stops to ask the user for
credentials and MFA (connect/get-a-task-status, connect/submit-mfa-data).

Klavi's docs don't say how a task starts through the API. The mock's choice: POST /consents
at an Open Data institution answers a `taskId`; the task asks `basic` (username and
password) first, then whatever the institution's script below asks, then succeeds and
the consent becomes AUTHORISED. Sandbox passwords in FAILING_PASSWORDS fail the task with
that Open Data code (connect/open-data-codes-and-errors); those in PARTIAL_PASSWORDS succeed
with code 201-203 (not failures: the docs list them as extra authorization, partial
transactions, CPF missing); SLOW_PASSWORD leaves the task `pending` while the bank's data is
collected, CRAWL_SECONDS on the mock clock. A contact code of 000000 is a wrong token (402).
A task can also be made in any status through POST /__mock/tasks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from klavi_mock.errors import BusinessRuleError, InvalidRequest

PENDING, SUCCESS, FAIL, NEED_MFA = "pending", "success", "fail", "needMFA"
BASIC, CONTACT, QUESTIONS_TYPE, MULTICHOICE = "basic", "contact", "questions", "multichoice"

# What each sandbox Open Data institution asks after the login (the others: the login only).
MFA_SCRIPTS = {"021": [CONTACT], "389": [MULTICHOICE, CONTACT, QUESTIONS_TYPE]}

# Open Data codes and their messages (connect/open-data-codes-and-errors).
CODES = {
    201: "Extra authorization required",
    202: "Partial transaction missing",
    203: "CPF missing",
    402: "User credential error",
    403: "Bank service error",
    404: "Unexpected error",
    406: "Wrong password input too many times, try again tomorrow",
    407: "Account or password activation problem",
    408: "Account or password blocked",
}
FAILING_PASSWORDS = {"wrong-password": 402, "bank-down": 403, "too-many-attempts": 406, "inactive": 407, "blocked": 408}
# Success with a note (mock choice: status success, the code and its message instead of 200/ok).
PARTIAL_PASSWORDS = {"extra-authorization": 201, "partial-transactions": 202, "cpf-missing": 203}
PARTIAL_TRANSACTIONS = 202  # its reports are partial (code 204)
SLOW_PASSWORD = "slow-bank"
CRAWL_SECONDS = 30  # how long a slow bank's collection stays pending on the mock clock
WRONG_TOKEN = "000000"
MULTICHOICES = [{"label": "E-mail", "value": "1"}, {"label": "SMS", "value": "2"}]

# Klavi's documented MFA example (connect/get-a-task-status).
QUESTIONS: list[dict[str, Any]] = [
    {
        "id": "100",
        "question": "Em qual desses municipios você reside ou já residiu?",
        "options": [
            {"label": "BURITI DOS MONTES", "value": "1"},
            {"label": "CAMPINAS", "value": "2"},
            {"label": "SANTA MARIA DA BOA VISTA", "value": "3"},
            {"label": "NENHUMA DAS ALTERNATIVAS", "value": "4"},
        ],
    }
]


@dataclass
class Task:
    id: str
    tenant_id: str
    link_id: str
    institution_code: str
    status: str
    code: int = 200
    message: str = "ok"
    mfa_type: str = "questions"
    mfa_id: int = field(default_factory=lambda: secrets.randbelow(900) + 100)
    steps: list[str] = field(default_factory=list)  # the MFA types still to ask after this one
    consent_id: str | None = None  # the consent it connects (tasks started by POST /consents)
    connection_key: str | None = None  # given on success: a later link's connectionKey updates without a login
    success_code: int = 200  # the code it succeeds with (PARTIAL_PASSWORDS: 201-203)
    crawl_seconds: float = 0  # once the MFA is done, pending this long on the clock (SLOW_PASSWORD)

    def status_view(self) -> dict[str, Any]:
        view: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.status == NEED_MFA:
            view["mfaInfo"] = {"mfaId": self.mfa_id, "mfaType": self.mfa_type, **_mfa_detail(self.mfa_type)}
        return view

    def answer(self, mfa: dict[str, Any]) -> None:
        """The user's answer to the MFA step asked now: the task asks the next step,
        succeeds, or fails with an Open Data code. InvalidRequest when an answer is missing."""
        if self.status != NEED_MFA:
            raise BusinessRuleError(4001, f"task {self.id} is {self.status}; it is not waiting for MFA")
        if mfa["mfaId"] != self.mfa_id:
            raise InvalidRequest(
                f"body.mfaId: {mfa['mfaId']} is not the pending MFA of task {self.id} ({self.mfa_id}); "
                f"see GET /tasks/{self.id}/status"
            )
        needed = {
            BASIC: ("username", "password"),
            CONTACT: ("code",),
            QUESTIONS_TYPE: ("code",),
            MULTICHOICE: ("switchVerificationType",),
        }.get(self.mfa_type, ())
        for name in needed:
            if not mfa.get(name):
                raise InvalidRequest(f"body.{name}: required to answer a {self.mfa_type} MFA")
        if self.mfa_type == MULTICHOICE and mfa["switchVerificationType"] not in {c["value"] for c in MULTICHOICES}:
            raise InvalidRequest("body.switchVerificationType: must be one of the multichoices values (1 or 2)")
        if self.mfa_type == QUESTIONS_TYPE and mfa["code"] not in {o["value"] for o in QUESTIONS[0]["options"]}:
            raise InvalidRequest("body.code: must be the value of one of the question's options")
        failure = FAILING_PASSWORDS.get(mfa.get("password", "")) if self.mfa_type == BASIC else None
        if self.mfa_type == CONTACT and mfa["code"] == WRONG_TOKEN:
            failure = 402
        if self.mfa_type == BASIC:
            self.success_code = PARTIAL_PASSWORDS.get(mfa["password"], 200)
            self.crawl_seconds = CRAWL_SECONDS if mfa["password"] == SLOW_PASSWORD else 0
        if failure:
            self.fail(failure)
        elif self.steps:
            self.mfa_type, self.steps = self.steps[0], self.steps[1:]
            self.mfa_id = secrets.randbelow(900) + 100
        elif self.crawl_seconds:
            self.status, self.code, self.message = PENDING, 200, "ok"  # collecting: finish_crawl() when due
        else:
            self.succeed()

    def fail(self, code: int) -> None:
        self.status, self.code, self.message = FAIL, code, CODES.get(code, "unexpected error")

    def succeed(self) -> None:
        code = self.success_code
        self.status, self.code, self.message = SUCCESS, code, CODES.get(code, "ok") if code != 200 else "ok"
        self.connection_key = self.connection_key or f"ck-{secrets.token_hex(12)}"


def _mfa_detail(mfa_type: str) -> dict[str, Any]:
    if mfa_type == QUESTIONS_TYPE:
        return {"questions": QUESTIONS}
    if mfa_type == CONTACT:
        return {"contact": "(11) 9****-4321"}
    if mfa_type == MULTICHOICE:
        return {"multichoices": MULTICHOICES}
    return {}


def login_task(
    tenant_id: str, link_id: str, institution_code: str, consent_id: str, connection_key: str | None = None
) -> Task:
    """The task POST /consents starts at an Open Data institution: the login first, then
    the institution's script; with a known connectionKey (an update), done at once."""
    task = new_task(tenant_id, link_id, institution_code, NEED_MFA, mfa_type=BASIC)
    task.steps, task.consent_id = list(MFA_SCRIPTS.get(institution_code, [])), consent_id
    if connection_key:
        task.connection_key = connection_key
        task.succeed()
    return task


def new_task(
    tenant_id: str,
    link_id: str,
    institution_code: str,
    status: str,
    code: int | None = None,
    message: str | None = None,
    mfa_type: str = "questions",
) -> Task:
    failed = status == FAIL
    return Task(
        id=f"task-{secrets.token_hex(8)}",
        tenant_id=tenant_id,
        link_id=link_id,
        institution_code=institution_code,
        status=status,
        code=code if failed and code else (404 if failed else 200),
        message=message if failed and message else ("unexpected error" if failed else "ok"),
        mfa_type=mfa_type,
    )
