"""``abseg test-event`` as a user runs it, against the sandbox."""

from __future__ import annotations

import base64
import json

import pytest

from abseg.sandbox import DEMO_WRITE_KEY, Sandbox
from tests.tracking.conftest import (
    CANARY_KEY,
    UNKNOWN_CANARY_KEY,
    accepted_per_message_id,
    tracking_faults,
)


def _connector(cli, name: str, *, key: str = DEMO_WRITE_KEY, region: str = "us", visitor_field: str = "userId") -> None:
    from abseg.connector import new_connector, save_connector

    assert cli("key", "set", name, "--stdin", input=key).exit_code == 0
    save_connector(new_connector(name, env_id="sandbox-env", write_key=name, region=region, visitor_field=visitor_field))


def test_sends_an_identify_then_a_track_that_segment_accepts(cli, sandbox: Sandbox, env):
    result = cli("test-event", "--visitor", "v1", env=env)

    assert result.exit_code == 0, result.stderr
    events = sandbox.events()
    assert [(e["type"], e["status"], e["userId"]) for e in events] == [
        ("identify", "accepted", "v1"),
        ("track", "accepted", "v1"),
    ]
    assert events[0]["payload"]["traits"] == {"abseg_test": True}
    assert events[1]["event"] == "abseg Test Event"
    for event in events:  # the human report names every messageId and endpoint
        assert event["messageId"] in result.stdout
        assert f"{sandbox.segment_url}{event['endpoint']}" in result.stdout
    assert "Connections > Sources" in result.stdout and "Debugger" in result.stdout


def test_json_is_one_document_with_every_call(cli, sandbox: Sandbox, env):
    result = cli("test-event", "--visitor", "v1", "--event", "Checkout Probe", "--json", env=env)

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["write_key"] == {"value": "sand...01", "source": "ABSEG_WRITE_KEY"}
    assert report["write_key_check"]["exists"] is True
    assert report["region"] == "us" and report["visitor_field"] == "userId"
    assert [c["endpoint"] for c in report["calls"]] == [
        f"{sandbox.segment_url}/v1/identify",
        f"{sandbox.segment_url}/v1/track",
    ]
    assert all(c["status"] == 200 for c in report["calls"])
    sent_ids = [e["messageId"] for c in report["calls"] for e in c["events"]]
    assert sent_ids == [e["messageId"] for e in sandbox.events()]
    assert sandbox.events()[1]["event"] == "Checkout Probe"


def test_unknown_write_key_exits_1_and_sends_nothing(cli, sandbox: Sandbox, env):
    result = cli("test-event", "--visitor", "v1", env=env | {"ABSEG_WRITE_KEY": UNKNOWN_CANARY_KEY})

    assert result.exit_code == 1
    assert "does not know the write key" in result.stderr
    assert "200 even for unknown keys" in result.stderr
    assert sandbox.events() == []


@pytest.mark.parametrize("visitor", ["", " v1", "v1\n", "undefined", "null", "a\x00b", "x" * 1001])
def test_bad_visitor_ids_exit_2_with_no_network_at_all(cli, closed_url, visitor):
    env = {"ABSEG_SEGMENT_URL": closed_url, "ABSEG_SEGMENT_CDN_URL": closed_url, "ABSEG_WRITE_KEY": DEMO_WRITE_KEY}

    result = cli("test-event", "--visitor", visitor, env=env)

    assert result.exit_code == 2, result.stderr  # 4 would mean something tried the network
    assert result.stderr.startswith("error: the visitor ID")


def test_oversized_event_is_refused_before_sending(cli, sandbox: Sandbox, env):
    result = cli("test-event", "--visitor", "v1", "--event", "E" * 40_000, env=env)

    assert result.exit_code == 2
    assert "at most 32 KB per event" in result.stderr
    assert sandbox.events() == []


def test_dry_run_prints_the_exact_requests_and_touches_no_network(cli, closed_url):
    env = {"ABSEG_SEGMENT_URL": closed_url, "ABSEG_SEGMENT_CDN_URL": closed_url, "ABSEG_WRITE_KEY": DEMO_WRITE_KEY}

    human = cli("test-event", "--visitor", "v1", "--dry-run", env=env)
    document = cli("test-event", "--visitor", "v1", "--dry-run", "--json", env=env)

    assert human.exit_code == 0 and document.exit_code == 0, human.stderr + document.stderr
    assert f"POST {closed_url}/v1/identify" in human.stdout
    assert 'Authorization: Basic base64("sand...01:")' in human.stdout
    assert "nothing sent" in human.stderr
    report = json.loads(document.stdout)
    assert report["dry_run"] is True and report["write_key_check"] is None
    identify, track = report["requests"]
    assert identify["url"] == f"{closed_url}/v1/identify" and track["url"] == f"{closed_url}/v1/track"
    assert identify["headers"]["Authorization"] == 'Basic base64("sand...01:")'
    assert identify["body"]["userId"] == "v1" and track["body"]["event"] == "abseg Test Event"
    assert "writeKey" not in identify["body"]


def test_the_only_connector_gives_key_region_and_visitor_field(cli, sandbox: Sandbox):
    _connector(cli, "prod", visitor_field="anonymousId")

    result = cli("test-event", "--visitor", "anon-42", "--json", env=sandbox.environ())

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["connector"] == "prod"
    assert report["write_key"]["source"] == "keyring:prod"
    assert [(e["anonymousId"], e["userId"], e["status"]) for e in sandbox.events()] == [
        ("anon-42", None, "accepted"),
        ("anon-42", None, "accepted"),
    ]


def test_connector_given_as_a_toml_path_is_the_one_used(cli, sandbox: Sandbox, tmp_path):
    # Two connectors in the connectors dir: without --connector the command could not choose, so
    # events sent with the file's key and visitor field can only come from the path given.
    _connector(cli, "prod")
    _connector(cli, "staging")
    assert cli("key", "set", "ci-key", "--stdin", input=CANARY_KEY).exit_code == 0
    path = tmp_path / "elsewhere" / "ci.toml"
    path.parent.mkdir()
    path.write_text(
        'schema = 1\nname = "ci"\nenv_id = "sandbox-env"\nregion = "us"\n'
        'visitor_field = "anonymousId"\nwrite_key = "keyring:ci-key"\n',
        encoding="utf-8",
    )

    result = cli("test-event", "--visitor", "anon-path", "--connector", str(path), "--json", env=sandbox.environ())

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["connector"] == "ci" and report["visitor_field"] == "anonymousId"
    assert report["write_key"]["source"] == "keyring:ci-key"
    assert [(e["type"], e["anonymousId"], e["userId"], e["status"], e["write_key"]) for e in sandbox.events()] == [
        ("identify", "anon-path", None, "accepted", "CANA…"),
        ("track", "anon-path", None, "accepted", "CANA…"),
    ]
    assert CANARY_KEY not in result.output


def test_connector_region_disagreeing_with_segment_exits_1_naming_both(cli, sandbox: Sandbox):
    _connector(cli, "prod", region="eu")  # the demo key's source ingests in the US

    result = cli("test-event", "--visitor", "v1", "--connector", "prod", env=sandbox.environ())

    assert result.exit_code == 1
    assert "region EU" in result.stderr and "in US" in result.stderr
    assert sandbox.events() == []


def test_without_connector_or_write_key_exits_3_saying_how_to_fix_it(cli, sandbox: Sandbox):
    result = cli("test-event", "--visitor", "v1", env=sandbox.environ())

    assert result.exit_code == 3
    assert "abseg connector create" in result.stderr and "ABSEG_WRITE_KEY" in result.stderr


def test_segment_unreachable_exits_4_naming_the_unconfirmed_events(cli, sandbox: Sandbox, closed_url):
    env = sandbox.environ() | {"ABSEG_SEGMENT_URL": closed_url, "ABSEG_WRITE_KEY": DEMO_WRITE_KEY}

    result = cli("test-event", "--visitor", "v1", "--retries", "1", "--json", env=env)

    assert result.exit_code == 4
    error = json.loads(result.stdout)["error"]
    assert error["details"]["confirmed"] == []
    identify_id = error["details"]["not_confirmed"][0]
    assert len(error["details"]["not_confirmed"]) == 2
    assert "2 of 2 events not confirmed" in result.stderr and identify_id in result.stderr


def test_bulk_under_faults_every_event_arrives_exactly_once(cli):
    # Seed 4 fails the key check once, then the batch with a 500 and once *after* Segment
    # processed it: the retry carries the same 200 messageIds and de-duplication absorbs them.
    with Sandbox(seed=4, retry_after_seconds=1, slow_seconds=0.05) as sandbox:
        sandbox.set_fault_rate(0.3)
        env = sandbox.environ() | {"ABSEG_WRITE_KEY": DEMO_WRITE_KEY}
        result = cli("test-event", "--visitor", "bulk-1", "--repeat", "100", "--json", env=env)
        events, accepted = sandbox.events(), accepted_per_message_id(sandbox)
        processed_unanswered = tracking_faults(sandbox, "drop_after_processing")

    assert result.exit_code == 0, result.stderr
    sent = [e["messageId"] for call in json.loads(result.stdout)["calls"] for e in call["events"]]
    assert len(sent) == len(set(sent)) == 200
    assert accepted == dict.fromkeys(sent, 1)
    # The scenario needs at least one batch processed but never answered; each such batch is
    # resent whole, so it comes back as one duplicate per event it held.
    assert processed_unanswered, "this seed no longer drops a processed batch: pick one that does"
    assert {f["path"] for f in processed_unanswered} == {"/v1/batch"}
    duplicates = [e for e in events if e["status"] == "duplicate"]
    assert len(duplicates) == len(sent) * len(processed_unanswered)
    assert all(e["retry_count"] for e in duplicates)
    first_payload = {e["messageId"]: e["payload"] for e in events if e["status"] == "accepted"}
    assert all(e["payload"] == first_payload[e["messageId"]] for e in duplicates)  # resent byte for byte


def test_bulk_that_keeps_failing_exits_4_naming_every_unconfirmed_event(cli):
    # Seed 9: the key check passes, then the batch is rate limited and --retries 0 allows no retry.
    with Sandbox(seed=9, fault_rate=0.3, retry_after_seconds=1) as sandbox:
        env = sandbox.environ() | {"ABSEG_WRITE_KEY": DEMO_WRITE_KEY}
        result = cli("test-event", "--visitor", "bulk-1", "--repeat", "100", "--retries", "0", "--json", env=env)
        accepted = accepted_per_message_id(sandbox)
        faults = tracking_faults(sandbox)

    assert result.exit_code == 4
    details = json.loads(result.stdout)["error"]["details"]
    assert len(details["not_confirmed"]) == 200 and details["confirmed"] == []
    assert "200 of 200 events not confirmed" in result.stderr and "all listed with --json" in result.stderr
    # One try (--retries 0), and a fault that left it unanswered: what Segment did with the events
    # depends on whether the fault came before or after processing them.
    (fault,) = faults
    assert fault["path"] == "/v1/batch" and fault["fault"] != "slow"
    if fault["fault"] == "drop_after_processing":
        assert accepted == dict.fromkeys(details["not_confirmed"], 1)
    else:
        assert not accepted


# --- the write key never shows -------------------------------------------------------------------

CANARY_FORMS = (CANARY_KEY, base64.b64encode(f"{CANARY_KEY}:".encode()).decode())


@pytest.mark.parametrize(
    ("args", "exit_code", "events_received", "shown"),
    [
        (["test-event", "--visitor", "v1"], 0, 2, "HTTP 200  POST"),
        (["--verbose", "test-event", "--visitor", "v1"], 0, 2, "HTTP 200  POST"),
        (["--verbose", "test-event", "--visitor", "v1", "--json"], 0, 2, '"calls": ['),
        (["--verbose", "test-event", "--visitor", "v1", "--dry-run"], 0, 0, "Authorization: Basic base64("),
        (["test-event", "--visitor", "v1", "--dry-run", "--json"], 0, 0, '"dry_run": true'),
        (["--verbose", "test-event", "--visitor", "undefined"], 2, 0, "error: the visitor ID"),
    ],
    ids=["plain", "verbose", "verbose-json", "dry-run", "dry-run-json", "bad-visitor"],
)
def test_the_write_key_never_appears_in_output(cli, sandbox: Sandbox, args, exit_code, events_received, shown):
    result = cli(*args, env=sandbox.environ() | {"ABSEG_WRITE_KEY": CANARY_KEY})

    # The command really ran as far as it should: a check of an output that stopped early proves nothing.
    assert result.exit_code == exit_code, result.output
    assert shown in result.output
    events = sandbox.events()
    assert len(events) == events_received
    assert all(e["status"] == "accepted" and e["userId"] == "v1" for e in events), events
    if "--verbose" in args and events_received:
        assert "->" in result.stderr  # the HTTP trace, where a key would most likely slip out, was printed
    for form in CANARY_FORMS:
        assert form not in result.output


def test_the_write_key_never_appears_on_error_paths(cli, sandbox: Sandbox, closed_url):
    unknown = cli("--verbose", "test-event", "--visitor", "v1", env=sandbox.environ() | {"ABSEG_WRITE_KEY": UNKNOWN_CANARY_KEY})
    down_env = sandbox.environ() | {"ABSEG_SEGMENT_URL": closed_url, "ABSEG_WRITE_KEY": CANARY_KEY}
    down = cli("--verbose", "test-event", "--visitor", "v1", "--retries", "1", "--json", env=down_env)
    cdn_down = cli("test-event", "--visitor", "v1", "--retries", "0", env=down_env | {"ABSEG_SEGMENT_CDN_URL": closed_url})

    assert (unknown.exit_code, down.exit_code, cdn_down.exit_code) == (1, 4, 4)
    leaked = [UNKNOWN_CANARY_KEY, *CANARY_FORMS]
    for result in (unknown, down, cdn_down):
        assert not [form for form in leaked if form in result.output]
