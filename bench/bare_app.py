"""The baseline: a bare Starlette app with one JSON route, served by uvicorn with the same
options as `klavi-mock serve` (klavi_mock/cli.py): same host/port handling, log level,
access log switch and graceful-shutdown timeout, uvicorn's default loop/http (uvloop and
httptools when installed).

    python bench/bare_app.py --host 127.0.0.1 --port 8090 --no-access-log --log-level warning
    curl http://127.0.0.1:8090/json   ->  {"message":"Hello, World!"}

With `--body-file FILE`, `GET /body` also answers FILE's bytes as application/json, read
once at start-up: bench/run.py gives it the mock's institution list, so the mock's
`GET /data/v1/links/institutions` is compared with Starlette sending the very same bytes
(a 20 KiB answer costs uvicorn and the kernel more than a 27-byte one).

bench/run.py measures it beside the mock so every figure can be read as a ratio against
what Starlette + uvicorn can do on this machine at all.
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PATH = "/json"
BODY_PATH = "/body"


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"message": "Hello, World!"})


app = Starlette(routes=[Route(PATH, hello)])


def serve_body(data: bytes) -> None:
    """GET /body: `data`, pre-serialized, as the mock's cached institution list is."""

    async def body(request: Request) -> Response:
        return Response(data, media_type="application/json")

    app.router.routes.append(Route(BODY_PATH, body))


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--no-access-log", dest="access_log", action="store_false")
    parser.add_argument("--body-file", help="also serve this file's bytes at GET /body")
    args = parser.parse_args(argv)
    if args.body_file:
        with open(args.body_file, "rb") as file:
            serve_body(file.read())
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
