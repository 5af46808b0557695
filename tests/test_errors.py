"""The one error path: documented exit codes, one line for user mistakes, a traceback only for bugs."""

from __future__ import annotations

import json

import keyring
from keyring.backends import fail


def test_usage_error_is_one_line_exit_2(cli):
    result = cli("key", "set")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "abseg key set --help" in line


def test_unknown_command_is_a_usage_error(cli):
    result = cli("frobnicate")
    assert result.exit_code == 2 and "No such command" in result.stderr


def test_errors_under_json_are_a_json_object_on_stdout(cli):
    keyring.set_keyring(fail.Keyring())
    result = cli("key", "list", "--json")
    assert result.exit_code == 3
    error = json.loads(result.stdout)["error"]
    assert (error["type"], error["exit_code"]) == ("credential", 3)
    assert "keyring" in error["message"] and error["hint"]
    assert result.stderr.startswith("error: ")


def test_usage_errors_under_json_are_json_too(cli):
    result = cli("connector", "create", "x", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["type"] == "usage"


def test_a_bug_shows_its_traceback_and_how_to_report_it(cli, monkeypatch):
    def broken() -> None:
        raise RuntimeError("an abseg bug")

    monkeypatch.setattr("abseg.secrets.list_keys", lambda: broken())
    result = cli("key", "list")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "RuntimeError: an abseg bug" in result.stderr
    assert "this is a bug in abseg" in result.stderr.splitlines()[-1]


def test_version(cli):
    from abseg import __version__

    result = cli("--version")
    assert (result.exit_code, result.stdout) == (0, f"abseg {__version__}\n")
