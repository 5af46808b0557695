"""Fixtures for the verify-match tests: a real sandbox over loopback, a connector pointing at it.

Every test that starts the sandbox ends by checking the promise verify-match makes to AB Tasty's
reports: each Decision API request said ``trigger_hit: false``, and nothing called activate or hits.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from abseg.sandbox import (
    DEMO_DECISION_API_KEY,
    DEMO_ENV_ID,
    DEMO_PROFILE_TOKEN,
    DEMO_SPACE_ID,
    DEMO_WRITE_KEY,
    Sandbox,
)


def assert_dry_run_only(sb: Sandbox) -> None:
    for request in sb.decision_requests():
        assert request["body"]["trigger_hit"] is False, request
        assert set(request["body"]) <= {"visitor_id", "anonymous_id", "context", "trigger_hit"}, request
    assert sb.activate_calls() == []
    assert sb.hit_calls() == []


@pytest.fixture
def sandbox_options() -> dict:
    """Override in a test module (or with indirect parametrisation) to tune the sandbox."""
    return {}


@pytest.fixture
def sandbox(sandbox_options, monkeypatch) -> Iterator[Sandbox]:
    with Sandbox(**sandbox_options) as sb:
        for name, value in sb.environ().items():
            monkeypatch.setenv(name, value)
        yield sb
        assert_dry_run_only(sb)


@pytest.fixture
def secrets_in_env(monkeypatch) -> None:
    """The sandbox's demo credentials as the CI-style env overrides."""
    monkeypatch.setenv("ABSEG_WRITE_KEY", DEMO_WRITE_KEY)
    monkeypatch.setenv("ABSEG_DECISION_API_KEY", DEMO_DECISION_API_KEY)
    monkeypatch.setenv("ABSEG_PROFILE_TOKEN", DEMO_PROFILE_TOKEN)


@pytest.fixture
def write_connector(isolated, secrets_in_env):
    """Write connectors/NAME.toml for the sandbox; ``profile=False`` leaves the Profile API out."""

    def write(
        name: str = "demo", *, visitor_field: str = "userId", profile: bool = True, env_id: str = DEMO_ENV_ID,
        region: str = "us",
    ) -> Path:
        directory = Path(os.environ["ABSEG_CONFIG_DIR"]) / "connectors"
        directory.mkdir(parents=True, exist_ok=True)
        text = (
            f'schema = 1\nname = "{name}"\nenv_id = "{env_id}"\nregion = "{region}"\n'
            f'visitor_field = "{visitor_field}"\nwrite_key = "keyring:demo"\ndecision_api_key = "keyring:demo-decision"\n'
        )
        if profile:
            text += f'\n[profile]\nspace_id = "{DEMO_SPACE_ID}"\ntoken = "keyring:demo-profile"\n'
        path = directory / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def connector(write_connector) -> Path:
    return write_connector()


@pytest.fixture
def identify(sandbox):
    """Make Segment (the sandbox) know an ID, as an app's identify call would."""

    def send(**ids: str) -> None:
        response = httpx.post(f"{sandbox.segment_url}/v1/identify", json=ids, auth=(DEMO_WRITE_KEY, ""), timeout=5)
        assert response.status_code == 200, response.text

    return send
