"""Fixtures for the sandbox tests: real HTTP over loopback, nothing mocked."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from abseg.sandbox import (
    DEMO_DECISION_API_KEY,
    DEMO_ENV_ID,
    DEMO_PROFILE_TOKEN,
    DEMO_WRITE_KEY,
    Sandbox,
)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def track(sandbox: Sandbox, http: httpx.Client):
    """Posts one Tracking API call with the demo write key; returns the HTTP response."""

    def post(
        call: str,
        body: dict | None = None,
        *,
        write_key: str = DEMO_WRITE_KEY,
        **kwargs,
    ) -> httpx.Response:
        return http.post(
            f"{sandbox.segment_url}/v1/{call}",
            json=body,
            auth=(write_key, ""),
            **kwargs,
        )

    return post


@pytest.fixture
def profile(sandbox: Sandbox, http: httpx.Client):
    """GETs a Profile API resource of the demo space; the id is passed already URL-encoded."""

    def get(
        encoded_id: str,
        resource: str = "traits",
        *,
        token: str = DEMO_PROFILE_TOKEN,
        space: str = "spa_sandbox",
        **kwargs,
    ) -> httpx.Response:
        url = f"{sandbox.profile_url}/v1/spaces/{space}/collections/users/profiles/{encoded_id}/{resource}"
        return http.get(url, auth=(token, ""), **kwargs)

    return get


@pytest.fixture
def decide(sandbox: Sandbox, http: httpx.Client):
    """POSTs a Decision API campaigns request to the demo environment."""

    def post(
        body: object = None,
        *,
        env_id: str = DEMO_ENV_ID,
        api_key: str | None = DEMO_DECISION_API_KEY,
        content: bytes | None = None,
    ) -> httpx.Response:
        headers = {"x-api-key": api_key} if api_key is not None else {}
        url = f"{sandbox.decision_url}/v2/{env_id}/campaigns"
        if content is not None:
            return http.post(url, content=content, headers=headers)
        return http.post(url, json=body, headers=headers)

    return post
