"""The control API's fault endpoints (/__mock/faults): thin handlers over the FaultBook."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from klavi_mock.errors import Conflict, InvalidRequest, NotFound
from klavi_mock.qa.faults.book import TooManyRules
from klavi_mock.qa.faults.rules import FaultRule, RuleError
from klavi_mock.web.server.call import Call, Handler


async def list_faults(call: Call) -> Response:
    return JSONResponse([rule.view() for rule in call.sandbox.faults.rules.values()])


async def create_fault(call: Call) -> Response:
    try:
        rule = call.sandbox.faults.add(call.body)
        call.sandbox.share_faults()
    except RuleError as exc:
        raise InvalidRequest(str(exc), problems=exc.problems) from None
    except TooManyRules as exc:
        raise Conflict(str(exc)) from None
    return JSONResponse(rule.view())


def _rule(call: Call, rule: FaultRule | None) -> FaultRule:
    if rule is None:
        raise NotFound(f"no fault rule {call.path['faultId']!r}; see GET /__mock/faults")
    return rule


async def get_fault(call: Call) -> Response:
    return JSONResponse(_rule(call, call.sandbox.faults.get(call.path["faultId"])).view())


async def delete_fault(call: Call) -> Response:
    removed = _rule(call, call.sandbox.faults.remove(call.path["faultId"]))
    call.sandbox.share_faults()
    return JSONResponse(removed.view())


async def clear_faults(call: Call) -> Response:
    call.sandbox.faults.clear()
    call.sandbox.share_faults()
    return JSONResponse({"message": "ok"})


FAULT_HANDLERS: dict[str, Handler] = {
    "listFaults": list_faults,
    "createFault": create_fault,
    "getFault": get_fault,
    "deleteFault": delete_fault,
    "clearFaults": clear_faults,
}
