"""GET /tasks/{taskId}/status and POST /tasks/{taskId}/mfa (Open Data)."""

from starlette.responses import JSONResponse, Response

from klavi_mock.web.server.call import Call


async def get_task_status(call: Call) -> Response:
    return JSONResponse(call.sandbox.tasks.of_link(call.token, call.path["taskId"]).status_view())


async def submit_task_mfa(call: Call) -> Response:
    call.sandbox.tasks.submit_mfa(call.token, call.path["taskId"], call.body)
    return JSONResponse({"message": "ok"})
