"""Decision API stand-in: strict body, deterministic campaigns, panic, errors and recording."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from abseg.sandbox import DEMO_DECISION_API_KEY, DEMO_ENV_ID, Sandbox

# /work/shared/reference/flagship_decision_response_panic.json
PANIC_REFERENCE = {"visitorId": "visitor_xxx", "campaigns": [], "panic": True}


def campaign_shape(campaign: dict) -> set[str]:
    return set(campaign) | {f"variation.{key}" for key in campaign["variation"]}


def test_response_has_the_reference_shape_and_trigger_hit_false_is_recorded(
    sandbox: Sandbox, decide
) -> None:
    response = decide(
        {"visitor_id": "v-1", "context": {"plan": "pro"}, "trigger_hit": False}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["visitorId"] == "v-1" and body["campaigns"]
    required = {
        "id",
        "slug",
        "type",
        "variationGroupId",
        "variation",
        "variation.id",
        "variation.reference",
        "variation.modifications",
    }
    assert all(required <= campaign_shape(campaign) for campaign in body["campaigns"])
    assert all(
        set(c["variation"]["modifications"]) == {"type", "value"}
        for c in body["campaigns"]
    )
    [recorded] = sandbox.decision_requests()
    assert recorded["env_id"] == DEMO_ENV_ID and recorded["status"] == 200
    assert recorded["body"]["trigger_hit"] is False


def test_assignment_is_deterministic_per_visitor_and_varies_across_visitors(
    decide,
) -> None:
    def variations(visitor: str) -> list[str]:
        return [
            c["variation"]["id"]
            for c in decide({"visitor_id": visitor}).json()["campaigns"]
        ]

    assert variations("v-1") == variations("v-1")
    assert len({tuple(variations(f"v-{i}")) for i in range(30)}) > 1


def test_logged_in_visitor_keeps_the_anonymous_visitors_variations(decide) -> None:
    anonymous = decide({"visitor_id": "anon-7"}).json()["campaigns"]
    logged_in = decide({"visitorId": "user-7", "anonymousId": "anon-7"}).json()

    assert logged_in["visitorId"] == "user-7"
    assert [c["variation"]["id"] for c in logged_in["campaigns"]] == [
        c["variation"]["id"] for c in anonymous
    ]


def test_vip_toggle_is_targeted_on_context(decide) -> None:
    def slugs(context: dict) -> list:
        return [
            c["slug"]
            for c in decide({"visitor_id": "v-1", "context": context}).json()[
                "campaigns"
            ]
        ]

    assert "enableFeatureVIP" in slugs({"isVIP": True})
    assert "enableFeatureVIP" not in slugs({"isVIP": False})
    assert "enableFeatureVIP" not in slugs({"isVIP": 1})


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"visitor_id": "v", "visitorID": "x"}, 'unknown field "visitorID"'),
        ({"visitor_id": "v", "triggerHit": False, "extra": 1}, 'unknown field "extra"'),
        ({"visitor_id": "v", "visitorId": "v"}, 'duplicate field "visitorId"'),
        (
            {"visitor_id": "v", "context": {"cart": {"items": 2}}},
            'context value for "cart"',
        ),
        ({"visitor_id": "v", "context": {"tags": ["a"]}}, 'context value for "tags"'),
        ({"visitor_id": 12}, "invalid value for string field visitor_id"),
        (
            {"visitor_id": "v", "trigger_hit": "false"},
            "invalid value for bool field trigger_hit",
        ),
        ({"context": {}}, "visitor_id is required"),
        ([], "Must be a valid json"),
    ],
)
def test_strict_body_rejects_what_the_real_api_rejects(
    decide, body: object, fragment: str
) -> None:
    response = decide(body)

    assert response.status_code == 400
    assert fragment in response.json()["message"]


def test_unknown_field_message_points_at_the_field(decide) -> None:
    response = decide(content=b'{"bogus": 1}')

    assert response.json() == {
        "message": 'json body is not valid. proto: (line 1:2): unknown field "bogus"'
    }


def test_invalid_json_is_a_400_and_still_recorded(sandbox: Sandbox, decide) -> None:
    response = decide(content=b"{nope")

    assert response.status_code == 400
    assert "Must be a valid json" in response.json()["message"]
    [recorded] = sandbox.decision_requests()
    assert (recorded["status"], recorded["body"], recorded["raw_body"]) == (
        400,
        None,
        "{nope",
    )


def test_snake_and_camel_case_and_nulls_are_accepted(decide) -> None:
    body = {
        "visitorId": "v",
        "anonymous_id": None,
        "visitorConsent": True,
        "trigger_hit": False,
        "context": {"n": 1.5},
    }

    assert decide(body).status_code == 200


def test_wrong_or_missing_api_key_is_403_and_unknown_env_400(decide) -> None:
    wrong = decide({"visitor_id": "v"}, api_key="nope")
    missing = decide({"visitor_id": "v"}, api_key=None)
    unknown_env = decide({"visitor_id": "v"}, env_id="other-env")

    assert wrong.status_code == missing.status_code == 403
    assert "message" in wrong.json()
    assert unknown_env.status_code == 400
    assert unknown_env.json() == {"message": "environment other-env not found"}


def test_registered_environment_needs_its_own_key(sandbox: Sandbox, decide) -> None:
    sandbox.register_environment("env-2", "key-2")

    assert (
        decide({"visitor_id": "v"}, env_id="env-2", api_key="key-2").status_code == 200
    )
    assert (
        decide(
            {"visitor_id": "v"}, env_id="env-2", api_key=DEMO_DECISION_API_KEY
        ).status_code
        == 403
    )


def test_panic_returns_the_reference_panic_document(
    sandbox: Sandbox, decide, http: httpx.Client
) -> None:
    sandbox.set_panic(True)
    via_api = decide({"visitor_id": "visitor_xxx"}).json()
    http.post(f"{sandbox.url}/_sandbox/panic", json={"panic": False})
    after = decide({"visitor_id": "visitor_xxx"}).json()

    assert via_api == PANIC_REFERENCE
    assert "panic" not in after and after["campaigns"]


def test_burst_then_429_with_retry_after(http: httpx.Client) -> None:
    with Sandbox(decision_rate_limit=1, decision_burst=3) as sb:
        url = f"{sb.decision_url}/v2/{DEMO_ENV_ID}/campaigns"
        responses = [
            http.post(
                url,
                json={"visitor_id": "v"},
                headers={"x-api-key": DEMO_DECISION_API_KEY},
            )
            for _ in range(4)
        ]
        recorded = sb.decision_requests()

    assert [response.status_code for response in responses] == [200, 200, 200, 429]
    assert int(responses[-1].headers["Retry-After"]) >= 1
    assert [record["status"] for record in recorded] == [200, 200, 200, 429]


def test_activate_and_hits_only_record(sandbox: Sandbox, http: httpx.Client) -> None:
    activate = http.post(
        f"{sandbox.decision_url}/v2/activate", json={"cid": DEMO_ENV_ID, "vid": "v"}
    )
    hit = http.post(f"{sandbox.hits_url}/", json={"t": "EVENT", "vid": "v"})
    calls = http.get(f"{sandbox.url}/_sandbox/calls").json()

    assert activate.status_code == 204 and hit.status_code == 200
    assert sandbox.activate_calls() == [{"cid": DEMO_ENV_ID, "vid": "v"}]
    assert sandbox.hit_calls() == [{"t": "EVENT", "vid": "v"}]
    assert [call["path"] for call in calls["activate"] + calls["hits"]] == [
        "/v2/activate",
        "/",
    ]


def test_custom_campaigns_file(tmp_path: Path, http: httpx.Client) -> None:
    campaigns = {
        "campaigns": [
            {
                "id": "camp-1",
                "name": "Everyone",
                "slug": "everyone",
                "type": "ab",
                "variationGroupId": "vg-1",
                "variationGroupName": "All",
                "variations": [
                    {
                        "id": "var-1",
                        "name": "Only",
                        "reference": True,
                        "allocation": 100,
                        "modifications": {"type": "FLAG", "value": {"checkout": "v2"}},
                    }
                ],
            }
        ]
    }
    path = tmp_path / "campaigns.json"
    path.write_text(json.dumps(campaigns))

    with Sandbox(campaigns_path=path) as sb:
        body = http.post(
            f"{sb.decision_url}/v2/{DEMO_ENV_ID}/campaigns",
            json={"visitor_id": "v"},
            headers={"x-api-key": DEMO_DECISION_API_KEY},
        ).json()

    assert [c["variation"]["modifications"]["value"] for c in body["campaigns"]] == [
        {"checkout": "v2"}
    ]


def test_invalid_campaigns_file_fails_at_construction(tmp_path: Path) -> None:
    path = tmp_path / "campaigns.json"
    path.write_text(json.dumps({"campaigns": [{"id": "c", "variations": []}]}))

    with pytest.raises(ValueError, match="not a valid campaigns file"):
        Sandbox(campaigns_path=path)
