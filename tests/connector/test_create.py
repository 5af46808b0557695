"""`abseg connector create`: the file it writes, what it refuses, and what it only warns about."""

from __future__ import annotations

import json
import os
import stat
import tomllib

import keyring
from keyring.backends import fail


def test_create_then_validate_succeeds(cli, connectors):
    cli("key", "set", "prod", "--stdin", input="a" * 32)
    created = cli("connector", "create", "prod", "--env-id", "c1ndrd07m0300ro0jf20", "--write-key", "prod")
    assert created.exit_code == 0, created.output
    assert "Created connector 'prod'" in created.stderr
    assert "warning" not in created.stderr

    validated = cli("connector", "validate", "prod")
    assert validated.exit_code == 0, validated.output
    assert validated.stdout.startswith("ok: prod")


def test_file_holds_references_with_defaults_and_is_owner_only(cli, connectors):
    result = cli(
        "connector", "create", "shop", "--env-id", "env1", "--write-key", "shop-key",
        "--decision-api-key", "env:FER_KEY", "--profile-space", "spa_abc", "--profile-token", "keyring:unify",
    )
    assert result.exit_code == 0, result.output
    path = connectors / "shop.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text()) == {
        "schema": 1,
        "name": "shop",
        "env_id": "env1",
        "region": "us",
        "visitor_field": "userId",
        "write_key": "keyring:shop-key",
        "decision_api_key": "env:FER_KEY",
        "profile": {"space_id": "spa_abc", "token": "keyring:unify"},
    }


def test_existing_connector_is_kept_without_force(cli, connectors):
    assert cli("connector", "create", "prod", "--env-id", "one", "--write-key", "prod").exit_code == 0
    again = cli("connector", "create", "prod", "--env-id", "two", "--write-key", "prod")
    assert again.exit_code == 2
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert 'env_id = "one"' in (connectors / "prod.toml").read_text()

    forced = cli("connector", "create", "prod", "--env-id", "two", "--write-key", "prod", "--force")
    assert forced.exit_code == 0
    assert 'env_id = "two"' in (connectors / "prod.toml").read_text()


def test_unsafe_names_are_refused_and_nothing_is_written(cli, isolated):
    for name in ("../escape", "a/b", ".hidden", "prod.toml", "", "con", "x" * 65):
        result = cli("connector", "create", name, "--env-id", "env1", "--write-key", "prod")
        assert result.exit_code == 2, (name, result.output)
        assert result.stderr.startswith("error: NAME ")
    written = [p for p in isolated.parent.rglob("*") if p.is_file()]
    assert written == []


def test_bad_values_are_all_named_at_once(cli, connectors):
    result = cli(
        "connector", "create", "prod", "--env-id", "has space", "--write-key", "prod",
        "--region", "asia", "--visitor-field", "email",
    )
    assert result.exit_code == 2
    assert "--env-id" in result.stderr and "--region" in result.stderr and "--visitor-field" in result.stderr
    assert not (connectors / "prod.toml").exists()


def test_profile_space_and_token_go_together(cli, connectors):
    alone = cli("connector", "create", "prod", "--env-id", "env1", "--write-key", "prod", "--profile-space", "spa_x")
    assert alone.exit_code == 2
    assert "--profile-space and --profile-token go together" in alone.stderr
    token_only = cli("connector", "create", "prod", "--env-id", "env1", "--write-key", "prod", "--profile-token", "t")
    assert token_only.exit_code == 2
    assert not (connectors / "prod.toml").exists()


def test_missing_keys_are_a_warning_with_the_command_to_run(cli, connectors):
    result = cli(
        "connector", "create", "prod", "--env-id", "env1", "--write-key", "prod", "--decision-api-key", "fer", "--json"
    )
    assert result.exit_code == 0
    assert "abseg key set prod --kind write-key --stdin" in result.stderr
    assert "abseg key set fer --kind decision-api-key --stdin" in result.stderr
    document = json.loads(result.stdout)
    assert document["created"] is True and len(document["warnings"]) == 2


def test_no_usable_keyring_is_only_a_warning(cli, connectors):
    keyring.set_keyring(fail.Keyring())
    result = cli("connector", "create", "prod", "--env-id", "env1", "--write-key", "prod")
    assert result.exit_code == 0, result.output
    assert "warning: could not check the Segment write key 'prod'" in result.stderr
    assert (connectors / "prod.toml").exists()


def test_env_reference_is_checked_in_this_shell(cli, connectors, monkeypatch):
    monkeypatch.delenv("MY_WRITE_KEY", raising=False)
    result = cli("connector", "create", "ci", "--env-id", "env1", "--write-key", "env:MY_WRITE_KEY")
    assert result.exit_code == 0
    assert "MY_WRITE_KEY is not set" in result.stderr
    monkeypatch.setenv("MY_WRITE_KEY", "x" * 32)
    quiet = cli("connector", "create", "ci", "--env-id", "env1", "--write-key", "env:MY_WRITE_KEY", "--force")
    assert "warning" not in quiet.stderr
    assert os.environ["MY_WRITE_KEY"] not in (connectors / "ci.toml").read_text()


def test_a_secret_passed_as_key_name_is_refused_unechoed(cli, connectors):
    pasted = "Zx81qPcAa9LmN3bVv7TtR2sKd4FgH6jW"
    for option, value in (("--write-key", pasted), ("--decision-api-key", "keyring:" + pasted), ("--write-key", "ab+/cd==")):
        args = ["--write-key", "prod"] if option != "--write-key" else []
        result = cli("connector", "create", "prod", "--env-id", "env1", option, value, *args)
        assert result.exit_code == 2, result.output
        assert f"error: {option} " in result.stderr and "the value is not shown" in result.stderr
        assert value.removeprefix("keyring:")[:6] not in result.output
    assert not (connectors / "prod.toml").exists()


def test_region_is_case_insensitive_and_written_in_lower_case(cli, connectors):
    for name, given in (("upper", "EU"), ("mixed", "Us")):
        result = cli("connector", "create", name, "--env-id", "env1", "--write-key", "prod", "--region", given)
        assert result.exit_code == 0, result.output
        assert tomllib.loads((connectors / f"{name}.toml").read_text())["region"] == given.lower()
