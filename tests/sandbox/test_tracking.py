"""Segment Tracking API and settings CDN stand-ins: answers like Segment, records what really happened."""

from __future__ import annotations

import base64
import gzip
import json
from concurrent.futures import ThreadPoolExecutor

import httpx

from abseg.sandbox import DEMO_WRITE_KEY, Sandbox


def test_accepted_event_is_recorded_with_masked_key_and_sender_details(
    sandbox: Sandbox, track
) -> None:
    response = track(
        "track",
        {
            "userId": "u-1",
            "event": "Signed Up",
            "messageId": "m-1",
            "properties": {"plan": "pro"},
        },
        headers={"User-Agent": "my-app/1.0", "X-Retry-Count": "2"},
    )

    assert response.status_code == 200
    assert response.json() == {"success": True}
    [event] = sandbox.events()
    assert event["status"] == "accepted" and event["reason"] is None
    assert (event["endpoint"], event["type"], event["event"]) == (
        "/v1/track",
        "track",
        "Signed Up",
    )
    assert (event["userId"], event["messageId"], event["retry_count"]) == (
        "u-1",
        "m-1",
        2,
    )
    assert event["user_agent"] == "my-app/1.0"
    assert event["write_key"] == DEMO_WRITE_KEY[:4] + "…"
    assert DEMO_WRITE_KEY not in json.dumps(sandbox.events())


def test_write_key_in_body_is_accepted_and_never_shown_in_full(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    body = {
        "writeKey": DEMO_WRITE_KEY,
        "anonymousId": "a-1",
        "traits": {"plan": "free"},
    }

    response = http.post(f"{sandbox.segment_url}/v1/identify", json=body)

    assert response.status_code == 200
    [event] = sandbox.events()
    assert event["status"] == "accepted"
    assert event["messageId"].startswith("api-"), (
        "Segment gives a messageId to events sent without one"
    )
    inspection = http.get(f"{sandbox.url}/_sandbox/events").text
    assert DEMO_WRITE_KEY not in inspection and DEMO_WRITE_KEY not in json.dumps(
        sandbox.events()
    )


def test_unknown_write_key_gets_200_but_every_event_is_dropped(
    sandbox: Sandbox, track
) -> None:
    response = track(
        "identify", {"userId": "u-1"}, write_key="notARealKeyButLongEnough"
    )

    assert response.status_code == 200
    [event] = sandbox.events()
    assert (event["status"], event["reason"]) == ("dropped", "unknown write key")


def test_missing_or_very_short_write_key_is_a_400(
    sandbox: Sandbox, http: httpx.Client, track
) -> None:
    assert (
        http.post(
            f"{sandbox.segment_url}/v1/track", json={"userId": "u", "event": "E"}
        ).status_code
        == 400
    )
    assert (
        track("track", {"userId": "u", "event": "E"}, write_key="short").status_code
        == 400
    )
    assert sandbox.events() == []


def test_malformed_json_is_a_400_with_a_code_and_message(track) -> None:
    response = track("track", content=b"{not json")

    assert response.status_code == 400
    assert set(response.json()) >= {"code", "message"}


def test_call_over_32_kb_is_a_400(sandbox: Sandbox, track) -> None:
    response = track(
        "track", {"userId": "u", "event": "E", "properties": {"blob": "x" * 33_000}}
    )

    assert response.status_code == 400
    assert sandbox.events() == []


def test_structurally_incomplete_events_get_200_and_are_dropped_with_a_reason(
    sandbox: Sandbox, track
) -> None:
    track("track", {"userId": "u"})  # no event name
    track("identify", {"traits": {"a": 1}})  # neither userId nor anonymousId
    track("identify", {"userId": 42})  # not a string
    track("track", {"userId": "u", "event": "E", "messageId": "m" * 101})

    reasons = [(event["status"], event["reason"]) for event in sandbox.events()]
    assert all(status == "dropped" for status, _ in reasons)
    assert "event" in reasons[0][1]
    assert (
        "userId or anonymousId" in reasons[1][1]
        and "userId or anonymousId" in reasons[2][1]
    )
    assert "100 characters" in reasons[3][1]


def test_reused_message_id_is_recorded_as_duplicate_and_counted_once(
    sandbox: Sandbox, track
) -> None:
    for _ in range(2):
        assert (
            track(
                "track", {"userId": "u", "event": "E", "messageId": "same"}
            ).status_code
            == 200
        )

    assert [event["status"] for event in sandbox.events()] == ["accepted", "duplicate"]


def test_batch_drops_oversized_events_and_events_past_2500(
    sandbox: Sandbox, track
) -> None:
    small = [
        {"type": "track", "userId": f"u{i}", "event": "E", "messageId": f"m{i}"}
        for i in range(2502)
    ]
    small[1]["properties"] = {"blob": "x" * 33_000}
    # Keep the request under 500 KB: only the oversized one carries a payload.

    response = track("batch", {"batch": small})

    assert response.status_code == 200
    statuses = {
        event["messageId"]: (event["status"], event["reason"])
        for event in sandbox.events()
    }
    assert statuses["m0"] == ("accepted", None)
    assert statuses["m1"] == ("dropped", "event over 32 KB")
    assert statuses["m2499"] == ("accepted", None)
    assert (
        statuses["m2500"] == statuses["m2501"] == ("dropped", "batch over 2,500 events")
    )


def test_batch_over_500_kb_is_a_400(sandbox: Sandbox, track) -> None:
    batch = [
        {
            "type": "track",
            "userId": "u",
            "event": "E",
            "properties": {"blob": "x" * 30_000},
        }
        for _ in range(20)
    ]

    assert track("batch", {"batch": batch}).status_code == 400
    assert sandbox.events() == []


def test_gzip_body_is_read_like_the_official_library_sends_it(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    body = gzip.compress(
        json.dumps({"batch": [{"type": "identify", "userId": "gz"}]}).encode()
    )
    token = base64.b64encode(f"{DEMO_WRITE_KEY}:".encode()).decode()
    headers = {
        "Authorization": f"Basic {token}",
        "Content-Encoding": "gzip",
        "Content-Type": "application/json",
    }

    assert (
        http.post(
            f"{sandbox.segment_url}/v1/batch", content=body, headers=headers
        ).status_code
        == 200
    )
    assert sandbox.events()[0]["userId"] == "gz"


def test_settings_cdn_knows_registered_keys_and_their_region(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    eu_key = "euSourceWriteKey0000000000000001"
    sandbox.register_write_key(eu_key, region="eu")

    us = http.get(f"{sandbox.cdn_url}/v1/projects/{DEMO_WRITE_KEY}/settings")
    eu = http.get(f"{sandbox.cdn_url}/v1/projects/{eu_key}/settings")
    unknown = http.get(
        f"{sandbox.cdn_url}/v1/projects/unknownKey000000000000000000001/settings"
    )

    assert us.status_code == eu.status_code == 200
    assert us.json()["integrations"]["Segment.io"]["apiHost"] == "api.segment.io/v1"
    assert (
        eu.json()["integrations"]["Segment.io"]["apiHost"]
        == "events.eu1.segmentapis.com/v1"
    )
    assert unknown.status_code == 404
    assert unknown.text == "Invalid path or write key provided."
    assert unknown.headers["content-type"].startswith("text/plain")


def test_concurrent_copies_of_one_message_are_accepted_once(sandbox: Sandbox) -> None:
    body = {"userId": "u", "event": "E", "messageId": "raced"}
    with httpx.Client() as client, ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(
            pool.map(
                lambda _: (
                    client.post(
                        f"{sandbox.segment_url}/v1/track",
                        json=body,
                        auth=(DEMO_WRITE_KEY, ""),
                    ).status_code
                ),
                range(16),
            )
        )

    assert statuses == [200] * 16
    outcomes = sorted(event["status"] for event in sandbox.events())
    assert outcomes == ["accepted"] + ["duplicate"] * 15
