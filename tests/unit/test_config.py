"""Tenants from a file or the environment, and clear errors when the configuration is wrong."""

import json

import pytest

from klavi_mock.config import DEFAULT_TENANT, ConfigError, Settings, load_config_file, settings_from_environment


def test_without_configuration_there_is_one_sandbox_tenant():
    [tenant] = Settings().tenants
    assert (tenant.app_id, tenant.access_key, tenant.secret_key) == (
        DEFAULT_TENANT["appId"],
        "sandbox-access-key",
        "sandbox-secret-key",
    )


def test_tenants_from_a_yaml_file(tmp_path):
    path = tmp_path / "mock.yaml"
    path.write_text(
        "tenants:\n"
        "  - {appId: acme, accessKey: ak, secretKey: sk, eventsUrl: 'http://127.0.0.1:9/e', forFi: true}\n"
        "  - {appId: beta, accessKey: bk, secretKey: bs}\n"
    )
    settings = settings_from_environment({"KLAVI_MOCK_CONFIG": str(path)})
    acme, beta = settings.tenants
    assert (acme.app_id, acme.events_url, acme.for_fi) == ("acme", "http://127.0.0.1:9/e", True)
    assert (beta.access_key, beta.for_fi) == ("bk", False)


def test_tenants_from_the_environment_as_json():
    settings = settings_from_environment(
        {"KLAVI_MOCK_TENANTS": json.dumps([{"appId": "a", "accessKey": "k", "secretKey": "s"}])}
    )
    assert [t.app_id for t in settings.tenants] == ["a"]


def test_flags_win_over_the_environment():
    settings = settings_from_environment({"KLAVI_MOCK_PUBLIC_URL": "http://env"}, public_url="http://flag", port=None)
    assert settings.public_url == "http://flag" and settings.port == 8080


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("tenants: []", "tenants: [] should be non-empty"),
        ("tenants:\n  - {appId: a, accessKey: k}", "tenants.0: 'secretKey' is a required property"),
        ("tenants:\n  - {appId: a, accessKey: k, secretKey: s, colour: red}", "'colour' was unexpected"),
        (
            "tenants:\n  - {appId: a, accessKey: k, secretKey: s}\n  - {appId: b, accessKey: k, secretKey: t}",
            "tenants share the accessKey k",
        ),
        ("tenants: [unclosed", "is not valid YAML"),
    ],
)
def test_bad_files_say_where_and_why(tmp_path, text, fragment):
    path = tmp_path / "mock.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as caught:
        load_config_file(path)
    assert fragment in str(caught.value) and str(path) in str(caught.value)


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config_file(tmp_path / "absent.yaml")


def test_bad_json_in_the_environment_is_a_config_error():
    with pytest.raises(ConfigError, match="KLAVI_MOCK_TENANTS is not valid JSON"):
        settings_from_environment({"KLAVI_MOCK_TENANTS": "[{"})
