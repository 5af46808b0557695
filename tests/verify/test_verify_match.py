"""`abseg verify-match` for one visitor, invoked as a user would, against the sandbox."""

from __future__ import annotations

import json

import pytest

from abseg.sandbox import DEMO_DECISION_API_KEY, DEMO_ENV_ID, DEMO_PROFILE_TOKEN, DEMO_WRITE_KEY
from tests.local_server import local_server
from tests.tracking.conftest import refusing_url


@pytest.fixture
def stored_keys(cli):
    """The demo credentials in the (memory) OS keyring, as `abseg key set` stores them."""
    for name, kind, value in (
        ("demo", "write-key", DEMO_WRITE_KEY),
        ("demo-decision", "decision-api-key", DEMO_DECISION_API_KEY),
        ("demo-profile", "profile-token", DEMO_PROFILE_TOKEN),
    ):
        assert cli("key", "set", name, "--kind", kind, "--stdin", input=value).exit_code == 0


def test_after_a_test_event_the_visitor_is_forwarded(sandbox, cli, stored_keys, monkeypatch):
    created = cli(
        "connector", "create", "demo", "--env-id", "sandbox-env", "--write-key", "demo",
        "--decision-api-key", "demo-decision", "--profile-space", "spa_sandbox", "--profile-token", "demo-profile",
    )
    assert created.exit_code == 0, created.output
    assert cli("test-event", "--visitor", "v1").exit_code == 0

    result = cli("verify-match", "--visitor", "v1")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("forward: AB Tasty would forward visitor 'v1' to Segment as userId")
    assert "SIMULATION" in result.stdout and "Experiment Viewed" in result.stdout
    assert [r["body"]["visitor_id"] for r in sandbox.decision_requests()] == ["v1"]


def test_a_visitor_never_sent_is_not_forwarded_because_segment_does_not_know_it(sandbox, cli, connector):
    result = cli("verify-match", "--visitor", "v2")
    assert result.exit_code == 1
    assert result.stdout.startswith("no_forward:")
    assert "[unknown_to_segment] Segment does not know the visitor ID 'v2'" in result.stdout
    assert "fix: " in result.stdout


def test_an_id_sent_as_anonymous_id_to_a_user_id_connector_is_a_named_mismatch(sandbox, cli, connector, identify):
    identify(anonymousId="anon-7")
    result = cli("verify-match", "--visitor", "anon-7")
    assert result.exit_code == 1
    assert "[known_under_other_field] mismatch" in result.stdout
    assert "only as anonymousId" in result.stdout and "forwards the visitor ID as userId" in result.stdout


def test_a_near_miss_with_the_id_read_from_analytics_user_is_named(sandbox, cli, connector, identify):
    identify(userId="v1")
    result = cli("verify-match", "--visitor", "v1", "--segment-user-id", "V1 ")
    assert result.exit_code == 1
    assert "[near_miss] near miss" in result.stdout
    assert "whitespace around it and letter case" in result.stdout


def test_json_output_is_one_document_with_the_verdict(sandbox, cli, connector, identify):
    identify(userId="v1")
    result = cli("verify-match", "--visitor", "v1", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["verdict"] == "forward" and document["exit_code"] == 0
    assert document["connector"] == "demo"
    assert document["segment"]["lookups"] == [{"id": "user_id:v1", "found": True, "linked": []}]
    assert document["simulated_events"]["note"].startswith("simulation:")


def test_without_profile_api_or_supplied_ids_it_says_it_could_not_ask_segment(sandbox, cli, write_connector):
    write_connector(profile=False)
    result = cli("verify-match", "--visitor", "v1")
    assert result.exit_code == 1
    assert result.stdout.startswith("unverified:")
    assert "could not ask Segment" in result.stdout


def test_supplied_ids_alone_can_confirm_a_match(sandbox, cli, write_connector):
    write_connector(profile=False)
    result = cli("verify-match", "--visitor", "v1", "--segment-user-id", "v1")
    assert result.exit_code == 0, result.output


def test_context_reaches_the_decision_api_typed(sandbox, cli, connector, identify):
    identify(userId="v1")
    result = cli("verify-match", "--visitor", "v1", "--context", "isVIP=true", "--context", "age=42", "--json")
    assert "VIP feature rollout" in {c["name"] for c in json.loads(result.stdout)["decision"]["campaigns"]}
    assert sandbox.decision_requests()[0]["body"]["context"] == {"isVIP": True, "age": 42}


def test_anonymous_id_is_sent_and_both_ids_are_checked(sandbox, cli, connector, identify):
    identify(userId="v1")
    result = cli("verify-match", "--visitor", "v1", "--anonymous-id", "anon-1", "--json")
    document = json.loads(result.stdout)
    assert result.exit_code == 1 and document["verdict"] == "unverified"
    assert "continuity_undocumented" in [r["code"] for r in document["reasons"]]
    assert any("undocumented" in w for w in document["warnings"])
    assert sandbox.decision_requests()[0]["body"]["anonymous_id"] == "anon-1"
    looked_up = [lookup["id"] for lookup in document["segment"]["lookups"]]
    assert "user_id:v1" in looked_up and "anonymous_id:anon-1" in looked_up, looked_up


def test_a_connector_given_as_a_path_is_the_one_used(sandbox, cli, write_connector, identify, tmp_path):
    identify(userId="v1")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path = write_connector("ci").rename(elsewhere / "ci.toml")
    write_connector("other", env_id="not-my-env")  # the only one left in the dir: what a default would pick

    result = cli("verify-match", "--visitor", "v1", "--connector", str(path), "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["connector"] == "ci" and document["verdict"] == "forward"
    assert [r["env_id"] for r in sandbox.decision_requests()] == [DEMO_ENV_ID]


@pytest.mark.parametrize("profile", [False, True], ids=["supplied-id-only", "with-profile-api"])
def test_segment_anonymous_id_that_matches_confirms_an_anonymous_id_connector(sandbox, cli, write_connector, identify, profile):
    write_connector("anon", visitor_field="anonymousId", profile=profile)
    identify(anonymousId="anon-9")

    result = cli("verify-match", "--visitor", "anon-9", "--segment-anonymous-id", "anon-9", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["verdict"] == "forward" and document["visitor_field"] == "anonymousId"
    assert document["segment"]["supplied_anonymous_id"] == "anon-9"
    assert "analytics.user().anonymousId() returned the visitor ID 'anon-9'" in document["evidence"]
    assert {e["anonymousId"] for e in document["simulated_events"]["events"]} == {"anon-9"}
    expected_lookups = [{"id": "anonymous_id:anon-9", "found": True, "linked": []}] if profile else []
    assert document["segment"]["lookups"] == expected_lookups


@pytest.mark.parametrize("profile", [False, True], ids=["supplied-id-only", "with-profile-api"])
def test_segment_anonymous_id_that_differs_is_no_forward(sandbox, cli, write_connector, identify, profile):
    # Even when Segment knows the visitor ID, the browser holding another anonymousId means AB
    # Tasty's events would land away from the app's: the browser's word decides.
    write_connector("anon", visitor_field="anonymousId", profile=profile)
    identify(anonymousId="anon-9")

    result = cli("verify-match", "--visitor", "anon-9", "--segment-anonymous-id", "anon-8", "--json")

    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["verdict"] == "no_forward"
    assert document["segment"]["supplied_anonymous_id"] == "anon-8"
    (reason,) = [r for r in document["reasons"] if r["code"] == "supplied_id_differs"]
    assert "'anon-8'" in reason["message"] and "'anon-9'" in reason["message"]


def test_panic_mode_is_no_forward(sandbox, cli, connector, identify):
    identify(userId="v1")
    sandbox.set_panic(True)
    result = cli("verify-match", "--visitor", "v1")
    assert result.exit_code == 1 and "[panic_mode]" in result.stdout


def test_a_wrong_api_key_exits_4_not_no_campaigns(sandbox, cli, connector, monkeypatch):
    monkeypatch.setenv("ABSEG_DECISION_API_KEY", "a-wrong-decision-key")
    result = cli("verify-match", "--visitor", "v1")
    assert result.exit_code == 4
    assert "refused our credentials" in result.stderr
    assert "a-wrong-decision-key" not in result.output
    assert "no_campaign" not in result.output


def test_an_unknown_environment_exits_4(sandbox, cli, write_connector):
    write_connector(env_id="not-my-env")
    result = cli("verify-match", "--visitor", "v1", "--json")
    assert result.exit_code == 4
    assert json.loads(result.stdout)["error"]["message"].startswith("FE&R Decision API does not know the environment")


def test_a_profile_api_outage_exits_4_not_unknown(sandbox, cli, connector, monkeypatch):
    with local_server(503, {"error": {"code": "unavailable", "message": "down"}}) as broken:
        monkeypatch.setenv("ABSEG_PROFILE_URL", broken.url)
        result = cli("verify-match", "--visitor", "v1")
    assert result.exit_code == 4
    assert "Segment Profile API answered HTTP 503" in result.stderr
    assert "unknown_to_segment" not in result.output


def test_an_unreachable_profile_api_exits_4(sandbox, cli, connector, monkeypatch):
    with refusing_url() as url:
        monkeypatch.setenv("ABSEG_PROFILE_URL", f"{url}/profiles")
        result = cli("verify-match", "--visitor", "v1")
    assert result.exit_code == 4 and "could not be reached" in result.stderr


def test_a_bad_profile_token_exits_4(sandbox, cli, connector, monkeypatch):
    monkeypatch.setenv("ABSEG_PROFILE_TOKEN", "not-the-profile-token")
    result = cli("verify-match", "--visitor", "v1")
    assert result.exit_code == 4 and "refused our access token" in result.stderr


def test_a_missing_decision_api_key_exits_3(sandbox, cli, connector, monkeypatch):
    monkeypatch.delenv("ABSEG_DECISION_API_KEY")
    result = cli("verify-match", "--visitor", "v1")
    assert result.exit_code == 3
    assert "abseg key set demo-decision --kind decision-api-key" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--visitor", " v1"], "whitespace around it"),
        (["--visitor", "undefined"], "placeholder"),
        (["--visitor", "v1", "--anonymous-id", ""], "anonymous ID is empty"),
        ([], "exactly one of --visitor"),
        (["--visitor", "v1", "--visitors-file", "x"], "exactly one of --visitor"),
        (["--visitor", "v1", "--context", "oops"], "is not KEY=VALUE"),
        (["--visitor", "v1", "--junit-xml", "r.xml"], "--junit-xml cannot be used with --visitor"),
        (["--visitor", "v1", "--decision-rate", "0"], "--decision-rate must be a positive number"),
    ],
)
def test_bad_input_exits_2_before_any_request(sandbox, cli, connector, args, message):
    result = cli("verify-match", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert sandbox.decision_requests() == []


def test_an_unknown_id_on_a_connector_in_the_wrong_region_gets_the_region_hint(sandbox, cli, write_connector):
    write_connector(region="eu")  # the demo write key's source ingests in the US
    result = cli("verify-match", "--visitor", "v2", "--json")
    codes = [reason["code"] for reason in json.loads(result.stdout)["reasons"]]
    assert result.exit_code == 1 and codes == ["unknown_to_segment", "region_mismatch"]
