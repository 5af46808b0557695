"""The Tracking API client on its own: payloads, size limits, and delivery under faults."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from abseg.errors import BadInput, CheckFailed, ServiceError
from abseg.http import RetryPolicy, encode_json
from abseg.sandbox import DEMO_WRITE_KEY, Sandbox
from abseg.tracking import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    TrackingClient,
    TrackingRequest,
    build_test_events,
    identify_event,
    plan_requests,
    track_event,
)
from tests.local_server import local_server
from tests.tracking.conftest import CANARY_KEY, accepted_per_message_id

FAST = RetryPolicy(attempts=6, timeout=5, backoff=0.01, max_backoff=0.05)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$")


def test_payloads_follow_the_segment_spec():
    identify = identify_event("v1", "userId", {"plan": "pro"})
    track = track_event("a1", "anonymousId", "Signed Up", {"abseg_test": True})

    assert identify["type"] == "identify" and identify["userId"] == "v1" and identify["traits"] == {"plan": "pro"}
    assert track["type"] == "track" and track["anonymousId"] == "a1" and "userId" not in track
    assert track["event"] == "Signed Up" and track["properties"] == {"abseg_test": True}
    for event in (identify, track):
        assert uuid.UUID(event["messageId"]).version == 4
        assert TIMESTAMP.match(event["timestamp"])
        assert event["context"]["library"]["name"] == "abseg"
        assert "writeKey" not in event


def test_every_event_gets_its_own_message_id():
    events = build_test_events("v1", "userId", "E", repeat=50)

    assert len({e["messageId"] for e in events}) == 100
    assert [e["type"] for e in events[:4]] == ["identify", "track", "identify", "track"]


def test_an_event_over_32_kb_is_refused_before_sending():
    with pytest.raises(BadInput, match="at most 32 KB per event"):
        plan_requests([track_event("v1", "userId", "E", {"blob": "x" * 33_000})], batch=True)


def test_a_message_id_segment_would_drop_is_refused():
    event = {**identify_event("v1", "userId", {}), "messageId": "m" * 101}

    with pytest.raises(BadInput, match="messageId"):
        plan_requests([event], batch=False)


def test_batches_are_split_at_2500_events_and_never_truncated():
    events = [identify_event(f"v{n}", "userId", {}) for n in range(2600)]  # ~170 bytes each: 440 KB a batch

    requests = plan_requests(events, batch=True)

    assert [len(r.events) for r in requests] == [MAX_BATCH_EVENTS, 100]
    assert [e for r in requests for e in r.events] == events


def test_batches_are_split_at_500_kb():
    big = [track_event("v1", "userId", "E", {"blob": "x" * 30_000}) for _ in range(40)]

    requests = plan_requests(big, batch=True)

    assert len(requests) == 3
    assert all(len(encode_json(r.body())) <= MAX_BATCH_BYTES for r in requests)
    assert [e for r in requests for e in r.events] == big


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=400), max_size=40),
    max_events=st.integers(min_value=1, max_value=8),
    max_bytes=st.integers(min_value=900, max_value=3000),
)
def test_batch_planning_keeps_every_event_in_order_within_the_limits(sizes, max_events, max_bytes):
    events = [track_event("v", "userId", "E", {"pad": "p" * size}) for size in sizes]

    requests = plan_requests(events, batch=True, max_events=max_events, max_bytes=max_bytes)

    assert [e for r in requests for e in r.events] == events
    for request in requests:
        assert 1 <= len(request.events) <= max_events
        # A lone event may exceed a tiny test budget; anything grouped must fit it.
        assert len(request.events) == 1 or len(encode_json(request.body())) <= max_bytes


def test_single_calls_go_to_their_own_endpoint(sandbox: Sandbox):
    requests = plan_requests(build_test_events("v1", "userId", "E"), batch=False)

    with TrackingClient(DEMO_WRITE_KEY, sandbox.segment_url, policy=FAST) as client:
        sent = client.send(requests)

    assert [(s.endpoint, s.status) for s in sent] == [
        (f"{sandbox.segment_url}/v1/identify", 200),
        (f"{sandbox.segment_url}/v1/track", 200),
    ]
    assert [e["endpoint"] for e in sandbox.events()] == ["/v1/identify", "/v1/track"]
    assert all(e["user_agent"].startswith("abseg/") for e in sandbox.events())


def test_retries_resend_the_same_message_ids_and_nothing_is_accepted_twice():
    # Seed 1 at 30 %: 500s, a 429 with Retry-After, a slow answer, connections dropped before
    # and after the sandbox processed a batch, across 20 batch requests.
    events = build_test_events("bulk", "userId", "E", repeat=50)
    requests = plan_requests(events, batch=True, max_events=5)
    with Sandbox(seed=1, fault_rate=0.3, retry_after_seconds=1, slow_seconds=0.05) as sandbox:
        with TrackingClient(DEMO_WRITE_KEY, sandbox.segment_url, policy=FAST) as client:
            sent = client.send(requests)
        received, accepted = sandbox.events(), accepted_per_message_id(sandbox)
        faults = {f["fault"] for f in sandbox.faults()}

    assert {"server_error", "rate_limited", "drop_before_processing", "drop_after_processing"} <= faults
    assert [mid for call in sent for _, mid in call.events] == [e["messageId"] for e in events]
    assert accepted == {e["messageId"]: 1 for e in events}
    duplicates = [e for e in received if e["status"] == "duplicate"]
    assert duplicates and all(e["retry_count"] for e in duplicates)
    original = {e["messageId"]: e for e in events}
    assert all(e["payload"] == original[e["messageId"]] for e in received)


def test_exhausted_retries_name_every_unconfirmed_event(closed_url):
    requests = plan_requests(build_test_events("v1", "userId", "E", repeat=3), batch=True, max_events=2)

    client = TrackingClient(CANARY_KEY, closed_url, policy=RetryPolicy(attempts=2, backoff=0.01))
    with client, pytest.raises(ServiceError) as caught:
        client.send(requests)

    error = caught.value
    all_ids = [mid for r in requests for mid in r.message_ids]
    assert error.exit_code == 4
    assert error.details["not_confirmed"] == all_ids and error.details["confirmed"] == []
    assert "6 of 6 events not confirmed" in error.message and all_ids[0] in error.message
    assert CANARY_KEY not in str(error) + json.dumps(error.as_json())


def test_a_rejected_call_stops_delivery_and_says_what_got_through(sandbox: Sandbox):
    first, rejected, never_sent = build_test_events("v1", "userId", "E", repeat=2)[:3]
    # Built by hand: plan_requests would have refused the oversized event before sending.
    oversized = {**rejected, "properties": {"blob": "x" * 40_000}}
    requests = [TrackingRequest("identify", (first,)), TrackingRequest("track", (oversized,)), TrackingRequest("identify", (never_sent,))]

    with TrackingClient(DEMO_WRITE_KEY, sandbox.segment_url, policy=FAST) as client, pytest.raises(CheckFailed) as caught:
        client.send(requests)

    assert "Segment rejected the track call (HTTP 400: Request body over 32 KB.)" in caught.value.message
    assert caught.value.details["confirmed"] == [first["messageId"]]
    assert caught.value.details["not_confirmed"] == [rejected["messageId"], never_sent["messageId"]]


def test_a_too_short_key_gets_segment_s_400_as_a_failed_check(sandbox: Sandbox):
    requests = plan_requests(build_test_events("v1", "userId", "E"), batch=False)

    client = TrackingClient("short", sandbox.segment_url, policy=FAST)
    with client, pytest.raises(CheckFailed, match="HTTP 400: Missing or invalid write key"):
        client.send(requests)


def test_a_refused_key_is_a_service_error():
    # The sandbox never answers 401 (Segment does not document one); a fixed answer stands in.
    requests = plan_requests(build_test_events("v1", "userId", "E"), batch=False)

    with local_server(401, {"message": "Unauthorized"}) as server:
        client = TrackingClient(CANARY_KEY, server.url, policy=FAST)
        with client, pytest.raises(ServiceError, match="refused the write key") as caught:
            client.send(requests)

    assert CANARY_KEY not in str(caught.value)
