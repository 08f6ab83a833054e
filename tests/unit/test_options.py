"""The option table of `klavi-mock serve` (klavi_mock/options.py): every option is read from
each source the table gives it, in the order flag > environment > config file > default, and a
bad value in any source is one line naming the option and the source. The tests iterate the
table, so a new option is covered as soon as it is written there."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

import pytest

from klavi_mock.cli import build_parser, main
from klavi_mock.config import ConfigError, Settings, check_settings, settings_from
from klavi_mock.options import (
    ENV,
    FILE,
    FLAG,
    OPTION,
    OPTIONS,
    Boolean,
    Choice,
    Faults,
    Integer,
    Names,
    Option,
    Tenants,
    Text,
    Url,
    from_flags,
)

SETTINGS = [option for option in OPTIONS if option.setting]


def _settings(
    tmp_path: Path, argv: Sequence[str] = (), environ: dict | None = None, file: dict | None = None
) -> Settings:
    """Settings as `klavi-mock serve` makes them: its own parser, the environment given (and
    nothing else), and `file` written as a JSON config file named by --config."""
    if file is not None:
        path = tmp_path / "mock.json"
        path.write_text(json.dumps(file))
        argv = [*argv, "--config", str(path)]
    args = build_parser().parse_args(["serve", *argv])
    return settings_from(from_flags(args), environ or {})


def test_every_setting_but_strict_and_report_process_is_an_option_and_its_default_comes_from_the_table():
    # report_process: serve decides it from the cores it may use (sandbox/report_builder.py)
    assert {option.name for option in SETTINGS} == {f.name for f in fields(Settings)} - {"strict", "report_process"}
    defaults = Settings()
    for option in SETTINGS:
        assert getattr(defaults, option.name) == option.default_value(), option.name


def test_names_are_derived_and_unique():
    for attribute in ("flag", "env", "key"):
        names = [getattr(option, attribute) for option in OPTIONS if getattr(option, attribute)]
        assert len(names) == len(set(names)), attribute
    assert all(option.env is None or option.env.startswith("KLAVI_MOCK_") for option in OPTIONS)
    assert (
        OPTION["webhook_concurrency"].flag,
        OPTION["webhook_concurrency"].env,
        OPTION["webhook_concurrency"].key,
    ) == (
        "--webhook-concurrency",
        "KLAVI_MOCK_WEBHOOK_CONCURRENCY",
        "webhookConcurrency",
    )
    # Where an option cannot be given is said, not forgotten: only these lack a source.
    assert {option.name: option.sources for option in OPTIONS if len(option.sources) < 3} == {
        "config": (FLAG, ENV),
        "tenants": (ENV, FILE),
        "faults": (FILE,),
    }


@pytest.mark.parametrize("option", SETTINGS, ids=lambda option: option.name)
def test_the_examples_are_valid_and_distinct(option: Option):
    first, second = (option.read_text(text, "example") for text in option.examples)
    assert first != second and second != option.default_value()


def _value(option: Option, text: str):
    return option.read_text(text, "example")


@pytest.mark.parametrize("option", SETTINGS, ids=lambda option: option.name)
def test_flag_beats_environment_beats_file_beats_default(option: Option, tmp_path: Path):
    """Every combination of the sources the option has: the highest given wins. Neighbouring
    sources get different values (the lowest the one unlike the default), so a source read
    in the wrong order, or not at all, changes the result."""
    for count in range(len(option.sources) + 1):
        for given in itertools.combinations(option.sources, count):  # highest precedence first
            texts = {source: option.examples[(len(given) - rank) % 2] for rank, source in enumerate(given)}
            argv = option.argv(texts[FLAG]) if FLAG in texts else []
            environ = {option.env: texts[ENV]} if ENV in texts else {}
            file = {option.key: option.kind.decode(texts[FILE])} if FILE in texts else None
            got = getattr(_settings(tmp_path, argv, environ, file), option.name)
            expected = _value(option, texts[given[0]]) if given else option.default_value()
            assert got == expected, f"{option.name} given as {given}"


def test_klavi_mock_config_names_the_file_as_config_does(tmp_path: Path):
    """The bug this fixes: a file named by KLAVI_MOCK_CONFIG beat nothing and lost to every
    variable, one named by --config beat the variables. Now both are the file, below them."""
    file = tmp_path / "mock.yaml"
    file.write_text("webhookConcurrency: 2\njournalSize: 20\n")
    by_flag = build_parser().parse_args(["serve", "--config", str(file)])
    for argv_flags, environ in (
        (from_flags(by_flag), {"KLAVI_MOCK_JOURNAL_SIZE": "30"}),
        ({}, {"KLAVI_MOCK_CONFIG": str(file), "KLAVI_MOCK_JOURNAL_SIZE": "30"}),
    ):
        settings = settings_from(argv_flags, environ)
        assert (settings.webhook_concurrency, settings.journal_size) == (2, 30)
    other = tmp_path / "other.yaml"
    other.write_text("webhookConcurrency: 3\n")
    settings = settings_from(from_flags(by_flag), {"KLAVI_MOCK_CONFIG": str(other)})
    assert settings.webhook_concurrency == 2  # given both, the flag's file


# A value each kind refuses; a new kind fails here until it has one.
BAD = {Integer: "many", Boolean: "maybe", Choice: "loud", Url: "not-a-url", Names: "a b", Tenants: "[]", Faults: "[1]"}


def _bad(option: Option) -> str:
    if isinstance(option.kind, Text):
        return "short" if option.kind.min_length > 5 else ""
    return BAD[type(option.kind)]


def _bad_cases() -> list[tuple[Option, str]]:
    cases = []
    for option in SETTINGS:
        for source in option.sources:
            if source == FLAG and isinstance(option.kind, Boolean):
                continue  # a boolean flag has no value to get wrong (--x or --no-x)
            if source == ENV and not _bad(option):
                continue  # an empty variable is unset (the test after next)
            cases.append((option, source))
    return cases


@pytest.mark.parametrize("option, source", _bad_cases(), ids=lambda value: getattr(value, "name", value))
def test_a_bad_value_names_the_option_and_its_source(option: Option, source: str, tmp_path: Path):
    text = _bad(option)
    with pytest.raises(ConfigError) as caught:
        if source == FLAG:
            _settings(tmp_path, option.argv(text))
        elif source == ENV:
            _settings(tmp_path, environ={option.env: text})
        else:
            # A string where a number or true/false belongs; else the text as the file holds it.
            data = text if isinstance(option.kind, (Integer, Boolean)) else option.kind.decode(text)
            _settings(tmp_path, file={option.key: data})
    message = str(caught.value)
    where = {FLAG: option.flag, ENV: option.env, FILE: f"{tmp_path / 'mock.json'}: {option.key}"}[source]
    assert message.startswith(where) and "\n" not in message, message


def test_bad_values_say_what_to_give(tmp_path: Path):
    cases = [
        (["--port", "99999"], {}, "--port 99999: a port is a number from 0 (any free port) to 65535 (default 8080)"),
        (["--log-level", "loud"], {}, "--log-level 'loud': give one of critical, error, warning, info, debug"),
        ([], {"KLAVI_MOCK_PORT": "http"}, "KLAVI_MOCK_PORT 'http': a port is a number from 0 (any free port) to 65535"),
        ([], {"KLAVI_MOCK_ACCESS_LOG": "off"}, "KLAVI_MOCK_ACCESS_LOG 'off': give 1/true/yes or 0/false/no"),
        ([], {"KLAVI_MOCK_TOKEN_SECRET": "short"}, "KLAVI_MOCK_TOKEN_SECRET has 5 characters; give at least 16"),
    ]
    for argv, environ, says in cases:
        with pytest.raises(ConfigError) as caught:
            _settings(tmp_path, argv, environ)
        assert says in str(caught.value)
    with pytest.raises(ConfigError, match=r"mock\.json: webhookConcurrency 0: give 1 \(strict per-URL order\) to 64"):
        _settings(tmp_path, file={"webhookConcurrency": 0})
    with pytest.raises(ConfigError, match="unknown key 'webhookConcurency'; did you mean webhookConcurrency?"):
        _settings(tmp_path, file={"webhookConcurency": 4})
    with pytest.raises(ConfigError, match="stateFile is empty; give a value, or remove the key"):
        _settings(tmp_path, file={"stateFile": None})


def test_a_value_overridden_by_a_higher_source_is_still_checked(tmp_path: Path):
    with pytest.raises(ConfigError, match="KLAVI_MOCK_PORT 'x'"):
        _settings(tmp_path, ["--port", "8081"], {"KLAVI_MOCK_PORT": "x"})


def test_an_empty_variable_is_unset_but_an_empty_admin_token_is_refused(tmp_path: Path):
    assert _settings(tmp_path, environ={"KLAVI_MOCK_PORT": "", "KLAVI_MOCK_HOST": " "}).port == 8080
    with pytest.raises(ConfigError, match="KLAVI_MOCK_ADMIN_TOKEN is set but empty"):
        _settings(tmp_path, environ={"KLAVI_MOCK_ADMIN_TOKEN": ""})


def test_allow_host_repeats_and_takes_comma_lists(tmp_path: Path):
    settings = _settings(tmp_path, ["--allow-host", "a", "--allow-host", "b,c"])
    assert settings.allowed_hosts == ("a", "b", "c")


def test_check_settings_uses_each_options_own_check():
    with pytest.raises(ConfigError, match="--webhook-concurrency 65: give 1"):
        check_settings(Settings(webhook_concurrency=65))
    with pytest.raises(ConfigError, match="--log-level 'loud'"):
        check_settings(Settings(log_level="loud"))


def test_serve_refuses_a_bad_value_in_one_line_before_starting(capsys, tmp_path: Path):
    config = tmp_path / "mock.yaml"
    config.write_text("tenants: [unclosed\n")  # YAML's own message spans several lines
    for argv in (["--port", "abc"], ["--config", str(config)]):
        assert main(["serve", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("klavi-mock: ") and err.count("\n") == 1, err
