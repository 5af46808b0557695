"""`list`, `show`, `delete`, `checklist` and `schema`: what a user reads, secrets always masked."""

from __future__ import annotations

import json

import pytest

from abseg.sandbox import Sandbox
from tests.conftest import _forget_secrets
from tests.connector.conftest import VALID

WRITE_KEY = "Wk7pQ2rS9tUvXy3Za4Bc5De6Fg8Hj1Km"
PROFILE_TOKEN = "pt_9f8e7d6c5b4a3f2e1d0c9b8a"


@pytest.fixture
def prod(cli, connectors):
    cli("key", "set", "prod", "--stdin", input=WRITE_KEY)
    cli("key", "set", "unify", "--kind", "profile-token", "--stdin", input=PROFILE_TOKEN)
    result = cli(
        "connector", "create", "prod", "--env-id", "c1ndrd07m0300ro0jf20", "--write-key", "prod", "--region", "eu",
        "--profile-space", "spa_abc123", "--profile-token", "unify", "--decision-api-key", "env:FER_KEY",
    )
    assert result.exit_code == 0, result.output
    return connectors / "prod.toml"


def test_show_resolves_each_secret_to_its_source_masked(cli, prod):
    result = cli("connector", "show", "prod", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["region"] == "eu" and document["profile_space"] == "spa_abc123"
    assert document["urls"]["segment"] == "https://events.eu1.segmentapis.com"
    assert document["urls"]["profile"] == "https://profiles.euw1.segment.com"
    secrets = document["secrets"]
    assert secrets["write-key"] == {
        "kind": "write-key", "reference": "keyring:prod", "source": "keyring:prod", "value": "Wk7p...Km", "status": "ok",
    }
    assert secrets["profile-token"]["status"] == "ok" and secrets["profile-token"]["value"] == "pt_9...8a"
    assert secrets["decision-api-key"]["status"] == "missing"
    assert "FER_KEY is not set" in secrets["decision-api-key"]["problem"]
    assert document["verify_match"]["segment_lookup"].startswith("Profile API lookups")
    assert document["verify_match"]["decision"].startswith("no usable Decision API key")


def test_show_in_text_names_the_env_override_in_use(cli, prod):
    result = cli("connector", "show", "prod", env={"ABSEG_WRITE_KEY": "E" * 32, "FER_KEY": "fer-key-value-123"})
    assert result.exit_code == 0
    assert "write-key         EEEE...EE (from ABSEG_WRITE_KEY)" in result.stdout
    assert "decision-api-key  fer-...23 (from env:FER_KEY)" in result.stdout
    assert "Decision API: verify-match asks FE&R" in result.stdout


def test_show_without_profile_says_verify_match_relies_on_supplied_ids(cli, write_connector):
    write_connector("prod", VALID)
    result = cli("connector", "show", "prod")
    assert result.exit_code == 0
    assert "profile-token     not configured" in result.stdout
    assert "only user-supplied IDs" in result.stdout
    assert "write-key         missing (keyring:prod)" in result.stdout


def test_show_an_invalid_connector_is_exit_1_pointing_at_validate(cli, write_connector):
    write_connector("prod", VALID.replace('"us"', '"mars"'))
    result = cli("connector", "show", "prod")
    assert result.exit_code == 1
    assert "is invalid: region (line 4): should be 'us' or 'eu'" in result.stderr
    assert "abseg connector validate" in result.stderr


def test_list_json(cli, prod, write_connector):
    write_connector("zz", "]")
    result = cli("connector", "list", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)["connectors"]
    assert rows[0] == {"name": "prod", "path": str(prod), "env_id": "c1ndrd07m0300ro0jf20", "region": "eu", "status": "ok"}
    assert rows[1]["status"] == "unreadable" and "zz.toml: is not valid TOML" in rows[1]["problem"]


def test_list_with_no_connectors_says_how_to_create_one(cli, isolated):
    result = cli("connector", "list")
    assert result.exit_code == 0 and result.stdout == ""
    assert "abseg connector create" in result.stderr


def test_delete_removes_the_file_but_not_the_keys(cli, prod):
    result = cli("connector", "delete", "prod", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"name": "prod", "path": str(prod), "deleted": True}
    assert not prod.exists()
    assert cli("key", "get", "prod").stdout == WRITE_KEY + "\n"
    again = cli("connector", "delete", "prod")
    assert again.exit_code == 2
    assert "no connector 'prod'" in again.stderr and "abseg connector list" in again.stderr


def test_checklist_fills_in_this_connectors_values(cli, prod):
    result = cli("connector", "checklist", "prod")
    assert result.exit_code == 0
    text = result.stdout
    assert "c1ndrd07m0300ro0jf20" in text and "SegmentIO Connector (PUSH)" in text
    assert "keyring:prod: Wk7p...Km, from keyring:prod" in text
    assert "ingest in EU (events.eu1.segmentapis.com)" in text
    assert "`abseg key get prod | " in text
    assert "abseg verify-match --connector prod --visitor ID" in text
    steps = json.loads(cli("connector", "checklist", "prod", "--json").stdout)["steps"]
    assert len(steps) == text.count("\n") - 1


def test_the_only_connector_is_used_when_none_is_named(cli, prod):
    result = cli("test-event", "--visitor", "v1", "--dry-run", "--json")  # --dry-run: no network at all

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["connector"] == "prod" and report["write_key"]["source"] == "keyring:prod"


@pytest.mark.parametrize("command", [["test-event"], ["verify-match"]])
def test_two_connectors_and_no_connector_option_exits_2_naming_them(cli, prod, write_connector, command):
    write_connector("other", VALID.replace('"prod"', '"other"'))

    with Sandbox() as sandbox:  # where the command would go if it guessed a connector
        result = cli(*command, "--visitor", "v1", env=sandbox.environ() | {"FER_KEY": "fer-key-value-123"})
        sent = (sandbox.events(), sandbox.decision_requests())

    assert result.exit_code == 2, result.output  # BadInput: a usage problem, not a failed check
    assert result.stdout == ""
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr  # one line
    assert result.stderr.startswith("error: 2 connectors exist (other, prod)")
    assert "--connector" in result.stderr
    assert sent == ([], [])


def test_url_precedence_env_then_file_then_region(write_connector, monkeypatch):
    from abseg.connector import load_connector

    write_connector("prod", VALID + '[urls]\ndecision = "https://fer-proxy.example.com"\n')
    connector = load_connector("prod")
    assert connector.decision_url() == "https://fer-proxy.example.com"
    assert connector.cdn_url() == "https://cdn-settings.segment.com"
    monkeypatch.setenv("ABSEG_DECISION_URL", "http://127.0.0.1:9/decision")
    assert connector.decision_url() == "http://127.0.0.1:9/decision"


def test_canary_secret_never_reaches_a_file_or_the_output(cli, isolated):
    canary = "CANARYcanary0123456789abcdefABCD"
    assert cli("key", "set", "prod", "--stdin", input=canary).exit_code == 0
    assert cli("key", "set", "unify", "--kind", "profile-token", "--stdin", input=canary + "p").exit_code == 0

    def fresh(*args: str):
        # A new process remembers no secret, so redact() could not hide a leak there: nor here.
        _forget_secrets()
        return cli(*args)

    outputs = [
        fresh("connector", "create", "prod", "--env-id", "env1", "--write-key", "prod",
              "--profile-space", "spa_abc", "--profile-token", "unify", "--decision-api-key", "prod"),
    ]
    for args in (("show", "prod"), ("validate",), ("checklist", "prod"), ("list",)):
        outputs += [fresh("connector", *args), fresh("connector", *args, "--json")]
    for result in outputs:
        assert result.exit_code == 0, result.output
        assert canary[4:-2] not in result.output
    files = [p for p in isolated.rglob("*") if p.is_file()]
    assert any(p.name == "prod.toml" for p in files)
    for path in files:
        assert canary[4:-2].encode() not in path.read_bytes(), path


def test_schema_command_prints_the_json_schema(cli):
    result = cli("connector", "schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["schema", "name", "env_id", "region", "visitor_field", "write_key"]
