"""Settings: flags, then KLAVI_MOCK_* environment variables, then an optional config file.

Tenants are the partners the mock knows: each has the accessKey and secretKey it logs in
with and an app id (Klavi's partnerAppId). With no configuration there is one sandbox
tenant, so the mock works out of the box.

A config file (YAML or JSON) looks like:

    tenants:
      - appId: acme
        accessKey: acme-access
        secretKey: acme-secret
        eventsUrl: http://127.0.0.1:9000/klavi/events     # optional
        productsCallbackURL: http://127.0.0.1:9000/reports  # optional
        forFi: false                                       # optional
        displayName: ACME Crédito                          # optional, shown on the bank pages
        webhookChaos: {duplicate: 0.2, seed: 7}            # optional, see webhooks/chaos.py
        reportDelivery: automatic                          # optional: on-request (default), automatic, manual
        activatedProducts: [pf_checking_account, pf_credit_card]  # optional; default every product
        encryptSensitiveFields: true                       # optional: "CPF encoded" reports
    faults:                                                # optional: fault rules (README, "Faults on demand")
      - {operationId: createConsent, status: 429, retryAfterSeconds: 2, times: 1}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator

from klavi_mock.domain.reports import PRODUCTS
from klavi_mock.domain.tenants import REPORT_DELIVERY, Tenant
from klavi_mock.errors import ConfigError
from klavi_mock.qa.faults import RuleError, parse_rule
from klavi_mock.webhooks.chaos import SCHEMA as CHAOS_SCHEMA

DEFAULT_TENANT = {
    "appId": "sandbox-app",
    "accessKey": "sandbox-access-key",
    "secretKey": "sandbox-secret-key",
    "displayName": "Parceiro Sandbox",
}

_TENANT_SCHEMA = {
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
    },
}
_FILE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "tenants": {"type": "array", "minItems": 1, "items": _TENANT_SCHEMA},
        "tokenSecret": {"type": "string", "minLength": 16},
        "strictTaxIds": {"type": "boolean"},
        "faults": {"type": "array", "maxItems": 100, "items": {"type": "object"}},  # each checked by faults.parse_rule
        "webhookConcurrency": {"type": "integer", "minimum": 1, "maximum": 64},
        "webhookRetention": {"type": "integer", "minimum": 0},
        "journalSize": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
    },
}


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    tenants: list[Tenant] = field(default_factory=lambda: [_tenant(DEFAULT_TENANT)])
    # Signs the JWTs. None: the state file's, or random per process (tokens then die with it).
    token_secret: str | None = None
    # The address clients reach the mock at, for the URLs it hands out (linkURL, bank
    # pages). None: take it from each request's Host header.
    public_url: str | None = None
    # Validate every response against the spec and fail loudly on a mismatch (tests).
    strict: bool = False
    # Requests with a bigger body get 413 (a sandbox has no use for more; it keeps a runaway
    # client from filling the mock's memory).
    max_body_bytes: int = 1_048_576
    # When set, the control API (/__mock) wants it in X-Mock-Admin-Token. Required when the
    # mock listens beyond loopback: anyone who reaches it could steer it.
    admin_token: str | None = None
    # SQLite file the state is kept in, so it survives a restart. None: in memory only.
    state_file: str | None = None
    # Host names the control API answers to besides loopback names, the bind address and
    # the public URL's host (e.g. a docker-compose service name). See web_security.py.
    allowed_hosts: tuple[str, ...] = ()
    # Refuse (400) CPFs and CNPJs whose check digits are wrong. Off by default: they are
    # accepted and reported as tolerated deviations, since Klavi's own examples fail them.
    strict_tax_ids: bool = False
    # Fault rules from the config file (as written; klavi_mock/qa/faults/rules.py checks them).
    faults: tuple[dict, ...] = ()
    # Attempts under way at once to one webhook URL. Deliveries with the same ordering key
    # (one consent, one link, one report request) always go one at a time, in order; 1
    # sends everything to a URL one at a time, in creation order (strict per-URL order).
    webhook_concurrency: int = 8
    # Delivered deliveries kept in the log (with their bodies); older delivered ones are
    # forgotten. Pending, failed and undeliverable ones are always kept.
    webhook_retention: int = 5000
    # How many Klavi API requests the request journal keeps (GET /__mock/requests); the
    # oldest go first.
    journal_size: int = 1000


def _tenant(raw: Mapping[str, Any]) -> Tenant:
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
    )


def _check(data: Any, schema: dict, where: str) -> None:
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        problems = "; ".join(f"{'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in errors[:5])
        raise ConfigError(f"{where}: {problems}")


def parse_config(data: Any, where: str) -> dict[str, Any]:
    """Check a config document and turn it into Settings keyword arguments."""
    _check(data, _FILE_SCHEMA, where)
    values: dict[str, Any] = {}
    if "tenants" in data:
        tenants = [_tenant(t) for t in data["tenants"]]
        for attribute, label in (("app_id", "appId"), ("access_key", "accessKey")):
            seen = [getattr(t, attribute) for t in tenants]
            duplicates = sorted({v for v in seen if seen.count(v) > 1})
            if duplicates:
                raise ConfigError(f"{where}: tenants share the {label} {', '.join(duplicates)}; each must be unique")
        values["tenants"] = tenants
    if "tokenSecret" in data:
        values["token_secret"] = data["tokenSecret"]
    if "strictTaxIds" in data:
        values["strict_tax_ids"] = data["strictTaxIds"]
    if "faults" in data:
        values["faults"] = _fault_rules(data["faults"], where)
    for key, attribute in (("webhookConcurrency", "webhook_concurrency"), ("webhookRetention", "webhook_retention")):
        if key in data:
            values[attribute] = data[key]
    if "journalSize" in data:
        values["journal_size"] = data["journalSize"]
    return values


def _fault_rules(rules: list, where: str) -> tuple[dict, ...]:

    for number, raw in enumerate(rules):
        try:
            parse_rule(raw, f"faults[{number}]", source="config")
        except RuleError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return tuple(rules)


def load_config_file(path: str | os.PathLike) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text) if file.suffix in (".yaml", ".yml") else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"config file {file} is not valid {file.suffix.lstrip('.').upper() or 'JSON'}: {exc}"
        ) from exc
    return parse_config(data or {}, str(file))


def settings_from_environment(environ: Mapping[str, str] = os.environ, **overrides: Any) -> Settings:
    """KLAVI_MOCK_CONFIG (a file), KLAVI_MOCK_TENANTS (JSON list), KLAVI_MOCK_PUBLIC_URL,
    KLAVI_MOCK_TOKEN_SECRET, KLAVI_MOCK_ADMIN_TOKEN, KLAVI_MOCK_MAX_BODY_BYTES,
    KLAVI_MOCK_STATE_FILE, KLAVI_MOCK_STRICT_TAX_IDS (1/true), KLAVI_MOCK_WEBHOOK_CONCURRENCY,
    KLAVI_MOCK_WEBHOOK_RETENTION, KLAVI_MOCK_JOURNAL_SIZE; explicit keyword overrides (from flags) win."""
    values: dict[str, Any] = {}
    if environ.get("KLAVI_MOCK_CONFIG"):
        values.update(load_config_file(environ["KLAVI_MOCK_CONFIG"]))
    if environ.get("KLAVI_MOCK_TENANTS"):
        try:
            tenants = json.loads(environ["KLAVI_MOCK_TENANTS"])
        except json.JSONDecodeError as exc:
            raise ConfigError(f"KLAVI_MOCK_TENANTS is not valid JSON: {exc}") from exc
        values.update(parse_config({"tenants": tenants}, "KLAVI_MOCK_TENANTS"))
    if environ.get("KLAVI_MOCK_PUBLIC_URL"):
        values["public_url"] = environ["KLAVI_MOCK_PUBLIC_URL"]
    if environ.get("KLAVI_MOCK_TOKEN_SECRET"):
        values["token_secret"] = environ["KLAVI_MOCK_TOKEN_SECRET"]
    if environ.get("KLAVI_MOCK_ADMIN_TOKEN"):
        values["admin_token"] = environ["KLAVI_MOCK_ADMIN_TOKEN"]
    if environ.get("KLAVI_MOCK_STATE_FILE"):
        values["state_file"] = environ["KLAVI_MOCK_STATE_FILE"]
    if environ.get("KLAVI_MOCK_STRICT_TAX_IDS"):
        flag = environ["KLAVI_MOCK_STRICT_TAX_IDS"].strip().lower()
        if flag not in ("1", "true", "yes", "0", "false", "no"):
            raise ConfigError("KLAVI_MOCK_STRICT_TAX_IDS must be 1/true/yes or 0/false/no")
        values["strict_tax_ids"] = flag in ("1", "true", "yes")
    for name, attribute, what in (
        ("KLAVI_MOCK_MAX_BODY_BYTES", "max_body_bytes", "a number of bytes"),
        ("KLAVI_MOCK_WEBHOOK_CONCURRENCY", "webhook_concurrency", "a whole number"),
        ("KLAVI_MOCK_WEBHOOK_RETENTION", "webhook_retention", "a whole number"),
        ("KLAVI_MOCK_JOURNAL_SIZE", "journal_size", "a number of requests"),
    ):
        if environ.get(name):
            try:
                values[attribute] = int(environ[name])
            except ValueError:
                raise ConfigError(f"{name} must be {what}") from None
    if environ.get("KLAVI_MOCK_ALLOW_HOSTS"):
        values["allowed_hosts"] = tuple(h.strip() for h in environ["KLAVI_MOCK_ALLOW_HOSTS"].split(",") if h.strip())
    if "KLAVI_MOCK_ADMIN_TOKEN" in environ and not environ["KLAVI_MOCK_ADMIN_TOKEN"].strip():
        raise ConfigError("KLAVI_MOCK_ADMIN_TOKEN is set but empty; give a token, or unset it")
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)
    check_settings(settings)
    return settings


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in value)


def check_settings(settings: Settings) -> None:
    """Refuse what cannot work, each in one line (the CLI exits 2 with it)."""
    if not 1 <= settings.port <= 65535:
        raise ConfigError(f"--port {settings.port}: a port is a number from 1 to 65535")
    if settings.max_body_bytes < 1:
        raise ConfigError(
            f"--max-body-bytes {settings.max_body_bytes}: give a number of bytes of at least 1 (default 1048576)"
        )
    if not 1 <= settings.webhook_concurrency <= 64:
        raise ConfigError(
            f"--webhook-concurrency {settings.webhook_concurrency}: give 1 (strict per-URL order) to 64 (default 8)"
        )
    if settings.webhook_retention < 0:
        raise ConfigError(
            f"--webhook-retention {settings.webhook_retention}: give a number of deliveries, 0 or more (default 5000)"
        )
    if not 1 <= settings.journal_size <= 1_000_000:
        raise ConfigError(
            f"--journal-size {settings.journal_size}: give a number of requests from 1 to 1000000 (default 1000)"
        )
    if settings.admin_token is not None and not settings.admin_token.strip():
        raise ConfigError("--admin-token is empty; give a token, or leave the flag out")
    if settings.public_url is not None and not is_http_url(settings.public_url):
        raise ConfigError(f"--public-url {settings.public_url!r} is not an http(s) URL, e.g. http://mock.internal:8080")
    for tenant in settings.tenants:
        urls = {"eventsUrl": tenant.events_url}
        callbacks = tenant.products_callback_url
        if isinstance(callbacks, dict):
            urls.update({f"productsCallbackURL.{key}": url for key, url in callbacks.items()})
        else:
            urls["productsCallbackURL"] = callbacks
        for where, url in urls.items():
            if url is not None and not (isinstance(url, str) and is_http_url(url)):
                raise ConfigError(
                    f"tenant {tenant.app_id}: {where} {url!r} is not an http(s) URL, "
                    "e.g. http://127.0.0.1:9000/klavi/events"
                )


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def check_exposure(settings: Settings) -> None:
    """Refuse to expose the control API beyond loopback without a token."""
    if not is_loopback(settings.host) and not settings.admin_token:
        raise ConfigError(
            f"listening on {settings.host} lets anyone who reaches it steer the mock through /__mock; "
            "give --admin-token TOKEN (or KLAVI_MOCK_ADMIN_TOKEN) and send it as X-Mock-Admin-Token"
        )
