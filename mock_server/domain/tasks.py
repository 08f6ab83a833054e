"""Open Data tasks (institutionType 2): a data collection that may stop to ask the user for
MFA. Klavi's docs don't say how a task is created, so the mock creates them through its
control API (POST /__mock/tasks) with the status a test needs."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

PENDING, SUCCESS, FAIL, NEED_MFA = "pending", "success", "fail", "needMFA"

# Klavi's documented MFA example (connect/get-a-task-status).
QUESTIONS = [{
    "id": "100",
    "question": "Em qual desses municipios você reside ou já residiu?",
    "options": [
        {"label": "BURITI DOS MONTES", "value": "1"},
        {"label": "CAMPINAS", "value": "2"},
        {"label": "SANTA MARIA DA BOA VISTA", "value": "3"},
        {"label": "NENHUMA DAS ALTERNATIVAS", "value": "4"},
    ],
}]


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

    def status_view(self) -> dict[str, Any]:
        view: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.status == NEED_MFA:
            view["mfaInfo"] = {"mfaId": self.mfa_id, "mfaType": self.mfa_type,
                               **({"questions": QUESTIONS} if self.mfa_type == "questions" else {})}
        return view


def new_task(tenant_id: str, link_id: str, institution_code: str, status: str,
             code: int | None = None, message: str | None = None, mfa_type: str = "questions") -> Task:
    failed = status == FAIL
    return Task(
        id=f"task-{secrets.token_hex(8)}", tenant_id=tenant_id, link_id=link_id, institution_code=institution_code,
        status=status, code=code if failed and code else (404 if failed else 200),
        message=message if failed and message else ("unexpected error" if failed else "ok"), mfa_type=mfa_type,
    )
