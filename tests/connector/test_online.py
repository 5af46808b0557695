"""`abseg connector validate --online` against the sandbox: each check reported on its own."""

from __future__ import annotations

import json
import socket

import pytest

from abseg.sandbox import (
    DEMO_DECISION_API_KEY,
    DEMO_ENV_ID,
    DEMO_PROFILE_TOKEN,
    DEMO_SPACE_ID,
    DEMO_WRITE_KEY,
    Sandbox,
)


@pytest.fixture
def sandbox(monkeypatch):
    with Sandbox() as sb:
        for name, value in sb.environ().items():
            monkeypatch.setenv(name, value)
        yield sb


@pytest.fixture
def demo(cli, isolated):
    """A connector for the sandbox's demo source, environment and space, keys in the keyring."""

    def make(*, write_key=DEMO_WRITE_KEY, decision_key=DEMO_DECISION_API_KEY, token=DEMO_PROFILE_TOKEN,
             env_id=DEMO_ENV_ID, region="us", space=DEMO_SPACE_ID):
        cli("key", "set", "demo", "--stdin", input=write_key)
        cli("key", "set", "demo-fer", "--kind", "decision-api-key", "--stdin", input=decision_key)
        cli("key", "set", "demo-unify", "--kind", "profile-token", "--stdin", input=token)
        result = cli(
            "connector", "create", "demo", "--env-id", env_id, "--write-key", "demo", "--region", region,
            "--decision-api-key", "demo-fer", "--profile-space", space, "--profile-token", "demo-unify", "--force",
        )
        assert result.exit_code == 0, result.output

    return make


def online(cli) -> tuple[int, dict[str, dict]]:
    result = cli("connector", "validate", "demo", "--online", "--json")
    assert "Traceback" not in result.output
    (connector,) = json.loads(result.stdout)["connectors"]
    return result.exit_code, {check["check"]: check for check in connector.get("online", [])}


def test_working_connector_passes_every_check(cli, sandbox, demo):
    demo()
    code, checks = online(cli)
    assert code == 0
    assert {name: c["status"] for name, c in checks.items()} == {"write_key": "ok", "decision": "ok", "profile": "ok"}
    assert checks["write_key"]["message"] == "Segment knows the write key (sand...01, from keyring:demo), ingests in US"
    text = cli("connector", "validate", "demo", "--online")
    assert text.stdout.splitlines()[1:] == [
        "  write_key: ok: Segment knows the write key (sand...01, from keyring:demo), ingests in US",
        "  decision: ok: the Decision API accepts environment 'sandbox-env' with this key",
        "  profile: ok: the Profile API accepts the token for space 'spa_sandbox'",
    ]


def test_decision_check_never_records_an_exposure(cli, sandbox, demo):
    demo()
    online(cli)
    (request,) = sandbox.decision_requests()
    assert request["body"] == {"visitor_id": "abseg-validate", "trigger_hit": False}
    assert sandbox.activate_calls() == [] and sandbox.hit_calls() == []


def test_each_wrong_credential_is_reported_separately(cli, sandbox, demo):
    demo(write_key="unknownKEY000000000000000000000x", decision_key="wrong-decision-key", token="wrong-token")
    code, checks = online(cli)
    assert code == 1
    assert checks["write_key"]["message"] == "Segment does not know the write key (unkn...0x, from keyring:demo)"
    assert checks["decision"]["message"] == "the Decision API refused the key (wron...ey, from keyring:demo-fer)"
    assert checks["profile"]["message"] == "the Profile API refused the token (wr..., from keyring:demo-unify)"


def test_unknown_environment_and_space(cli, sandbox, demo):
    sandbox.register_space("spa_other", "other-token")
    demo(env_id="no-such-env", space="spa_other", token=DEMO_PROFILE_TOKEN)
    code, checks = online(cli)
    assert code == 1
    assert checks["decision"]["message"] == "the Decision API does not know environment 'no-such-env'"
    assert checks["profile"]["message"] == "the Profile API does not know space 'spa_other' for this token"
    assert checks["write_key"]["status"] == "ok"


def test_region_contradicting_the_source_is_an_error(cli, sandbox, demo):
    demo(region="eu")
    code, checks = online(cli)
    assert code == 1
    assert checks["write_key"] == {
        "check": "write_key", "status": "failed",
        "message": "the write key's source ingests in US but region is 'eu'",
    }


def test_missing_parts_are_skipped_or_credential_errors(cli, sandbox, write_connector):
    from tests.connector.conftest import VALID

    write_connector("demo", VALID.replace('"prod"', '"demo"'))
    code, checks = online(cli)
    assert code == 3
    assert checks["write_key"]["status"] == "missing-credential"
    assert "abseg key set prod --kind write-key" in checks["write_key"]["message"]
    assert checks["decision"]["status"] == "skipped" and checks["profile"]["status"] == "skipped"


def test_invalid_connector_is_not_checked_online(cli, sandbox, write_connector):
    write_connector("demo", "schema = 1\nname = \"demo\"\n")
    code, checks = online(cli)
    assert code == 1 and checks == {}
    assert sandbox.decision_requests() == []


def test_unreachable_services_exit_4(cli, demo, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    for name in ("ABSEG_SEGMENT_CDN_URL", "ABSEG_DECISION_URL", "ABSEG_PROFILE_URL"):
        monkeypatch.setenv(name, dead)
    demo()
    code, checks = online(cli)
    assert code == 4
    assert {c["status"] for c in checks.values()} == {"unreachable"}
    assert checks["decision"]["message"].startswith("Decision API could not be reached")


# --- the text headline agrees with the online checks ----------------------------------------------


def headline(cli) -> tuple[int, str]:
    result = cli("connector", "validate", "demo", "--online")
    return result.exit_code, result.stdout.splitlines()[0]


def test_a_failed_online_check_makes_the_text_headline_fail(cli, sandbox, demo):
    demo(region="eu")
    code, first = headline(cli)
    assert code == 1
    assert first.startswith("failed: demo (") and first.endswith("): file ok, 1 online check failed")
    assert not first.startswith("ok:")


def test_checks_that_could_not_run_make_the_headline_unverified(cli, sandbox, write_connector):
    from tests.connector.conftest import VALID

    write_connector("demo", VALID.replace('"prod"', '"demo"'))
    code, first = headline(cli)
    assert code == 3
    assert first.startswith("unverified: demo (") and first.endswith("): file ok, 1 online check could not run")


def test_several_failed_checks_are_counted_in_the_headline(cli, sandbox, demo):
    demo(write_key="unknownKEY000000000000000000000x", decision_key="wrong-decision-key", token="wrong-token")
    code, first = headline(cli)
    assert code == 1 and first.endswith(": file ok, 3 online checks failed")


def test_the_headline_stays_ok_when_every_online_check_passes(cli, sandbox, demo):
    demo()
    code, first = headline(cli)
    assert code == 0 and first.startswith("ok: demo (") and first.endswith(".toml)")
