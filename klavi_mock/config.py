"""Settings: what `klavi-mock serve` runs with.

Every option (its flag, KLAVI_MOCK_* variable, config-file key, check, default and help) is
one row of the table in options.py; this module puts the sources together. Precedence, for
every option: a flag, else its KLAVI_MOCK_* variable, else the config file, else the default.
The config file is the one `--config FILE` names, else the one `KLAVI_MOCK_CONFIG` names:
either only says which file; neither changes the order.

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
        trackingEvents: false                              # optional: page events to eventsUrl (default true)
        partner: acme-group                                # optional: apps of one partner share consents for reports
        paymentsUrl: http://127.0.0.1:9000/klavi/payments  # optional: payment events (default: eventsUrl)
    faults:                                                # optional: fault rules (docs/reference/faults.md)
      - {operationId: createConsent, status: 429, retryAfterSeconds: 2, times: 1}
    webhookConcurrency: 4                                  # optional: any option's key (docs/reference/options.md)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from klavi_mock.domain.tenants import Tenant
from klavi_mock.errors import ConfigError
from klavi_mock.options import DEFAULT_TENANT, OPTION, OPTIONS, from_environment, from_file, is_http_url

__all__ = [
    "DEFAULT_TENANT",
    "ConfigError",
    "Settings",
    "Tenant",
    "check_exposure",
    "check_settings",
    "check_storage",
    "is_http_url",
    "is_loopback",
    "load_config_file",
    "parse_config",
    "settings_from",
    "settings_from_environment",
]


def _default(name: str) -> Any:
    return OPTION[name].default_value()


@dataclass
class Settings:
    """What the mock runs with. Each field but `strict` and `report_process` is an option of
    `klavi-mock serve`: its meaning, sources and default are its row in options.OPTIONS."""

    host: str = _default("host")
    port: int = _default("port")
    tenants: list[Tenant] = field(default_factory=lambda: _default("tenants"))
    token_secret: str | None = _default("token_secret")
    public_url: str | None = _default("public_url")
    # Validate every response against the spec and fail loudly on a mismatch (tests; not an option).
    strict: bool = False
    # Build reports in a child process at a lower priority (sandbox/report_builder.py): `serve`
    # sets it; in-process apps build them on a thread. Not an option.
    report_process: bool = False
    max_body_bytes: int = _default("max_body_bytes")
    admin_token: str | None = _default("admin_token")
    state_file: str | None = _default("state_file")
    database_url: str | None = _default("database_url")
    workers: int = _default("workers")
    allowed_hosts: tuple[str, ...] = _default("allowed_hosts")
    strict_tax_ids: bool = _default("strict_tax_ids")
    faults: tuple[dict, ...] = _default("faults")  # as written; klavi_mock/qa/faults/rules.py builds them
    webhook_concurrency: int = _default("webhook_concurrency")
    webhook_retention: int = _default("webhook_retention")
    journal_size: int = _default("journal_size")
    log_level: str = _default("log_level")
    access_log: bool = _default("access_log")
    log_format: str = _default("log_format")


def parse_config(data: Any, where: str) -> dict[str, Any]:
    """Check a config document and turn it into Settings keyword arguments."""
    return from_file(data, where)


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


def settings_from(flags: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> Settings:
    """Settings from flag values (options.from_flags, by option name) and the environment:
    for each option the flag, else the KLAVI_MOCK_* variable, else the config file, else the
    default. The config file is the flags' `config`, else KLAVI_MOCK_CONFIG's. Every value
    given is checked, including one a higher source overrides: a mistake is a mistake."""
    flag_values = {name: value for name, value in flags.items() if value is not None}
    env_values = from_environment(environ)
    config = flag_values.pop("config", None)
    env_config = env_values.pop("config", None)
    path = config or env_config
    values = load_config_file(path) if path else {}
    values.update(env_values)
    values.update(flag_values)
    settings = Settings(**values)
    check_settings(settings)
    return settings


def settings_from_environment(environ: Mapping[str, str] = os.environ, **overrides: Any) -> Settings:
    """The KLAVI_MOCK_* variables (KLAVI_MOCK_CONFIG naming a config file); keyword
    overrides are flag values, which win. A thin wrapper of settings_from."""
    return settings_from(overrides, environ)


def check_settings(settings: Settings) -> None:
    """Refuse what cannot work, each in one line (the CLI exits 2 with it), however the
    Settings were made: each option's own check (options.py), named by its flag."""
    for option in OPTIONS:
        value = getattr(settings, option.name) if option.setting else None
        if value is None:
            continue
        try:
            option.kind.check(value)
        except ValueError as exc:
            raise ConfigError(option.problem(option.flag or option.key or option.name, str(exc))) from None


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def check_exposure(settings: Settings) -> None:
    """Refuse to expose the control API beyond loopback without a token."""
    if not is_loopback(settings.host) and not settings.admin_token:
        token = OPTION["admin_token"]
        raise ConfigError(
            f"listening on {settings.host} lets anyone who reaches it steer the mock through /__mock; "
            f"give {token.flag} TOKEN (or {token.env}, or {token.key} in the config file) and send it as X-Mock-Admin-Token"
        )


def check_storage(settings: Settings) -> None:
    """One place for the state: memory, a state file, or a database; several worker
    processes only share state through a database."""
    url, state, workers = OPTION["database_url"], OPTION["state_file"], OPTION["workers"]
    if settings.database_url and settings.state_file:
        raise ConfigError(f"give {state.flag} or {url.flag}, not both: the state lives in one place")
    if settings.workers > 1 and not settings.database_url:
        where = (
            f"the state file {settings.state_file} is one process's"
            if settings.state_file
            else "memory is one process's"
        )
        raise ConfigError(
            f"{workers.flag} {settings.workers} needs {url.flag}: {where}, so each worker would have its own "
            "sandbox; give a PostgreSQL database they share"
        )
