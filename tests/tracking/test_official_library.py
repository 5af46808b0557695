"""abseg's Segment payloads against those of Segment's own Python library, both sent to the sandbox.

If the sandbox accepts what the official library sends, it is a fair stand-in; if abseg's events
have the same fields and formats as the official library's, abseg speaks Segment's dialect.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import segment.analytics.request as segment_request
from segment.analytics import Client

from abseg.sandbox import DEMO_WRITE_KEY, Sandbox
from abseg.tracking import basic_authorization

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$")
# Fields the official library always sends even when empty (null userId/anonymousId, {} integrations).
OPTIONAL_WHEN_EMPTY = {"integrations", "userId", "anonymousId"}


@pytest.fixture
def official_headers(monkeypatch) -> Iterator[list[dict[str, str]]]:
    """The headers of every request the official library makes (the request still goes out)."""
    seen: list[dict[str, str]] = []
    session_post = segment_request._session.post

    def recording_post(url, **kwargs):
        seen.append(dict(kwargs["headers"]))
        return session_post(url, **kwargs)

    monkeypatch.setattr(segment_request._session, "post", recording_post)
    yield seen


def _official_client(sandbox: Sandbox) -> Client:
    return Client(write_key=DEMO_WRITE_KEY, host=sandbox.segment_url, sync_mode=True, max_retries=0)


def _by_library(sandbox: Sandbox, name: str, call_type: str) -> dict:
    (event,) = [
        e for e in sandbox.events() if e["payload"]["context"]["library"]["name"] == name and e["type"] == call_type
    ]
    return event


def test_the_official_library_s_calls_are_accepted(sandbox: Sandbox):
    client = _official_client(sandbox)
    client.identify("official-1", {"plan": "pro"})
    client.track("official-1", "Order Completed", {"total": 12})

    assert [(e["type"], e["status"], e["userId"]) for e in sandbox.events()] == [
        ("identify", "accepted", "official-1"),
        ("track", "accepted", "official-1"),
    ]


def test_abseg_s_events_have_the_official_library_s_fields_and_formats(cli, sandbox: Sandbox, env):
    client = _official_client(sandbox)
    client.identify("official-1", {"plan": "pro"})
    client.track("official-1", "Order Completed", {"total": 12})
    assert cli("test-event", "--visitor", "abseg-1", env=env).exit_code == 0

    for call_type in ("identify", "track"):
        official = _by_library(sandbox, "analytics-python", call_type)
        ours = _by_library(sandbox, "abseg", call_type)
        assert ours["status"] == official["status"] == "accepted"
        assert set(ours["payload"]) <= set(official["payload"])
        assert set(official["payload"]) - set(ours["payload"]) <= OPTIONAL_WHEN_EMPTY
        for event in (official, ours):
            assert TIMESTAMP.match(event["payload"]["timestamp"]), event["payload"]["timestamp"]
            assert uuid.UUID(event["messageId"]).version == 4 and len(event["messageId"]) == 36
            assert set(event["payload"]["context"]["library"]) == {"name", "version"}
            assert re.match(r"^[a-z-]+/\d+\.\d+\.\d+", event["user_agent"])
            assert event["write_key"] == official["write_key"]  # both authenticated as the same source


def test_abseg_authenticates_exactly_as_the_official_library(sandbox: Sandbox, official_headers):
    _official_client(sandbox).track("official-1", "Order Completed")

    (headers,) = official_headers
    assert headers["Authorization"] == basic_authorization(DEMO_WRITE_KEY)
    assert headers["Content-Type"] == "application/json"
