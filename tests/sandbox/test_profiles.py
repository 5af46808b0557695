"""Profile API stand-in: profiles come only from accepted events, with Segment's identity merging."""

from __future__ import annotations

import httpx

from abseg.sandbox import DEMO_PROFILE_TOKEN, Sandbox


def test_identify_makes_a_profile_reachable_by_either_id(track, profile) -> None:
    track(
        "identify",
        {"userId": "u-1", "anonymousId": "anon-1", "traits": {"plan": "pro"}},
    )

    by_user = profile("user_id:u-1")
    by_anon = profile("anonymous_id:anon-1")

    assert by_user.status_code == by_anon.status_code == 200
    assert (
        by_user.json()
        == by_anon.json()
        == {
            "traits": {"plan": "pro"},
            "cursor": {"url": "", "has_more": False, "next": ""},
        }
    )
    assert by_user.headers["Request-Id"]


def test_unknown_profile_is_the_documented_404(profile) -> None:
    response = profile("user_id:nobody")

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Profile was not found."}
    }


def test_dropped_and_unknown_key_events_make_no_profile(track, profile) -> None:
    track("identify", {"userId": "ghost"}, write_key="unregisteredWriteKey000000000001")
    track("track", {"userId": "nameless"})  # dropped: no event name

    assert profile("user_id:ghost").status_code == 404
    assert profile("user_id:nameless").status_code == 404


def test_url_encoded_ids_are_decoded_and_plus_is_literal(track, profile) -> None:
    track("identify", {"userId": "jane+test@example.com / 1"})

    assert profile("user_id:jane%2Btest%40example.com%20%2F%201").status_code == 200
    # '+' is not a space in a path: an id with a space is a different id.
    assert profile("user_id:jane+test@example.com%20%2F%201").status_code == 200
    assert profile("user_id:jane%20test%40example.com%20%2F%201").status_code == 404


def test_an_event_linking_two_profiles_merges_them(
    sandbox: Sandbox, track, profile
) -> None:
    track("identify", {"anonymousId": "anon-1", "traits": {"first_seen": "web"}})
    track("identify", {"userId": "u-1", "traits": {"plan": "pro"}})
    track("track", {"userId": "u-1", "anonymousId": "anon-1", "event": "Logged In"})

    external_ids = profile("anonymous_id:anon-1", "external_ids").json()["data"]

    assert {(record["type"], record["id"]) for record in external_ids} == {
        ("user_id", "u-1"),
        ("anonymous_id", "anon-1"),
    }
    assert all(
        record["collection"] == "users" and record["source_id"]
        for record in external_ids
    )
    assert profile("user_id:u-1").json()["traits"] == {
        "first_seen": "web",
        "plan": "pro",
    }
    assert len(sandbox.profiles()["spa_sandbox"]) == 1


def test_metadata_and_events_resources(track, profile) -> None:
    track("identify", {"userId": "u-1", "messageId": "first"})
    track("track", {"userId": "u-1", "event": "Order Completed", "messageId": "second"})

    metadata = profile("user_id:u-1", "metadata").json()["metadata"]
    events = profile("user_id:u-1", "events").json()["data"]

    assert (metadata["first_message_id"], metadata["last_message_id"]) == (
        "first",
        "second",
    )
    assert metadata["created_at"] <= metadata["updated_at"]
    assert [(event["type"], event["event"]) for event in events] == [
        ("track", "Order Completed"),
        ("identify", None),
    ]


def test_traits_are_paged_ten_at_a_time_by_default(track, profile) -> None:
    track("identify", {"userId": "u-1", "traits": {f"t{i:02d}": i for i in range(12)}})

    first = profile("user_id:u-1").json()
    rest = profile("user_id:u-1", params={"next": first["cursor"]["next"]}).json()

    assert len(first["traits"]) == 10 and first["cursor"]["has_more"] is True
    assert len(rest["traits"]) == 2 and rest["cursor"]["has_more"] is False


def test_bad_or_missing_token_is_a_401(
    sandbox: Sandbox, http: httpx.Client, profile
) -> None:
    url = f"{sandbox.profile_url}/v1/spaces/spa_sandbox/collections/users/profiles/user_id:x/traits"

    for response in (profile("user_id:x", token="wrong-token"), http.get(url)):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


def test_unknown_space_is_a_404_and_unknown_id_type_a_400(profile) -> None:
    assert profile("user_id:x", space="spa_other").status_code == 404
    assert profile("email:jane%40example.com").status_code == 400


def test_space_rate_limit_answers_429_with_retry_after(http: httpx.Client) -> None:
    with Sandbox(profile_rate_limit=5) as sb:
        url = f"{sb.profile_url}/v1/spaces/spa_sandbox/collections/users/profiles/user_id:x/traits"
        statuses = [http.get(url, auth=(DEMO_PROFILE_TOKEN, "")) for _ in range(8)]

    assert [response.status_code for response in statuses[:5]] == [404] * 5
    limited = statuses[-1]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["Request-Id"]


def test_reset_forgets_profiles_and_events_but_keeps_keys(
    sandbox: Sandbox, track, profile
) -> None:
    track("identify", {"userId": "u-1", "messageId": "m"})
    sandbox.reset()

    assert profile("user_id:u-1").status_code == 404 and sandbox.events() == []
    track("identify", {"userId": "u-1", "messageId": "m"})
    assert sandbox.events()[0]["status"] == "accepted", (
        "dedup memory goes with the events"
    )
