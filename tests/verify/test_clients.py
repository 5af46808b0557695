"""DecisionClient and ProfileClient against the sandbox: what they send, and errors never read as answers."""

from __future__ import annotations

import json
import logging

import pytest

from abseg.decision import DecisionClient, campaigns_request_body, parse_context, parse_decision
from abseg.errors import BadInput, ServiceError
from abseg.http import HttpClient, RetryPolicy
from abseg.profiles import IdType, ProfileClient, profile_path_segment
from abseg.sandbox import DEMO_DECISION_API_KEY, DEMO_ENV_ID, DEMO_PROFILE_TOKEN, DEMO_SPACE_ID, Sandbox
from tests.tracking.conftest import refusing_url
from tests.verify.conftest import assert_dry_run_only

FAST = RetryPolicy(attempts=2, backoff=0.01, max_backoff=0.01, deadline=2)
REFERENCE = "/work/shared/reference"
# With fault rate 1.0 this seed's first dozen faults are all failures (no "slow" one, which the
# sandbox still answers normally), so every try fails.
OUTAGE_SEED = 11


def decisions(sb: Sandbox, *, api_key: str = DEMO_DECISION_API_KEY, env_id: str = DEMO_ENV_ID) -> DecisionClient:
    return DecisionClient(sb.decision_url, env_id, api_key, http=HttpClient("FE&R Decision API", policy=FAST))


def profiles(sb: Sandbox, *, token: str = DEMO_PROFILE_TOKEN, space: str = DEMO_SPACE_ID) -> ProfileClient:
    return ProfileClient(sb.profile_url, space, token, http=HttpClient("Segment Profile API", policy=FAST))


# --- Decision API --------------------------------------------------------------------------------


def test_the_body_holds_documented_fields_only_and_never_triggers_a_hit():
    assert campaigns_request_body("v1") == {"visitor_id": "v1", "trigger_hit": False}
    assert campaigns_request_body("v1", "a1", {"isVIP": True}) == {
        "visitor_id": "v1", "anonymous_id": "a1", "context": {"isVIP": True}, "trigger_hit": False,
    }


def test_campaigns_are_parsed_with_names_and_variations(sandbox):
    with decisions(sandbox) as client:
        decision = client.campaigns("v1", context={"isVIP": True})
    assert not decision.panic
    assert {c.label for c in decision.campaigns} >= {"VIP feature rollout"}
    vip = next(c for c in decision.campaigns if c.slug == "enableFeatureVIP")
    assert vip.variation.name == "Feature on" and vip.variation.flags == {"featureEnabled": True}
    [request] = sandbox.decision_requests()
    assert request["body"] == {"visitor_id": "v1", "context": {"isVIP": True}, "trigger_hit": False}


@pytest.mark.parametrize("sample", ["sample1", "sample2", "panic"])
def test_the_reference_responses_parse(sample):
    with open(f"{REFERENCE}/flagship_decision_response_{sample}.json") as handle:
        decision = parse_decision(json.load(handle), "x")
    assert decision.panic is (sample == "panic")
    assert len(decision.campaigns) == {"sample1": 3, "sample2": 2, "panic": 0}[sample]


def test_panic_mode_is_parsed(sandbox):
    sandbox.set_panic(True)
    with decisions(sandbox) as client:
        decision = client.campaigns("v1")
    assert decision.panic and decision.campaigns == ()


def test_a_wrong_api_key_is_a_service_error_not_no_campaigns(sandbox):
    with decisions(sandbox, api_key="wrong-key-wrong-key") as client, pytest.raises(ServiceError) as caught:
        client.campaigns("v1")
    assert caught.value.exit_code == 4
    assert "refused our credentials" in caught.value.message
    assert caught.value.details["refused"] is True


def test_an_unknown_environment_is_a_service_error_naming_it(sandbox):
    with decisions(sandbox, env_id="no-such-env") as client, pytest.raises(ServiceError) as caught:
        client.campaigns("v1")
    assert "does not know the environment 'no-such-env'" in caught.value.message
    assert caught.value.exit_code == 4


def test_a_decision_api_outage_is_a_service_error_after_retries():
    with Sandbox(fault_rate=1.0, seed=OUTAGE_SEED, retry_after_seconds=0) as sb:
        with decisions(sb) as client, pytest.raises(ServiceError) as caught:
            client.campaigns("v1")
        failures = [f["fault"] for f in sb.faults() if f["service"] == "decision"]
        assert_dry_run_only(sb)
    # Every try met a fault that left it unanswered (a "slow" one would have been answered), and
    # the message counts the tries the sandbox saw.
    assert len(failures) == FAST.attempts and "slow" not in failures, failures
    assert f"after {len(failures)} tries" in caught.value.message


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        (["isVIP=true", "beta=FALSE"], {"isVIP": True, "beta": False}),
        (["age=42", "ratio=0.5", "big=1e3", "neg=-7"], {"age": 42, "ratio": 0.5, "big": 1000.0, "neg": -7}),
        (["zip=007", "plan=gold", "empty="], {"zip": "007", "plan": "gold", "empty": ""}),
        (['code="42"', "flag='true'", "eq=a=b"], {"code": "42", "flag": "true", "eq": "a=b"}),
        (["n=nan", "i=inf"], {"n": "nan", "i": "inf"}),
    ],
)
def test_context_values_are_typed_sensibly(pairs, expected):
    assert parse_context(pairs) == expected


@pytest.mark.parametrize("pair", ["novalue", "=x", " key=x", "a=1 a=2"])
def test_bad_context_is_bad_input(pair):
    with pytest.raises(BadInput):
        parse_context(pair.split(" ") if pair.startswith("a=") else [pair])


# --- Profile API ---------------------------------------------------------------------------------


def test_known_and_unknown_ids(sandbox, identify):
    identify(userId="u1", anonymousId="anon-1")
    with profiles(sandbox) as client:
        found = client.lookup(IdType.USER_ID, "u1")
        assert found.found and ("anonymous_id", "anon-1") in found.linked
        assert not client.lookup(IdType.USER_ID, "anon-1").found
        assert client.lookup(IdType.ANONYMOUS_ID, "anon-1").found


@pytest.mark.parametrize("value", ["a+b@example.com", "with space", "slash/ed", "colon:ed", "caf\u00e9", "50%"])
def test_ids_are_url_encoded_so_the_profile_api_sees_them_exactly(sandbox, identify, value):
    identify(userId=value)
    with profiles(sandbox) as client:
        assert client.lookup(IdType.USER_ID, value).found


def test_a_plus_in_an_id_travels_as_2b_and_is_never_read_as_a_space(sandbox, identify, caplog):
    # Read as a space, 'a+b' would be another, unknown person. The sandbox keeps no record of the
    # Profile API paths it served, so the wire form is read from abseg's own HTTP trace.
    identify(userId="a+b")
    with caplog.at_level(logging.DEBUG, logger="abseg.http"), profiles(sandbox) as client:
        plus = client.lookup(IdType.USER_ID, "a+b")
        space = client.lookup(IdType.USER_ID, "a b")

    assert plus.found and not space.found
    requests = [r.getMessage() for r in caplog.records if r.getMessage().startswith("-> GET")]
    assert len(requests) == 2, requests
    assert "/profiles/user_id:a%2Bb/external_ids" in requests[0] and "+" not in requests[0]
    assert "/profiles/user_id:a%20b/external_ids" in requests[1]


def test_the_path_segment_keeps_the_colon_and_encodes_the_value():
    assert profile_path_segment(IdType.USER_ID, "a+b/c d") == "user_id:a%2Bb%2Fc%20d"


def test_a_bad_token_is_a_service_error_not_unknown(sandbox):
    with profiles(sandbox, token="not-the-token") as client, pytest.raises(ServiceError) as caught:
        client.lookup(IdType.USER_ID, "u1")
    assert "refused our access token" in caught.value.message and caught.value.exit_code == 4


def test_an_unknown_space_is_a_service_error_not_unknown(sandbox):
    sandbox.register_space("spa_other", "other-token")
    with profiles(sandbox, token="other-token", space="spa_missing") as client, pytest.raises(ServiceError) as caught:
        client.lookup(IdType.USER_ID, "u1")
    assert "does not know the space" in caught.value.message


def test_a_profile_api_outage_is_a_service_error_not_unknown():
    with Sandbox(fault_rate=1.0, seed=OUTAGE_SEED, retry_after_seconds=0) as sb:
        with profiles(sb) as client, pytest.raises(ServiceError) as caught:
            client.lookup(IdType.USER_ID, "u1")
        failures = [f["fault"] for f in sb.faults() if f["service"] == "profiles"]
    assert len(failures) == FAST.attempts and "slow" not in failures, failures
    assert f"after {len(failures)} tries" in caught.value.message


def test_an_unreachable_profile_api_is_a_service_error():
    with refusing_url() as url:
        client = ProfileClient(
            f"{url}/profiles", DEMO_SPACE_ID, DEMO_PROFILE_TOKEN, http=HttpClient("Segment Profile API", policy=FAST)
        )
        with client, pytest.raises(ServiceError) as caught:
            client.lookup(IdType.USER_ID, "u1")
    assert "could not be reached" in caught.value.message
