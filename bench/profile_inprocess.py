#!/usr/bin/env python
"""The app's own cost per request, without sockets: call the ASGI apps directly in one
event loop, N times, and print microseconds per request for the mock's endpoints and the
bare app; with --profile, cProfile the mock's loop and print the top functions.

    python bench/profile_inprocess.py [--requests 20000] [--profile institutions|consents|auth] [--top 30]

Stable to a few percent from run to run (no network, no second process), so it is the
quick way to see what a change to a hot path buys before running bench/run.py. It leaves
out what uvicorn and the kernel do (parsing, sockets), which wrk's figures include.
Bounded: a fixed number of requests per endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

import bare_app

from klavi_mock.app import create_app
from klavi_mock.domain.taxid import make_cpf

KEYS = {"accessKey": "sandbox-access-key", "secretKey": "sandbox-secret-key"}


def scope(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> dict[str, Any]:
    raw = [(k.lower().encode(), v.encode()) for k, v in {"host": "127.0.0.1:8080", **headers}.items()]
    if body:
        raw.append((b"content-length", str(len(body)).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


async def call(app, request_scope: dict, body: bytes, answer: list | None = None) -> int:
    sent = False
    status = 0

    async def receive() -> dict:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif answer is not None:
            answer.append(message.get("body", b""))

    await app(dict(request_scope), receive, send)
    return status


async def loop(app, make: callable, n: int) -> float:
    """Seconds per request over n requests (make(i) -> (scope, body))."""
    started = time.perf_counter()
    for i in range(n):
        request_scope, body = make(i)
        status = await call(app, request_scope, body)
        if status != 200:
            raise RuntimeError(f"{request_scope['method']} {request_scope['path']} answered {status}")
    return (time.perf_counter() - started) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--profile", choices=["institutions", "consents", "auth"])
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)

    mock = create_app()
    auth_body = json.dumps(KEYS).encode()

    async def post(path: str, body: bytes, headers: dict[str, str]) -> dict:
        answer: list[bytes] = []
        await call(mock, scope("POST", path, {"content-type": "application/json", **headers}, body), body, answer)
        return json.loads(b"".join(answer))

    access = asyncio.run(post("/data/v1/auth", auth_body, {}))["accessToken"]
    link_token = asyncio.run(post("/data/v1/links", b"{}", {"authorization": f"Bearer {access}"}))["linkToken"]

    def consent_body(i: int) -> bytes:
        return json.dumps(
            {
                "externalTrackId": f"inproc-{i}-{time.perf_counter_ns()}",
                "personalTaxId": make_cpf(f"{100000000 + i:09d}"),
                "institutionCode": "341",
                "redirectURL": "https://partner.example.com/return",
            }
        ).encode()

    link_header = {"authorization": f"Bearer {link_token}"}
    json_header = {"content-type": "application/json"}
    endpoints = {
        "bare GET /json": (bare_app.app, lambda i: (scope("GET", "/json", {}), b"")),
        "GET /data/v1/links/institutions": (
            mock,
            lambda i: (scope("GET", "/data/v1/links/institutions", link_header), b""),
        ),
        "POST /data/v1/auth": (mock, lambda i: (scope("POST", "/data/v1/auth", json_header, auth_body), auth_body)),
        "POST /data/v1/consents": (
            mock,
            lambda i: (lambda b: (scope("POST", "/data/v1/consents", {**link_header, **json_header}, b), b))(
                consent_body(i)
            ),
        ),
    }
    keys = {
        "institutions": "GET /data/v1/links/institutions",
        "consents": "POST /data/v1/consents",
        "auth": "POST /data/v1/auth",
    }

    async def run_all() -> None:
        bare_cost = None
        for name, (app, make) in endpoints.items():
            await loop(app, make, min(2000, args.requests))  # warm-up
            cost = await loop(app, make, args.requests)
            bare_cost = bare_cost or cost
            print(f"{name:36} {cost * 1e6:8.1f} µs/request  ({cost / bare_cost:5.1f}× bare)")
        if args.profile:
            app, make = endpoints[keys[args.profile]]
            profiler = cProfile.Profile()
            profiler.enable()
            await loop(app, make, args.requests)
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
            stats.print_stats(args.top)
            out.write("\n-- by own time --\n")
            stats.sort_stats("tottime").print_stats(args.top)
            print(out.getvalue())

    asyncio.run(run_all())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
