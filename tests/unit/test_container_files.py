"""The image's and compose example's settings are real options with valid values (the image
itself is built and run in tests/container)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from klavi_mock.config import settings_from
from klavi_mock.options import OPTIONS

ROOT = Path(__file__).resolve().parents[2]
VARIABLES = {option.env for option in OPTIONS if option.env}


def test_the_dockerfiles_variables_are_options_and_its_healthcheck_needs_no_curl():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE=python:3\.12-slim$", dockerfile, re.M)
    assert "FROM ${BASE} AS build" in dockerfile and dockerfile.count("FROM ${BASE}") == 2
    assert "curl" not in dockerfile.split("HEALTHCHECK", 1)[1].split("\n", 1)[0]
    assert re.search(r"^USER 10001", dockerfile, re.M)
    for name in re.findall(r"\b(KLAVI_MOCK_[A-Z_]+)=", dockerfile):
        assert name in VARIABLES, name


def test_the_compose_example_gives_valid_settings():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    mock = compose["services"]["klavi-mock"]
    environment = {name: str(value) for name, value in mock["environment"].items()}
    assert set(environment) <= VARIABLES
    settings = settings_from({}, {**environment, "KLAVI_MOCK_HOST": "0.0.0.0"})
    assert settings.admin_token and settings.public_url == "http://localhost:8080"
    [tenant] = settings.tenants
    assert tenant.events_url == "http://partner:9000/klavi/events"
    assert compose["services"]["partner"]["depends_on"]["klavi-mock"]["condition"] == "service_healthy"


def test_the_postgres_compose_example_gives_valid_settings():
    """Two instances over one database (compose.postgres.yaml): each one's settings are valid
    and name the same database, and each waits for the database to be healthy."""
    compose = yaml.safe_load((ROOT / "compose.postgres.yaml").read_text())
    urls = set()
    for name in ("klavi-mock-a", "klavi-mock-b"):
        mock = compose["services"][name]
        environment = {key: str(value) for key, value in mock["environment"].items()}
        assert set(environment) <= VARIABLES
        settings = settings_from({}, {**environment, "KLAVI_MOCK_HOST": "0.0.0.0"})
        assert settings.admin_token and settings.database_url and settings.public_url
        urls.add(settings.database_url)
        assert mock["build"]["args"]["EXTRAS"] == "postgres"
        assert mock["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert urls == {"postgresql://klavi:klavi@postgres:5432/klavi"}
    database = compose["services"]["postgres"]["environment"]
    assert (database["POSTGRES_USER"], database["POSTGRES_PASSWORD"], database["POSTGRES_DB"]) == ("klavi",) * 3
