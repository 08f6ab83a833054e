"""The options of `klavi-mock serve`, in one table (OPTIONS, at the end).

Each option is written once: the Settings attribute it sets, its flag, its KLAVI_MOCK_*
variable, its config-file key, how a value is read and checked, its default and one line
of help. From the table come the flags (add_flags, from_flags), the environment
(from_environment), the config file's keys (from_file), Settings' defaults (config.py)
and the docs' option table, docs/reference/options.md (markdown_table; tools/docs_reference.py writes it).

Precedence, option by option: a flag, else its variable, else the config file, else the
default. config.py puts the sources together; this module only reads each one.
"""

from __future__ import annotations

import argparse
import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator

from klavi_mock.domain.reports import PRODUCTS
from klavi_mock.domain.tenants import REPORT_DELIVERY, Tenant
from klavi_mock.errors import ConfigError
from klavi_mock.qa.faults import RuleError, parse_rule
from klavi_mock.webhooks.chaos import SCHEMA as CHAOS_SCHEMA

FLAG, ENV, FILE = "flag", "environment", "config file"

# -- kinds of value ----------------------------------------------------------------------------
#
# A kind reads a value in two forms: the text of a flag or a variable (`decode` turns it into
# what a config file would hold), and config-file data (`load` checks it and turns it into the
# Settings value). `check` checks a Settings value however it was made (config.check_settings).
# A problem is a ValueError whose message reads on from the option's name and source:
# "--port" + " 99999: a port is a number from 1 to 65535".


class Kind:
    describe = "text"  # the option table's "Value" column and the help's fix

    def decode(self, text: str) -> Any:
        return text

    def load(self, data: Any) -> Any:
        self.check(data)
        return data

    def check(self, value: Any) -> None:
        pass

    def show(self, value: Any) -> str:
        return str(value)


@dataclass(frozen=True)
class Text(Kind):
    describe: str = "text"
    min_length: int = 1

    def load(self, data: Any) -> Any:
        if not isinstance(data, str):
            raise ValueError(f" {data!r}: give {self.describe}")
        self.check(data)
        return data

    def check(self, value: Any) -> None:
        # The value is not echoed: it may be a secret.
        if not value.strip():
            raise ValueError(f" is empty; give {self.describe}, or leave it out")
        if len(value) < self.min_length:
            raise ValueError(f" has {len(value)} characters; give at least {self.min_length}")


@dataclass(frozen=True)
class Integer(Kind):
    low: int
    high: int | None
    fix: str  # what to give, e.g. "a port is a number from 1 to 65535"

    @property
    def describe(self) -> str:  # type: ignore[override]
        return (
            f"whole number, {self.low} to {self.high}" if self.high is not None else f"whole number, {self.low} or more"
        )

    def decode(self, text: str) -> Any:
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError(f" {text!r}: {self.fix}") from None

    def load(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int):
            raise ValueError(f" {data!r}: {self.fix}")
        self.check(data)
        return data

    def check(self, value: Any) -> None:
        if value < self.low or (self.high is not None and value > self.high):
            raise ValueError(f" {value}: {self.fix}")


_WORDS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


@dataclass(frozen=True)
class Boolean(Kind):
    describe: str = "true or false (as text also 1/yes, 0/no)"

    def decode(self, text: str) -> Any:
        try:
            return _WORDS[text.strip().lower()]
        except KeyError:
            raise ValueError(f" {text!r}: give 1/true/yes or 0/false/no") from None

    def load(self, data: Any) -> Any:
        if not isinstance(data, bool):
            raise ValueError(f" {data!r}: give true or false")
        return data

    def show(self, value: Any) -> str:
        return "true" if value else "false"


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in value)


@dataclass(frozen=True)
class Url(Kind):
    describe: str = "http(s) URL"
    example: str = "http://mock.internal:8080"

    def check(self, value: Any) -> None:
        if not (isinstance(value, str) and is_http_url(value)):
            raise ValueError(f" {value!r} is not an http(s) URL, e.g. {self.example}")


@dataclass(frozen=True)
class Choice(Kind):
    choices: tuple[str, ...]

    @property
    def describe(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.choices)

    def decode(self, text: str) -> Any:
        return text.strip().lower()

    def check(self, value: Any) -> None:
        if value not in self.choices:
            raise ValueError(f" {value!r}: give one of {', '.join(self.choices)}")


@dataclass(frozen=True)
class Names(Kind):
    """Host names: a comma list in text (and a repeatable flag), a list in a config file."""

    describe: str = "names, comma-separated (a list in the config file)"

    def decode(self, text: str) -> Any:
        return [name.strip() for name in text.split(",") if name.strip()]

    def load(self, data: Any) -> Any:
        if not isinstance(data, (list, tuple)):
            raise ValueError(f" {data!r}: give a list of host names, e.g. [mock, mock.internal]")
        self.check(data)
        return tuple(data)

    def check(self, value: Any) -> None:
        for name in value:
            if not isinstance(name, str) or not name or any(c.isspace() or c in "/:" for c in name):
                raise ValueError(f" {name!r}: give host names (no scheme, port or spaces), e.g. mock.internal")

    def show(self, value: Any) -> str:
        return ",".join(value)


DEFAULT_TENANT = {
    "appId": "sandbox-app",
    "accessKey": "sandbox-access-key",
    "secretKey": "sandbox-secret-key",
    "displayName": "Parceiro Sandbox",
    "partner": "sandbox-partner",
}

TENANT_SCHEMA = {
    "type": "object",
    "required": ["appId", "accessKey", "secretKey"],
    "additionalProperties": False,
    "properties": {
        "appId": {"type": "string", "minLength": 1, "maxLength": 64},
        "accessKey": {"type": "string", "minLength": 1, "maxLength": 256},
        "secretKey": {"type": "string", "minLength": 1, "maxLength": 256},
        "eventsUrl": {"type": ["string", "null"]},
        "productsCallbackURL": {"type": ["string", "object", "null"]},
        "forFi": {"type": "boolean"},
        "displayName": {"type": "string", "maxLength": 80},
        "webhookChaos": CHAOS_SCHEMA,
        "reportDelivery": {"enum": list(REPORT_DELIVERY)},
        "activatedProducts": {"type": "array", "items": {"enum": sorted(PRODUCTS)}, "uniqueItems": True},
        "encryptSensitiveFields": {"type": "boolean"},
        "trackingEvents": {"type": "boolean"},
        "partner": {"type": "string", "minLength": 1, "maxLength": 64},
        "paymentsUrl": {"type": ["string", "null"]},
    },
}
_TENANTS = Draft202012Validator({"type": "array", "minItems": 1, "items": TENANT_SCHEMA})


def tenant(raw: Mapping[str, Any]) -> Tenant:
    return Tenant(
        app_id=raw["appId"],
        access_key=raw["accessKey"],
        secret_key=raw["secretKey"],
        events_url=raw.get("eventsUrl"),
        products_callback_url=raw.get("productsCallbackURL"),
        for_fi=raw.get("forFi", False),
        display_name=raw.get("displayName"),
        webhook_chaos=raw.get("webhookChaos"),
        report_delivery=raw.get("reportDelivery", "on-request"),
        activated_products=tuple(raw["activatedProducts"]) if raw.get("activatedProducts") is not None else None,
        encrypt_sensitive_fields=raw.get("encryptSensitiveFields", False),
        tracking_events=raw.get("trackingEvents", True),
        partner=raw.get("partner"),
        payments_url=raw.get("paymentsUrl"),
    )


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f" is not valid JSON: {exc}") from None


@dataclass(frozen=True)
class Tenants(Kind):
    describe: str = "list of tenants (JSON in the variable)"

    def decode(self, text: str) -> Any:
        return _json(text)

    def load(self, data: Any) -> Any:
        errors = sorted(_TENANTS.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            raise ValueError("; ".join(f"{''.join(f'.{p}' for p in e.absolute_path)}: {e.message}" for e in errors[:5]))
        tenants = [tenant(raw) for raw in data]
        for attribute, label in (("app_id", "appId"), ("access_key", "accessKey")):
            seen = [getattr(t, attribute) for t in tenants]
            duplicates = sorted({v for v in seen if seen.count(v) > 1})
            if duplicates:
                raise ValueError(f" share the {label} {', '.join(duplicates)}; each must be unique")
        self.check(tenants)
        return tenants

    def check(self, value: Any) -> None:
        for one in value:
            urls = {"eventsUrl": one.events_url, "paymentsUrl": one.payments_url}
            callbacks = one.products_callback_url
            if isinstance(callbacks, dict):
                urls.update({f"productsCallbackURL.{key}": url for key, url in callbacks.items()})
            else:
                urls["productsCallbackURL"] = callbacks
            for where, url in urls.items():
                if url is not None and not (isinstance(url, str) and is_http_url(url)):
                    raise ValueError(
                        f": tenant {one.app_id}: {where} {url!r} is not an http(s) URL, "
                        "e.g. http://127.0.0.1:9000/klavi/events"
                    )


@dataclass(frozen=True)
class Faults(Kind):
    describe: str = "list of fault rules"

    def decode(self, text: str) -> Any:
        return _json(text)

    def load(self, data: Any) -> Any:
        if not isinstance(data, (list, tuple)) or len(data) > 100:
            raise ValueError(": give a list of at most 100 fault rules (docs/reference/faults.md)")
        self.check(data)
        return tuple(data)

    def check(self, value: Any) -> None:
        # The control API's own check (qa/faults/rules.py), so the file and the API take the same rules.
        for number, raw in enumerate(value):
            try:
                parse_rule(raw, f"[{number}]", source="config")
            except RuleError as exc:
                raise ValueError(str(exc)) from None


# -- the table -------------------------------------------------------------------------------


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


@dataclass(frozen=True)
class Option:
    name: str  # the Settings attribute (but "config", which names the file)
    kind: Kind
    default: Any  # as a config file holds it; None: unset
    help: str
    # Two values in text form, for the precedence test: the second differs from the default, the first from the second.
    examples: tuple[str, str]
    # "" derives the name (--journal-size, KLAVI_MOCK_JOURNAL_SIZE, journalSize); None: not in that source.
    flag: str | None = ""
    env: str | None = ""
    key: str | None = ""
    metavar: str | None = None
    default_text: str | None = None  # the option table's words for the default when the value says too little
    setting: bool = True  # False: not a Settings attribute (--config)
    sources: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        derived = {
            "flag": "--" + self.name.replace("_", "-"),
            "env": "KLAVI_MOCK_" + self.name.upper(),
            "key": _camel(self.name),
        }
        for attribute, name in derived.items():
            if getattr(self, attribute) == "":
                object.__setattr__(self, attribute, name)
        given = (FLAG, self.flag), (ENV, self.env), (FILE, self.key)
        object.__setattr__(self, "sources", tuple(source for source, name in given if name))

    @property
    def repeatable(self) -> bool:
        return isinstance(self.kind, Names)

    def default_value(self) -> Any:
        """The Settings default (a fresh one each time: tenants are objects)."""
        return None if self.default is None else self.kind.load(self.default)

    def shown_default(self) -> str:
        if self.default_text is not None:
            return self.default_text
        return "none" if self.default is None else self.kind.show(self.default)

    def read(self, data: Any, where: str) -> Any:
        """The Settings value of config-file data (or decoded text), or a ConfigError naming `where`."""
        try:
            return self.kind.load(data)
        except ValueError as exc:
            raise ConfigError(self.problem(where, str(exc))) from None

    def read_text(self, text: str, where: str) -> Any:
        try:
            data = self.kind.decode(text)
        except ValueError as exc:
            raise ConfigError(self.problem(where, str(exc))) from None
        return self.read(data, where)

    def problem(self, where: str, tail: str) -> str:
        scalar = self.default is not None and not isinstance(self.default, (list, tuple, dict))
        return f"{where}{tail}" + (f" (default {self.shown_default()})" if scalar else "")

    def argv(self, text: str) -> list[str]:
        """The command line that gives this option `text` (a boolean is --x or --no-x)."""
        assert self.flag is not None
        if isinstance(self.kind, Boolean):
            return [self.flag if self.kind.decode(text) else "--no-" + self.flag[2:]]
        return [self.flag, text]


_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

# Option(name, kind, default, help, examples, ...); the order is --help's and the docs' table's.
OPTIONS: tuple[Option, ...] = (
    Option(
        "config",
        Text("a file name"),
        None,
        "a YAML or JSON file of settings: tenants, fault rules, any option's key; flags and variables still win over it",
        ("a.yaml", "b.yaml"),
        key=None,
        metavar="FILE",
        setting=False,
    ),
    Option(
        "host",
        Text("an address, e.g. 0.0.0.0"),
        "127.0.0.1",
        "address to listen on; beyond loopback the admin token is required",
        ("127.0.0.2", "127.0.0.3"),
        metavar="ADDRESS",
    ),
    Option(
        "port",
        Integer(0, 65535, "a port is a number from 0 (any free port) to 65535"),
        8080,
        "port to listen on; 0 takes a free port, which the banner names",
        ("8081", "8082"),
        metavar="N",
    ),
    Option(
        "public_url",
        Url(),
        None,
        "the address clients reach the mock at, for the URLs it hands out (linkURL, bank pages)",
        ("http://a.example:8080", "http://b.example:8080"),
        metavar="URL",
        default_text="each request's Host",
    ),
    Option(
        "admin_token",
        Text("a token"),
        None,
        "the control API (/__mock) then wants this token in X-Mock-Admin-Token; required when the host is not loopback",
        ("admin-token-a", "admin-token-b"),
        metavar="TOKEN",
        default_text="no token (loopback only)",
    ),
    Option(
        "token_secret",
        Text("a secret of at least 16 characters", min_length=16),
        None,
        "signs the JWTs, so tokens stay valid across restarts",
        ("secret-a-0123456789abcdef", "secret-b-0123456789abcdef"),
        metavar="SECRET",
        default_text="the state file's, else random per process",
    ),
    Option(
        "max_body_bytes",
        Integer(1, None, "give a number of bytes of at least 1"),
        1_048_576,
        "a request body of more bytes gets 413 in Klavi's error shape",
        ("2048", "4096"),
        metavar="N",
    ),
    Option(
        "state_file",
        Text("a file name"),
        None,
        "keep the state in this SQLite file, so it survives a restart",
        ("a.sqlite", "b.sqlite"),
        metavar="FILE",
        default_text="in memory",
    ),
    Option(
        "database_url",
        Text("a PostgreSQL URL, e.g. postgresql://mock:secret@db:5432/klavi"),
        None,
        "keep the state in this PostgreSQL database, shared by every mock process that names it "
        "(a team sandbox; needs klavi-mock[postgres])",
        ("postgresql://mock@db-a/klavi", "postgresql://mock@db-b/klavi"),
        metavar="URL",
        default_text="in memory",
    ),
    Option(
        "workers",
        Integer(1, 64, "give a number of processes from 1 to 64"),
        1,
        "processes serving on the one port (more than 1 needs --database-url: they share its state)",
        ("2", "3"),
        metavar="N",
    ),
    Option(
        "allowed_hosts",
        Names(),
        [],
        "Host names the control API also answers to, e.g. a docker-compose service name",
        ("a.example", "b.example,c.example"),
        flag="--allow-host",
        env="KLAVI_MOCK_ALLOW_HOSTS",
        key="allowHosts",
        metavar="NAME",
        default_text="loopback names, the bind address, the public URL's host",
    ),
    Option(
        "strict_tax_ids",
        Boolean(),
        False,
        "refuse (400) CPFs and CNPJs with wrong check digits, instead of reporting them as tolerated deviations",
        ("false", "true"),
    ),
    Option(
        "webhook_concurrency",
        Integer(1, 64, "give 1 (strict per-URL order) to 64"),
        8,
        "webhook attempts at once per URL (1: strict per-URL order); one consent's, link's or request's go in order",
        ("2", "1"),
        metavar="N",
    ),
    Option(
        "webhook_retention",
        Integer(0, None, "give a number of deliveries, 0 or more"),
        5000,
        "delivered webhooks kept in the log with their bodies",
        ("10", "0"),
        metavar="N",
    ),
    Option(
        "journal_size",
        Integer(1, 1_000_000, "give a number of requests from 1 to 1000000"),
        1000,
        "how many Klavi API requests the request journal (GET /__mock/requests) keeps",
        ("20", "30"),
        metavar="N",
    ),
    Option(
        "log_level",
        Choice(_LOG_LEVELS),
        "info",
        "the server log's level",
        ("debug", "warning"),
        metavar="LEVEL",
    ),
    Option(
        "access_log",
        Boolean(),
        True,
        "log each request",
        ("true", "false"),
    ),
    Option(
        "log_format",
        Choice(("text", "json")),
        "text",
        "the server log's format: text for people, json for machines (one object a line); tokens masked in both",
        ("text", "json"),
        metavar="FORMAT",
    ),
    Option(
        "tenants",
        Tenants(),
        [DEFAULT_TENANT],
        "the partners the mock knows, their keys and webhook URLs (docs/reference/configuration.md)",
        (
            '[{"appId": "a", "accessKey": "ka", "secretKey": "sa"}]',
            '[{"appId": "b", "accessKey": "kb", "secretKey": "sb"}]',
        ),
        flag=None,
        default_text="one sandbox tenant, sandbox-app",
    ),
    Option(
        "faults",
        Faults(),
        [],
        "fault rules, as POST /__mock/faults takes them (docs/reference/faults.md)",
        ('[{"status": 500}]', '[{"status": 503, "times": 1}]'),
        flag=None,
        env=None,
        default_text="none",
    ),
)

OPTION = {option.name: option for option in OPTIONS}
BY_KEY = {option.key: option for option in OPTIONS if option.key}


# -- reading each source ---------------------------------------------------------------------


def add_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of `klavi-mock serve`. Each is read as text (None when absent), so a bad
    value is one ConfigError line like any other source's, not argparse's usage text."""
    for option in OPTIONS:
        if option.flag is None:
            continue
        also = ", ".join(
            name for name in (option.env, f"{option.key} in the config file" if option.key else None) if name
        )
        what = "" if isinstance(option.kind, Boolean) else f"{option.kind.describe}; "
        help = f"{option.help} ({what}default: {option.shown_default()}; also {also})".replace("%", "%%")
        if isinstance(option.kind, Boolean):
            parser.add_argument(option.flag, dest=option.name, action=argparse.BooleanOptionalAction, help=help)
        else:
            action = "append" if option.repeatable else "store"
            parser.add_argument(option.flag, dest=option.name, action=action, metavar=option.metavar, help=help)


def from_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The options given as flags, by name, read and checked."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        flag = option.flag
        given = getattr(args, option.name, None) if flag else None
        if flag is None or given is None:
            continue
        if isinstance(given, bool):  # BooleanOptionalAction has read it
            values[option.name] = given
        elif isinstance(given, list):  # a repeatable flag: every value, each may be a comma list
            names = [name for text in given for name in option.kind.decode(text)]
            values[option.name] = option.read(names, flag)
        else:
            values[option.name] = option.read_text(given, flag)
    return values


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The options given as KLAVI_MOCK_* variables, by name, read and checked. An empty
    variable counts as unset (docker-compose writes `NAME=` for one it passes through), but
    an empty admin token is refused: whoever set it meant to guard the control API."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        name = option.env
        text = environ.get(name) if name else None
        if name is None or text is None:
            continue
        if not text.strip():
            if option.name == "admin_token":
                raise ConfigError(f"{name} is set but empty; give a token, or unset it")
            continue
        values[option.name] = option.read_text(text, name)
    return values


def from_file(data: Any, where: str) -> dict[str, Any]:
    """The options a config document gives, by name, read and checked; errors name
    `where` (the file) and the key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the file holds a {type(data).__name__}; write keys and values, e.g. port: 8080")
    values: dict[str, Any] = {}
    for key, raw in data.items():
        option = BY_KEY.get(key)
        if option is None:
            near = difflib.get_close_matches(str(key), BY_KEY, n=1)
            hint = f"did you mean {near[0]}? " if near else ""
            raise ConfigError(f"{where}: unknown key {key!r}; {hint}the keys are {', '.join(BY_KEY)}")
        if raw is None:
            raise ConfigError(f"{where}: {key} is empty; give a value, or remove the key")
        values[option.name] = option.read(raw, f"{where}: {key}")
    return values


# -- docs -------------------------------------------------------------------------------------


def _cell(name: str | None) -> str:
    return f"`{name}`" if name else "—"


def markdown_table(options: Sequence[Option] = OPTIONS) -> str:
    """The option table of docs/reference/options.md (tools/docs_reference.py writes it between its markers)."""
    rows = [
        "| Flag | Environment variable | Config file key | Value | Default | What it does |",
        "|---|---|---|---|---|---|",
    ]
    for option in options:
        if option.flag is None:
            flag = "—"
        elif isinstance(option.kind, Boolean):
            flag = f"`{option.flag}`, `--no-{option.flag[2:]}`"
        else:
            flag = f"`{option.flag} {option.metavar}`" + (" (repeatable)" if option.repeatable else "")
        rows.append(
            f"| {flag} | {_cell(option.env)} | {_cell(option.key)} | {option.kind.describe} "
            f"| {option.shown_default()} | {option.help} |"
        )
    return "\n".join(rows) + "\n"


README_BEGIN = "<!-- options: written by tools/docs_reference.py from klavi_mock/options.py; edit those, not this -->"
README_END = "<!-- /options -->"


def with_markdown_table(readme: str) -> str:
    """`readme` with the text between its option-table markers replaced by markdown_table()."""
    head, begin, rest = readme.partition(README_BEGIN)
    _, end, tail = rest.partition(README_END)
    if not (begin and end):
        raise ValueError(f"README has no {README_BEGIN} ... {README_END} markers")
    return f"{head}{README_BEGIN}\n\n{markdown_table()}\n{README_END}{tail}"
