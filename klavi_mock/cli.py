"""klavi-mock: the command line.

klavi-mock serve [--host 127.0.0.1] [--port 8080] [--config FILE] ...   (every option: options.py, docs/reference/options.md)
klavi-mock check --base-url URL [--contract data|payments] [--access-key K --secret-key S] [--junit-xml PATH]
                 [--max-examples N] [--workers N] [--include OPERATION_ID ...]
klavi-mock conformance [--base-url http://127.0.0.1:8080] [--app-id APP] [--fail-on-violations]
klavi-mock health [--url http://127.0.0.1:8080]
klavi-mock migrate --database-url URL
klavi-mock check-receiver --url URL --secret S [--junit-xml FILE] [--timeout 10] [--app-id APP] [--require-signatures]
"""

from __future__ import annotations

import argparse
import errno
import gc
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any

from klavi_mock import __version__
from klavi_mock.app import create_app, database_name, migrate_database
from klavi_mock.config import ConfigError, Settings, check_exposure, check_storage, settings_from
from klavi_mock.contract.check import CONTRACTS, DEFAULT_CONTRACT, run_check
from klavi_mock.contract.receiver import run_check_receiver
from klavi_mock.options import add_flags, from_flags
from klavi_mock.qa.conformance import render_text
from klavi_mock.sandbox.report_builder import has_a_core_to_spare
from klavi_mock.web.server.logs import AccessLog, log_config
from klavi_mock.web.server.protocol import MAX_HEAD_BYTES, protocol_class

if TYPE_CHECKING:
    from klavi_mock.storage.protocol import Store


def _serve(args: argparse.Namespace) -> int:

    # The port is bound first: a port in use is one line and exit 2 (before the state file is
    # opened), and the banner, printed once the port is bound, names the port --port 0 chose.
    try:
        settings = settings_from(from_flags(args), os.environ)
        settings.report_process = has_a_core_to_spare()  # reports built beside the requests, not among them
        check_exposure(settings)
        check_storage(settings)
        sock = bind_socket(settings.host, settings.port)
    except ConfigError as exc:
        return _config_error(exc)
    try:
        app = create_app(settings)  # opens the state file, if any
    except ConfigError as exc:
        sock.close()
        return _config_error(exc)
    port = sock.getsockname()[1]
    print(banner(settings, app.state.sandbox.store, port=port), flush=True)
    if settings.workers > 1:
        # The app above checked and migrated the database; each worker opens its own pool.
        app.state.sandbox.store.close()
        return _serve_workers(settings, sock)
    _run_server(settings, app, sock)
    return 0


def _run_server(settings: Settings, app: Any, sock: socket.socket) -> None:
    import uvicorn

    # Reports are built in a child process, or on a thread where it cannot start; a short GIL
    # switch interval then gives the event loop the GIL back within half a millisecond.
    sys.setswitchinterval(0.0005)
    # What start-up made (the compiled spec, fixtures, catalogues) lives as long as the
    # process: out of the garbage collector's sight, its full collections stay short.
    gc.freeze()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        AccessLog(app) if settings.access_log else app,
        host=settings.host,
        port=port,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level, settings.log_format),
        access_log=False,  # logs.AccessLog writes them, masked, with the latency and the journal id
        timeout_graceful_shutdown=5,
        http=protocol_class(),
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )
    uvicorn.Server(config).run(sockets=[sock])


def _serve_workers(settings: Settings, sock: socket.socket) -> int:
    """`--workers N`: N processes forked after the socket is bound, each accepting on it
    with an app (and a connection pool) of its own; their state is the database's. SIGTERM
    or Ctrl-C stops them all gracefully; a worker that dies is started again."""
    children: dict[int, int] = {}  # pid -> worker number
    stopping = False

    def start(number: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                _run_server(settings, create_app(settings), sock)
            except ConfigError as exc:
                code = _config_error(exc)
            except BaseException:
                code = 1
            os._exit(code)
        children[pid] = number

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for number in range(settings.workers):
        start(number)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        ended = children.pop(pid, -1)
        if ended >= 0 and not stopping:
            print(f"klavi-mock: worker {ended + 1} (pid {pid}) ended ({status}); starting it again", file=sys.stderr)
            start(ended)
    sock.close()
    return 0


def _migrate(args: argparse.Namespace) -> int:
    """Bring a database's schema up to this klavi-mock's (serve does it too, at start)."""
    url = args.database_url or os.environ.get("KLAVI_MOCK_DATABASE_URL")
    if not url:
        print("klavi-mock migrate: give --database-url URL (or KLAVI_MOCK_DATABASE_URL)", file=sys.stderr)
        return 2
    try:
        before, now = migrate_database(url)
        name = database_name(url)
    except ConfigError as exc:
        return _config_error(exc)
    if before == now:
        print(f"klavi-mock migrate: {name} is at schema {now}, this klavi-mock's; nothing to do")
    else:
        print(f"klavi-mock migrate: {name} migrated from schema {before} to {now}")
    return 0


def _config_error(exc: ConfigError) -> int:
    # One line, whatever the message holds (a YAML error spans several).
    print(f"klavi-mock: {' '.join(str(exc).split())}", file=sys.stderr)
    return 2


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (0: a free port), or a ConfigError that says why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host!r}: cannot resolve it ({exc.strerror})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        if os.name != "nt":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use; stop what listens there, or choose another with --port "
                "(0 takes any free port)"
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _port_from_environment() -> str:
    port = os.environ.get("KLAVI_MOCK_PORT", "").strip()
    return port if port.isdigit() and port != "0" else "8080"


def _health(args: argparse.Namespace) -> int:
    """One line: healthy (exit 0) or why not (exit 1)."""
    import httpx

    url = f"{args.url.rstrip('/')}/__mock/health"
    try:
        response = httpx.get(url, timeout=args.timeout)
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        print(f"klavi-mock health: {url}: unreachable ({' '.join(str(exc).split()) or type(exc).__name__})")
        return 1
    if not isinstance(body, dict) or body.get("status") != "ok":
        print(f"klavi-mock health: {url} answered {response.status_code}, not healthy")
        return 1
    print(
        f"klavi-mock health: ok, version {body.get('version')}, up {body.get('uptimeSeconds')} s, "
        f"{body.get('storage')} storage ({url})"
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    # Imported here: schemathesis (and the check code) stays off `serve`'s start-up path.

    options = {
        name: getattr(args, name)
        for name in ("access_key", "secret_key", "max_examples", "workers")
        if getattr(args, name) is not None
    }
    return run_check(args.base_url, junit_xml=args.junit_xml, include=args.include, contract=args.contract, **options)


def _check_receiver(args: argparse.Namespace) -> int:

    return run_check_receiver(args.url, args.secret, args.junit_xml, args.timeout, args.require_signatures, args.app_id)


def _conformance(args: argparse.Namespace) -> int:
    """Print a running mock's client-conformance report for humans."""
    import httpx

    url = f"{args.base_url.rstrip('/')}/__mock/conformance"
    try:
        response = httpx.get(url, params={"appId": args.app_id} if args.app_id else None, timeout=10)
    except httpx.TransportError as exc:
        print(f"klavi-mock conformance: cannot reach {url}: {exc or type(exc).__name__}", file=sys.stderr)
        return 2
    if response.status_code != 200:
        print(f"klavi-mock conformance: {url} answered {response.status_code}: {response.text[:200]}", file=sys.stderr)
        return 2
    report = response.json()
    print(render_text(report))
    violations = sum(tenant["violationCount"] for tenant in report["tenants"])
    return 1 if args.fail_on_violations and violations else 0


def banner(settings: Settings, store: Store | None = None, port: int | None = None) -> str:
    """What serve prints once its port is bound (`port`: the bound one, when --port 0 chose it)."""
    base = settings.public_url or f"http://{settings.host}:{settings.port if port is None else port}"
    lines = [
        "klavi-mock: an offline Klavi Open Finance sandbox",
        f"  Klavi API    {base}/data/v1",
        f"  payments     {base}/payment/customer/v1   (and {base}/payment/management/v1)",
        f"  control API  {base}/__mock   (contract: {base}/__mock/openapi/mock-admin.yaml)"
        + ("; send X-Mock-Admin-Token" if settings.admin_token else ""),
    ]
    if settings.database_url and store is not None:
        lines.append(
            f"  database     {database_name(settings.database_url)} ({len(store.list_links())} links, "
            f"{len(store.list_consents())} consents, {store.outbox_size()} webhook deliveries pending)"
        )
    if settings.workers > 1:
        lines.append(f"  workers      {settings.workers} processes on this port, sharing the database")
    if settings.state_file and store is not None:
        lines.append(
            f"  state file   {settings.state_file} ({len(store.list_links())} links, {len(store.list_consents())} consents, "
            f"{store.outbox_size()} webhook deliveries pending)"
        )
    for tenant in settings.tenants:
        lines.append(f"  tenant {tenant.app_id}: accessKey={tenant.access_key} secretKey={tenant.secret_key}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="klavi-mock", description="An offline, stateful mock of the Klavi Open Finance API."
    )
    parser.add_argument("--version", action="version", version=f"klavi-mock {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the mock server")
    # Every flag comes from the option table (options.py), as do the variables and the file keys.
    add_flags(serve)
    serve.set_defaults(run=_serve)
    check = commands.add_parser(
        "check",
        help="run the contract suite (schemathesis) against a Klavi API over HTTP",
        description="Run schemathesis, with all its checks and the spec's OpenAPI links, over every operation "
        "of a Klavi contract (openapi/klavi.yaml, or openapi/klavi-payments.yaml with --contract payments) "
        "against a server. Exit code 0: every check passed; 1: a check failed; "
        "2: a usage or configuration problem (unreachable URL, keys refused).",
    )
    check.add_argument(
        "--base-url",
        required=True,
        metavar="URL",
        help="the API's base URL, e.g. http://127.0.0.1:8080/data/v1 (/data/v1 is added when missing; "
        "/payment with --contract payments)",
    )
    check.add_argument(
        "--contract",
        choices=sorted(CONTRACTS),
        default=DEFAULT_CONTRACT,
        help="which contract: data (openapi/klavi.yaml, /data/v1; the default) or payments "
        "(openapi/klavi-payments.yaml, /payment)",
    )
    check.add_argument("--access-key", help="the partner's accessKey (default: the mock's sandbox-access-key)")
    check.add_argument("--secret-key", help="the partner's secretKey (default: the mock's sandbox-secret-key)")
    check.add_argument(
        "--junit-xml", metavar="PATH", help="also write a JUnit XML report (one test case per operation)"
    )
    check.add_argument("--max-examples", type=int, metavar="N", help="generated test cases per operation (default 50)")
    check.add_argument("--workers", type=int, metavar="N", help="concurrent workers, 1-64 (default 1)")
    check.add_argument(
        "--include",
        nargs="+",
        action="extend",
        metavar="OPERATION_ID",
        help="only these operations (operationIds from the spec, e.g. createConsent getConsent)",
    )
    check.set_defaults(run=_check)
    receiver = commands.add_parser(
        "check-receiver",
        help="send a webhook receiver every Klavi event and report, valid and invalid, and judge it",
        description="Send a partner's webhook receiver one signed delivery per event and report product of "
        "openapi/klavi.yaml, then a bad and a missing signature, a duplicate eventId, an empty body and a "
        "stale timestamp. Exit code 0: no case failed (warnings allowed); 1: a case failed; 2: could not "
        "run (bad flags, or no HTTP answer at all).",
    )
    receiver.add_argument("--url", required=True, help="the receiver, e.g. http://127.0.0.1:9000/klavi/events")
    receiver.add_argument("--secret", required=True, help="the partner's secretKey, which signs every delivery")
    receiver.add_argument("--junit-xml", metavar="FILE", help="also write a JUnit XML report (one test case per case)")
    receiver.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for each answer (default 10, as Klavi)"
    )
    receiver.add_argument(
        "--app-id", default="sandbox-app", help="the partnerAppId the events carry (default sandbox-app)"
    )
    receiver.add_argument(
        "--require-signatures", action="store_true", help="fail (not warn) when a bad or missing signature is accepted"
    )
    receiver.set_defaults(run=_check_receiver)
    conformance = commands.add_parser(
        "conformance", help="print how clients used a running mock, and where they strayed from the spec"
    )
    conformance.add_argument(
        "--base-url",
        default="http://127.0.0.1:8080",
        metavar="URL",
        help="the running mock (default http://127.0.0.1:8080)",
    )
    conformance.add_argument("--app-id", help="only this tenant")
    conformance.add_argument(
        "--fail-on-violations", action="store_true", help="exit 1 when a client broke the contract (for CI)"
    )
    conformance.set_defaults(run=_conformance)
    migrate = commands.add_parser(
        "migrate",
        help="bring a PostgreSQL database's schema up to this klavi-mock's (serve does it too, at start)",
        description="Apply the schema migrations this klavi-mock ships to a --database-url database, under a lock "
        "(safe while instances start). Exit code 0: the schema is current; 2: the database cannot be reached, or "
        "a newer klavi-mock wrote it.",
    )
    migrate.add_argument(
        "--database-url",
        metavar="URL",
        help="the database (default: KLAVI_MOCK_DATABASE_URL), e.g. postgresql://mock@db/klavi",
    )
    migrate.set_defaults(run=_migrate)
    health = commands.add_parser(
        "health",
        help="ask a running mock whether it is healthy (for HEALTHCHECK and CI): exit 0 yes, 1 no",
        description="GET URL/__mock/health (no admin token needed) and print one line. Exit code 0: healthy; "
        "1: unreachable or not healthy.",
    )
    health.add_argument(
        "--url",
        default=os.environ.get("KLAVI_MOCK_HEALTH_URL") or f"http://127.0.0.1:{_port_from_environment()}",
        metavar="URL",
        help="the running mock (default: KLAVI_MOCK_HEALTH_URL, else http://127.0.0.1 on KLAVI_MOCK_PORT or 8080)",
    )
    health.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer (default 5)")
    health.set_defaults(run=_health)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a bare `klavi-mock`
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
