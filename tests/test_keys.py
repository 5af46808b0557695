"""`abseg key ...` as a user runs it, on an in-memory keyring (the real one: test_keys_real_keyring.py)."""

from __future__ import annotations

import json
import stat
import threading
import time

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from tests.local_server import local_server

WRITE_KEY = "abcdefghijklmnopqrstuvwxyz012345"


def stored(cli, name="prod", value=WRITE_KEY, *extra):
    result = cli("key", "set", name, "--stdin", *extra, input=value + "\n")
    assert result.exit_code == 0, result.output
    return result


def test_set_list_get_delete_round_trip(cli, isolated):
    stored(cli)
    listed = cli("key", "list", "--json")
    assert listed.exit_code == 0
    assert json.loads(listed.stdout)["keys"] == [
        {"name": "prod", "kind": "write-key", "source": "keyring", "origin": "keyring:prod", "value": "abcd...45", "status": "ok"}
    ]
    assert cli("key", "get", "prod").stdout == WRITE_KEY + "\n"
    assert cli("key", "delete", "prod").exit_code == 0
    assert json.loads(cli("key", "list", "--json").stdout)["keys"] == []
    assert cli("key", "get", "prod").exit_code == 3


def test_human_list_shows_masked_values_only(cli):
    stored(cli)
    stored(cli, "vip-token", "tok_0123456789abcdef0123", "--kind", "profile-token")
    listed = cli("key", "list")
    assert listed.exit_code == 0
    assert "abcd...45" in listed.stdout and "tok_...23" in listed.stdout
    assert WRITE_KEY not in listed.output and "tok_0123456789abcdef0123" not in listed.output


def test_index_holds_names_only_with_owner_only_permissions(cli, isolated):
    stored(cli)
    index = isolated / "keys.toml"
    assert stat.S_IMODE(index.stat().st_mode) == 0o600
    text = index.read_text()
    assert "prod" in text and WRITE_KEY not in text


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is empty"),
        ("CANARYleft CANARYright0123", "whitespace"),
        (" CANARYleading0123456789", "whitespace"),
        ("CANARY\x07bell0123456789", "control characters"),
    ],
)
def test_set_refuses_values_that_cannot_be_keys(cli, isolated, value, problem):
    result = cli("key", "set", "prod", "--stdin", input=value)
    assert result.exit_code == 2
    assert problem in result.stderr
    assert "CANARY" not in result.output  # a refused secret is still a secret: never echoed
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (isolated / "keys.toml").exists()


def test_set_warns_but_stores_a_write_key_of_unusual_shape(cli):
    result = cli("key", "set", "odd", "--stdin", input="short-key-123")
    assert result.exit_code == 0
    assert "does not look like a Segment write key" in result.stderr
    assert "short-key-123" not in result.stderr
    assert cli("key", "get", "odd").stdout == "short-key-123\n"


def test_set_never_prompts_in_ci(cli):
    result = cli("key", "set", "prod")
    assert result.exit_code == 2
    assert "CI is set" in result.stderr and "--stdin" in result.stderr


def test_set_without_a_keyring_fails_before_asking_for_the_secret(cli):
    keyring.set_keyring(fail.Keyring())
    result = cli("key", "set", "prod")  # no --stdin: it would have been a usage error had it asked
    assert result.exit_code == 3
    assert "never stores secrets in files" in result.stderr


def test_unknown_kind_and_bad_name_are_usage_errors(cli):
    assert cli("key", "set", "prod", "--kind", "password", "--stdin", input=WRITE_KEY).exit_code == 2
    result = cli("key", "set", "../etc/passwd", "--stdin", input=WRITE_KEY)
    assert result.exit_code == 2 and "invalid key name" in result.stderr


def test_env_override_is_shown_as_the_source(cli):
    stored(cli)
    listed = cli("key", "list", "--json", env={"ABSEG_WRITE_KEY": "envkeyENVKEY0123456789abcdefghij"})
    assert listed.exit_code == 0
    (row,) = json.loads(listed.stdout)["keys"]
    assert (row["name"], row["source"], row["origin"], row["value"]) == ("prod", "env", "ABSEG_WRITE_KEY", "envk...ij")


def test_key_get_copies_the_stored_key_and_warns_when_an_override_shadows_it(cli):
    """`abseg key get prod | pbcopy` feeds AB Tasty's Integration Hub: it must be the stored key."""
    stored(cli)
    got = cli("key", "get", "prod", env={"ABSEG_WRITE_KEY": "envkeyENVKEY0123456789abcdefghij"})
    assert got.stdout == WRITE_KEY + "\n"
    assert "ABSEG_WRITE_KEY is set" in got.stderr and "envkey" not in got.stderr
    again = cli("key", "set", "prod", "--stdin", input=WRITE_KEY)
    assert "ABSEG_WRITE_KEY is set" in again.stderr


def test_env_override_works_without_any_keyring(cli):
    keyring.set_keyring(fail.Keyring())
    listed = cli("key", "list", "--json", env={"ABSEG_DECISION_API_KEY": "decisionKEY-0123456789"})
    assert listed.exit_code == 0
    (row,) = json.loads(listed.stdout)["keys"]
    assert (row["name"], row["kind"], row["source"], row["value"]) == (
        "ABSEG_DECISION_API_KEY", "decision-api-key", "env", "deci...89"
    )
    assert "keyring" in listed.stderr  # the warning says the keyring itself is unusable


def test_no_keyring_and_no_override_exits_3_with_the_fix(cli):
    keyring.set_keyring(fail.Keyring())
    for args in (["key", "list"], ["key", "get", "prod"], ["key", "set", "prod", "--stdin"]):
        result = cli(*args, input=WRITE_KEY)
        assert result.exit_code == 3, args
        (line,) = result.stderr.strip().splitlines()
        assert "no OS keyring is available" in line and "ABSEG_" in line and "Traceback" not in line


def test_keyrings_alt_plaintext_backend_is_refused(cli):
    class PlaintextKeyring(KeyringBackend):  # stands in for keyrings.alt.file.PlaintextKeyring
        priority = 1

        def get_password(self, service, username):
            return None

        def set_password(self, service, username, password):
            raise AssertionError("a plain-text backend must never receive a secret")

        def delete_password(self, service, username):
            pass

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    keyring.set_keyring(PlaintextKeyring())
    result = cli("key", "set", "prod", "--stdin", input=WRITE_KEY)
    assert result.exit_code == 3
    assert "does not keep secrets safe" in result.stderr


def test_hung_keyring_gives_up_after_the_timeout(cli):
    release = threading.Event()

    class HungKeyring(KeyringBackend):
        priority = 1

        def get_password(self, service, username):
            release.wait(30)

        def set_password(self, service, username, password):
            release.wait(30)

        def delete_password(self, service, username):
            release.wait(30)

    keyring.set_keyring(HungKeyring())
    started = time.monotonic()
    try:
        result = cli("key", "set", "prod", "--stdin", input=WRITE_KEY, env={"ABSEG_KEYRING_TIMEOUT": "0.5"})
    finally:
        release.set()
    assert result.exit_code == 3
    assert "did not answer within 0.5s" in result.stderr
    assert time.monotonic() - started < 10


def test_missing_keys_exit_3(cli):
    assert cli("key", "get", "nope").exit_code == 3
    result = cli("key", "delete", "nope")
    assert result.exit_code == 3 and "abseg key list" in result.stderr


def test_damaged_index_is_a_one_line_error(cli, isolated):
    isolated.mkdir(parents=True)
    (isolated / "keys.toml").write_bytes(b"\xff\xfe[keys")
    result = cli("key", "list")
    assert result.exit_code == 2
    assert "damaged" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(("status", "exit_code"), [(200, 0), (404, 1), (500, 4), (403, 4)])
def test_check_maps_the_settings_cdn_answer_to_exit_codes(cli, status, exit_code):
    stored(cli)
    with local_server(status) as server:
        result = cli("key", "check", "prod", "--json", env={"ABSEG_SEGMENT_CDN_URL": server.url})
    assert result.exit_code == exit_code, result.output
    assert server.paths and all(p == f"/v1/projects/{WRITE_KEY}/settings" for p in server.paths)
    document = json.loads(result.stdout) if status in (200, 404) else None  # exactly one document
    if status == 200:
        assert document["exists"] is True and document["region"] == "us"
    if status == 404:
        assert document["exists"] is False and document["error"]["exit_code"] == 1


def test_check_of_an_unreachable_cdn_exits_4(cli):
    stored(cli)
    with local_server(200) as server:
        url = server.url
    result = cli("key", "check", "prod", env={"ABSEG_SEGMENT_CDN_URL": url})
    assert result.exit_code == 4
    assert "could not be reached" in result.stderr


def test_check_refuses_other_kinds(cli):
    stored(cli, "tok", "tok_0123456789abcdef0123", "--kind", "profile-token")
    assert cli("key", "check", "tok").exit_code == 2


def test_verbose_tracing_ends_with_its_command(cli):
    """In one process (the demo, tests), a --verbose run must not leave later commands tracing."""
    stored(cli)
    with local_server(200) as server:
        traced = cli("--verbose", "key", "check", "prod", env={"ABSEG_SEGMENT_CDN_URL": server.url})
        quiet = cli("key", "check", "prod")
    assert traced.exit_code == quiet.exit_code == 0 and len(server.paths) == 2
    assert "-> GET" in traced.stderr and "abcd...45" in traced.stderr and WRITE_KEY not in traced.output
    assert "-> GET" not in quiet.stderr


def test_verbose_trace_masks_a_key_in_its_url_encoded_form(cli):
    odd = "SECRETcanary/with+chars&more=1234"
    with local_server(200) as server:
        traced = cli("--verbose", "key", "check", "x", env={"ABSEG_SEGMENT_CDN_URL": server.url, "ABSEG_WRITE_KEY": odd})
    assert traced.exit_code == 0 and "-> GET" in traced.stderr
    assert odd not in traced.output and "SECRETcanary%2Fwith%2Bchars%26more%3D1234" not in traced.output


def test_a_404_that_does_not_name_the_key_is_a_wrong_url_not_an_unknown_key(cli):
    stored(cli)
    with local_server(404, body={"message": "no route"}) as server:
        result = cli("key", "check", "prod", env={"ABSEG_SEGMENT_CDN_URL": server.url})
    assert result.exit_code == 4
    assert "ABSEG_SEGMENT_CDN_URL" in result.stderr and WRITE_KEY not in result.stderr


def test_key_list_in_a_pipe_is_plain_aligned_text_never_cut(cli):
    long_name = "production-eu-write-key-for-the-checkout-service"
    stored(cli, long_name)
    listed = cli("key", "list", env={"ABSEG_DECISION_API_KEY": "decisionKEY-0123456789"})
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["NAME", "KIND", "SOURCE", "VALUE"]
    assert rows[0].split() == [long_name, "write-key", "keyring", "abcd...45"]
    assert rows[1].split()[:3] == ["ABSEG_DECISION_API_KEY", "decision-api-key", "env"]
    assert all(not line.endswith(" ") for line in listed.stdout.splitlines())
