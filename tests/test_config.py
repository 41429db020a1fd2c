"""Configuration: env parsing and normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from parley.config import Settings, normalise_database_url, parse_duration


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        ("sqlite:///data/p.db", "sqlite+aiosqlite:///data/p.db"),
        ("sqlite+aiosqlite:////abs/p.db", "sqlite+aiosqlite:////abs/p.db"),
        ("postgresql://u:pw@db:5432/parley", "postgresql+asyncpg://u:pw@db:5432/parley"),
        ("postgres://u@db/parley", "postgresql+asyncpg://u@db/parley"),
        ("postgresql+asyncpg://u@db/parley", "postgresql+asyncpg://u@db/parley"),
    ],
)
def test_database_urls_get_their_async_driver(given_url: str, expected: str) -> None:
    assert normalise_database_url(given_url) == expected


def test_unsupported_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database 'mysql'"):
        normalise_database_url("mysql://u@h/db")


def test_the_default_database_is_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'parley.db'}"


def test_environment_variables_configure_parley(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_API_KEYS", " pk_a , pk_b,,")
    monkeypatch.setenv("PARLEY_SESSION_TTL", "2m")
    monkeypatch.setenv("PARLEY_PUBLIC_URL", "https://voice.example.com/")
    monkeypatch.setenv("PARLEY_DATABASE_URL", "postgresql://u@db/p")
    monkeypatch.setenv("PARLEY_LLM", "openai:gpt-4o-mini")
    monkeypatch.setenv("PARLEY_HTTP_TOOLS_ALLOW", "10.0.0.0/8,internal.example")

    settings = Settings()

    assert settings.api_keys == ("pk_a", "pk_b")
    assert settings.session_ttl == 120
    assert settings.public_url == "https://voice.example.com"
    assert settings.resolved_database_url == "postgresql+asyncpg://u@db/p"
    assert settings.llm == "openai:gpt-4o-mini"
    assert settings.http_tools_allow == ("10.0.0.0/8", "internal.example")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("300", 300), ("30s", 30), ("5m", 300), ("1h", 3600), ("250ms", 0.25), ("1.5s", 1.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@given(st.integers(min_value=1, max_value=10**7))
def test_whole_seconds_round_trip_in_every_unit(n: int) -> None:
    assert parse_duration(str(n)) == n
    assert parse_duration(f"{n}s") == n
    assert parse_duration(f"{n}m") == n * 60


@pytest.mark.parametrize("text", ["", "soon", "-5", "0", "5 days", "5d"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize("url", ["voice.example.com", "ftp://x", "https://"])
def test_bad_public_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="PARLEY_PUBLIC_URL"):
        Settings(public_url=url)
