"""abseg's Segment payloads against those of Segment's own Python library, both sent to the sandbox.

If the sandbox accepts what the official library sends, it is a fair stand-in; if abseg's events
have the same fields and formats as the official library's, abseg speaks Segment's dialect.
"""

from __future__ import annotations

import json
import re
import uuid

import httpx
from segment.analytics import Client

from abseg.sandbox import DEMO_WRITE_KEY, Sandbox

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$")
# Fields the official library always sends even when empty (null userId/anonymousId, {} integrations).
OPTIONAL_WHEN_EMPTY = {"integrations", "userId", "anonymousId"}


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


def test_abseg_authenticates_exactly_as_the_official_library(cli, sandbox: Sandbox, env):
    client = _official_client(sandbox)
    client.identify("official-1", {"plan": "pro"})
    client.track("official-1", "Order Completed")
    assert cli("test-event", "--visitor", "abseg-1", env=env).exit_code == 0

    for call_type in ("identify", "track"):
        official = _by_library(sandbox, "analytics-python", call_type)
        ours = _by_library(sandbox, "abseg", call_type)
        # What the sandbox saw on the wire, for each: how the key came and how the body was labelled.
        assert (ours["auth"], ours["content_type"]) == (official["auth"], official["content_type"])
        assert official["auth"] == "basic" and official["content_type"] == "application/json"
        assert ours["write_key"] == official["write_key"]
        assert "writeKey" not in ours["payload"]  # the key travels in the header only


def test_the_sandbox_tells_a_write_key_in_the_body_from_basic_auth(sandbox: Sandbox):
    # Without this, "same auth" above could hold because the sandbox wrote the same word for both.
    body = {"writeKey": DEMO_WRITE_KEY, "userId": "body-key-1"}
    in_body = httpx.post(f"{sandbox.segment_url}/v1/identify", content=json.dumps(body), timeout=5,
                         headers={"Content-Type": "text/plain"})
    in_header = httpx.post(f"{sandbox.segment_url}/v1/identify", json={"userId": "basic-1"},
                           auth=(DEMO_WRITE_KEY, ""), timeout=5)

    assert in_body.status_code == in_header.status_code == 200
    by_user = {e["userId"]: e for e in sandbox.events()}
    assert (by_user["body-key-1"]["auth"], by_user["body-key-1"]["content_type"]) == ("body", "text/plain")
    assert (by_user["basic-1"]["auth"], by_user["basic-1"]["content_type"]) == ("basic", "application/json")
    assert all(e["status"] == "accepted" and e["write_key"] == "sand…" for e in by_user.values())
    assert DEMO_WRITE_KEY not in json.dumps(sandbox.events())  # the new fields mask nothing less
