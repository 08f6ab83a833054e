"""`klavi-mock check`: the contract suite against any server over HTTP.

Runs schemathesis's own CLI runner (in this process) over every operation of a Klavi
contract (`--contract data`: openapi/klavi.yaml, the default; `--contract payments`:
openapi/klavi-payments.yaml) against a base URL, with all default checks and all phases (examples,
coverage, fuzzing, and stateful along the spec's OpenAPI links), the repository's
schemathesis.toml (416 is a valid answer to valid data: Klavi's business rules), the CPF/CNPJ
formats and the contract's tokens (klavi_mock.contract.schemathesis_setup).

On top of schemathesis's output it prints one line per operation as it finishes (also when
the output is not a terminal, where schemathesis shows only phase totals) and, at the end,
the failed checks per operation. Exit codes: 0 every check passed, 1 a check failed (or the
run hit errors), 2 a usage or configuration problem (bad flags, unreachable URL, keys refused).

schemathesis is imported only inside `run_check`, so importing this module stays cheap.
"""

from __future__ import annotations

import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from klavi_mock.resources import openapi_dir, schemathesis_config

API_PREFIX = "/data/v1"
DEFAULT_ACCESS_KEY = "sandbox-access-key"
DEFAULT_SECRET_KEY = "sandbox-secret-key"
DEFAULT_MAX_EXAMPLES = 50
DEFAULT_WORKERS = 1
PREFLIGHT_TIMEOUT = 10.0


class UsageError(Exception):
    """A problem with the command's input or target: one line, exit code 2."""


@dataclass(frozen=True)
class Contract:
    """One of Klavi's APIs as `check` sees it: its spec, the path its base URL ends with, and
    its token operation (the preflight's target; the tokens are schemathesis_setup's)."""

    name: str
    title: str
    spec: str
    prefix: str
    auth_path: str


CONTRACTS = {
    "data": Contract("data", "the data API", "klavi.yaml", API_PREFIX, "/auth"),
    "payments": Contract("payments", "the payments API", "klavi-payments.yaml", "/payment", "/customer/v1/auth"),
}
DEFAULT_CONTRACT = "data"


def contract_named(name: str) -> Contract:
    try:
        return CONTRACTS[name]
    except KeyError:
        raise UsageError(f"unknown --contract {name!r}; the contracts are: {', '.join(CONTRACTS)}") from None


# --------------------------------------------------------------------------------- helpers


def api_base_url(url: str, contract: Contract = CONTRACTS[DEFAULT_CONTRACT]) -> str:
    """The API's base URL: `url` without a trailing slash, with the contract's prefix
    (`/data/v1`, `/payment`) appended unless it already ends with it (so both
    `http://host:8080` and `http://host:8080/data/v1` work). A URL ending with another
    contract's prefix is a mistake, said as such."""
    try:
        parsed = httpx.URL(url.strip())
    except Exception as exc:  # httpx.InvalidURL and friends
        raise UsageError(f"--base-url {url!r} is not a URL ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(f"--base-url {url!r} should be an http(s) URL such as http://127.0.0.1:8080{contract.prefix}")
    base = str(parsed.copy_with(query=None, fragment=None)).rstrip("/")
    for other in CONTRACTS.values():
        if other is not contract and base.endswith(other.prefix):
            raise UsageError(
                f"--base-url {url!r} is {other.title}'s ({other.prefix}) but --contract is {contract.name}: "
                f"give --contract {other.name}, or the server root"
            )
    if not base.endswith(contract.prefix):
        base += contract.prefix
    return base


def spec_file(contract: Contract = CONTRACTS[DEFAULT_CONTRACT]) -> Path:
    return openapi_dir() / contract.spec


def config_file() -> Path:
    """The repository's schemathesis.toml (inside the package's data in a wheel)."""
    try:
        return schemathesis_config()
    except FileNotFoundError as exc:
        raise UsageError(str(exc)) from None


_OPERATIONS_TABLE = re.compile(r"^\[\[operations\]\][ \t]*$", re.MULTILINE)
# Python 3.10 has no TOML parser: the one key we need, read the way schemathesis.toml writes it.
_INCLUDE_ID = re.compile(r'^include-operation-id[ \t]*=[ \t]*"([^"]+)"[ \t]*$', re.MULTILINE)


def config_for(config: Path, operations: dict[str, str], folder: Path) -> Path:
    """schemathesis.toml as it applies to one contract: its `[[operations]]` tables that name
    an operation of another contract are left out (schemathesis would warn that they match
    nothing), the rest kept word for word. Written into `folder`."""
    text = config.read_text(encoding="utf-8")
    starts = [match.start() for match in _OPERATIONS_TABLE.finditer(text)]
    kept = [text[: starts[0]] if starts else text]
    for start, end in zip(starts, starts[1:] + [len(text)], strict=True):
        table = text[start:end]
        named = _INCLUDE_ID.search(table)
        if named is None or named[1] in operations:  # other filters: kept, schemathesis reads them
            kept.append(table)
    written = folder / config.name
    written.write_text("".join(kept), encoding="utf-8")
    return written


def _spec(contract: Contract = CONTRACTS[DEFAULT_CONTRACT]) -> dict:
    import yaml

    return yaml.safe_load(spec_file(contract).read_text(encoding="utf-8"))


def _spec_operations(spec: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in (spec.get("paths") or {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                yield f"{method.upper()} {path}", operation["operationId"], operation


def spec_operations(spec: dict | None = None) -> dict[str, str]:
    """operationId -> "METHOD /path" for every operation of the spec (default openapi/klavi.yaml)."""
    return {operation_id: label for label, operation_id, _ in _spec_operations(spec or _spec())}


def spec_links(spec: dict | None = None) -> set[tuple[str, str]]:
    """(source operationId, target operationId) for every OpenAPI link in the spec (default openapi/klavi.yaml)."""
    links = set()
    for _, operation_id, operation in _spec_operations(spec or _spec()):
        for response in (operation.get("responses") or {}).values():
            for link in ((response or {}).get("links") or {}).values():
                if isinstance(link, dict) and "operationId" in link:
                    links.add((operation_id, link["operationId"]))
    return links


def preflight(
    base_url: str, access_key: str, secret_key: str, contract: Contract = CONTRACTS[DEFAULT_CONTRACT]
) -> None:
    """POST the contract's auth once: is there such a Klavi API at `base_url`, and does it
    take these keys? Anything else odd about the answer is left to the checks to report."""
    auth = contract.auth_path
    try:
        response = httpx.post(
            f"{base_url}{auth}", json={"accessKey": access_key, "secretKey": secret_key}, timeout=PREFLIGHT_TIMEOUT
        )
    except httpx.TimeoutException:
        raise UsageError(f"cannot reach {base_url}: POST {auth} got no answer within {PREFLIGHT_TIMEOUT:g} s") from None
    except httpx.TransportError as exc:
        raise UsageError(f"cannot reach {base_url}: {exc or type(exc).__name__}") from None
    if response.status_code in (401, 403):
        raise UsageError(
            f"{base_url}{auth} refused the keys (HTTP {response.status_code}{_message(response)}): "
            f"pass the partner's --access-key and --secret-key"
        )
    if response.status_code in (404, 405):
        raise UsageError(
            f"no Klavi API at {base_url} (POST {auth} answered {response.status_code}): "
            f"give {contract.title}'s base URL, e.g. http://127.0.0.1:8080{contract.prefix}"
        )


def _message(response: httpx.Response) -> str:
    try:
        message = response.json().get("message")
    except Exception:
        message = None
    return f": {message}" if isinstance(message, str) and message else ""


# ------------------------------------------------------------- what schemathesis talks to


@dataclass
class _Target:
    """The server of the current run; the auth provider and the progress handler, registered
    once per process, read it."""

    base_url: str = ""
    contract: str = DEFAULT_CONTRACT
    keys: dict[str, str] = field(default_factory=dict)
    operation_ids: dict[str, str] = field(default_factory=dict)  # "METHOD /path" -> operationId
    failures: dict[str, dict[str, None]] = field(default_factory=dict)  # label -> failure lines (ordered set)
    token_errors: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


_TARGET = _Target()
_REGISTERED = False


def _register_once() -> None:
    global _REGISTERED
    if _REGISTERED:
        return
    import schemathesis
    import schemathesis.cli

    from klavi_mock.contract.schemathesis_setup import klavi_auth, register_formats

    register_formats()

    def new_client() -> httpx.Client:
        return httpx.Client(base_url=_TARGET.base_url, timeout=30)

    # The current target's tokens (data: POST /auth and POST /links; payments: POST
    # /customer/v1/auth), with its keys.
    KlaviCheckAuth = klavi_auth(
        new_client, "", lambda: _TARGET.keys, on_error=_token_error, contract=lambda: _TARGET.contract
    )
    schemathesis.auth()(KlaviCheckAuth)
    schemathesis.cli.handler()(_ProgressHandler)
    _REGISTERED = True


def _token_error(exc: Exception) -> None:
    """Said once per run: the operations that need a token go without one."""
    message = f"cannot get tokens: {exc}; operations that need a token are tested without one"
    with _TARGET.lock:
        if message in _TARGET.token_errors:
            return
        _TARGET.token_errors.add(message)
    print(f"klavi-mock check: {message}", file=sys.stderr, flush=True)


def _label(label: str | None) -> str:
    if not label:
        return ""
    operation_id = _TARGET.operation_ids.get(label)
    return f"{operation_id} ({label})" if operation_id else label


def _scenario(event: Any) -> str:
    """The operation, or for a stateful scenario the calls it made (A -> B -> C)."""
    if event.label:
        return _label(event.label)
    steps: list[str] = []
    for node in event.recorder.cases.values():
        label = node.value.operation.label
        if not steps or steps[-1] != label:
            steps.append(label)
    return " -> ".join(steps) or "scenario"


class _ProgressHandler:
    """A schemathesis CLI event handler: one line per operation and phase as it finishes, and
    the failed checks per operation for the summary."""

    def __init__(self, *args: Any, **params: Any) -> None:
        pass

    def start(self, ctx: Any) -> None:
        pass

    def shutdown(self, ctx: Any) -> None:
        pass

    def handle_event(self, ctx: Any, event: Any) -> None:
        from schemathesis.engine import Status, events
        from schemathesis.engine.run import INTERNAL_PHASES, PhaseName

        if isinstance(event, events.PhaseStarted):
            if event.phase.name not in INTERNAL_PHASES and event.phase.is_enabled:
                print(f"klavi-mock check: {event.phase.name.display} phase ...", flush=True)
        elif isinstance(event, events.ScenarioFinished) and event.phase not in INTERNAL_PHASES:
            if event.phase is PhaseName.STATEFUL_TESTING and event.status in (Status.SUCCESS, Status.SKIP):
                return  # many short scenarios: schemathesis counts them; only the broken ones are named
            if event.status is Status.SKIP:
                outcome = f"skipped ({event.skip_reason})" if event.skip_reason else "skipped"
            else:
                outcome = event.status.name.lower()
            mark = {Status.SUCCESS: "ok  ", Status.FAILURE: "FAIL", Status.ERROR: "ERR ", Status.SKIP: "skip"}.get(
                event.status, "    "
            )
            print(
                f"  {mark} {event.phase.value:<9} {_scenario(event)}: {outcome} ({event.elapsed_time:.2f} s)",
                flush=True,
            )
            if event.status is Status.FAILURE:
                self._collect(event)
        elif isinstance(event, events.NonFatalError):
            with _TARGET.lock:
                error = str(event.value).strip().splitlines()
                _TARGET.failures.setdefault(event.label, {})[
                    f"error: {error[0] if error else type(event.value).__name__}"
                ] = None

    @staticmethod
    def _collect(event: Any) -> None:
        from schemathesis.engine import Status

        recorder = event.recorder
        with _TARGET.lock:
            for case_id, checks in recorder.checks.items():
                node = recorder.cases.get(case_id)
                label = node.value.operation.label if node is not None else event.label
                for check in checks:
                    if check.status is Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        _TARGET.failures.setdefault(label, {})[f"{check.name}: {failure.title}"] = None


def _summary() -> str:
    if not _TARGET.failures:
        return ""
    lines = [f"klavi-mock check: failed checks and errors in {len(_TARGET.failures)} operation(s):"]
    for label in sorted(_TARGET.failures, key=_label):
        lines.append(f"  {_label(label)}")
        lines.extend(f"    - {line}" for line in _TARGET.failures[label])
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the command


CHECK_EXTRA = ("schemathesis>=4.0", "hypothesis>=6.100")  # when the installed metadata says nothing


def install_hint() -> str:
    """How to get the `check` extra's packages. klavi-mock is not on PyPI, so
    `pip install 'klavi-mock[check]'` cannot work: name the packages themselves, as the
    installed metadata (pyproject's `check` extra) pins them, and the clone's way."""
    try:
        requires = metadata.requires("klavi-mock") or []
    except metadata.PackageNotFoundError:
        requires = []
    extra = [
        req.split(";", 1)[0].strip().replace(" ", "")
        for req in requires
        if ";" in req and "extra" in req.split(";", 1)[1] and '"check"' in req.split(";", 1)[1].replace("'", '"')
    ]
    packages = " ".join(f"'{req}'" for req in extra or CHECK_EXTRA)
    return f"pip install {packages} (from a clone of klavi-mock: pip install '.[check]')"


def run_check(
    base_url: str,
    access_key: str = DEFAULT_ACCESS_KEY,
    secret_key: str = DEFAULT_SECRET_KEY,
    junit_xml: str | Path | None = None,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    workers: int = DEFAULT_WORKERS,
    include: list[str] | None = None,
    contract: str = DEFAULT_CONTRACT,
) -> int:
    """Run the contract suite of `contract` ("data" or "payments") against `base_url`;
    returns the exit code (0 pass, 1 failures, 2 usage/config error)."""
    try:
        return _run(base_url, access_key, secret_key, junit_xml, max_examples, workers, include, contract)
    except UsageError as exc:
        print(f"klavi-mock check: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("klavi-mock check: interrupted", file=sys.stderr, flush=True)
        return 130


def _run(
    base_url: str,
    access_key: str,
    secret_key: str,
    junit_xml: str | Path | None,
    max_examples: int,
    workers: int,
    include: list[str] | None,
    contract_name: str,
) -> int:
    contract = contract_named(contract_name)
    if max_examples < 1:
        raise UsageError(f"--max-examples should be 1 or more, not {max_examples}")
    if not 1 <= workers <= 64:
        raise UsageError(f"--workers should be between 1 and 64, not {workers}")
    try:
        import schemathesis  # noqa: F401
        import schemathesis.cli
    except ImportError:
        raise UsageError(f"schemathesis is not installed: {install_hint()}") from None

    include = list(dict.fromkeys(include)) if include else None
    base = api_base_url(base_url, contract)
    spec = _spec(contract)
    operations = spec_operations(spec)
    unknown = [name for name in include or [] if name not in operations]
    if unknown:
        raise UsageError(f"unknown operation id {', '.join(unknown)}; the spec has: {', '.join(sorted(operations))}")
    config = config_file()
    junit_path = None
    if junit_xml is not None:
        junit_path = Path(junit_xml).resolve()
        try:
            junit_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot write the JUnit report to {junit_path}: {exc.strerror or exc}") from None
    preflight(base, access_key, secret_key, contract)

    _TARGET.base_url = base
    _TARGET.contract = contract.name
    _TARGET.keys = {"accessKey": access_key, "secretKey": secret_key}
    _TARGET.operation_ids = {label: operation_id for operation_id, label in operations.items()}
    _TARGET.failures = {}
    _TARGET.token_errors = set()
    _register_once()

    # schemathesis.toml without the tables of the other contract's operations.
    with tempfile.TemporaryDirectory(prefix="klavi-mock-check-") as folder:
        notes: list[str] = []
        args = [
            "--config-file",
            str(config_for(config, operations, Path(folder))),
            "run",
            str(spec_file(contract)),
            "--url",
            base,
            "--max-examples",
            str(max_examples),
            "--workers",
            str(workers),
        ]
        for operation_id in include or []:
            args += ["--include-operation-id", operation_id]
        if include and not any(source in include and target in include for source, target in spec_links(spec)):
            # The stateful phase follows links; with none between the chosen operations it has nothing to do.
            args += ["--phases", "examples,coverage,fuzzing"]
            notes.append("no OpenAPI link joins the included operations: no stateful phase")
        if junit_path is not None:
            args += ["--report", "junit", "--report-junit-path", str(junit_path)]

        print(
            f"klavi-mock check: {spec_file(contract)} against {base} "
            f"({len(include) if include else len(operations)} operations, up to {max_examples} examples each)",
            flush=True,
        )
        for note in notes:
            print(f"klavi-mock check: {note}", flush=True)
        try:
            schemathesis.cli.schemathesis.main(args=args, prog_name="klavi-mock check", standalone_mode=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    summary = _summary()
    if summary:
        print(summary, flush=True)
    if code == 0 and summary:
        code = 1
    print(f"klavi-mock check: {'passed' if code == 0 else 'FAILED'} (exit code {code})", flush=True)
    return code
