"""The baseline: a bare Starlette app with one JSON route, served by uvicorn with the same
options as `klavi-mock serve` (klavi_mock/cli.py): same host/port handling, log level,
access log switch and graceful-shutdown timeout, uvicorn's default loop/http (uvloop and
httptools when installed).

    python bench/bare_app.py --host 127.0.0.1 --port 8090 --no-access-log --log-level warning
    curl http://127.0.0.1:8090/json   ->  {"message":"Hello, World!"}

bench/run.py measures it beside the mock so every figure can be read as a ratio against
what Starlette + uvicorn can do on this machine at all.
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

PATH = "/json"


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"message": "Hello, World!"})


app = Starlette(routes=[Route(PATH, hello)])


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    args = parser.parse_args(argv)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
