"""`abseg demo`: the newcomer's first command works with no account, no network, and leaves nothing behind."""

from __future__ import annotations

import json

import keyring
import pytest
from keyring.backends import fail

from tests.conftest import abseg_process


def test_demo_without_a_keyring_announces_the_memory_store_and_succeeds(cli, isolated):
    keyring.set_keyring(fail.Keyring())
    result = cli("demo")
    assert result.exit_code == 0, result.output
    assert "keeps its keys in memory, for this run only" in result.stdout
    assert "$ abseg verify-match --visitor demo-visitor-1" in result.stdout
    assert "forward: AB Tasty would forward visitor 'demo-visitor-1'" in result.stdout
    assert "Segment does not know the visitor ID 'demo-visitor-never-seen'" in result.stdout
    assert result.stdout.count("(as expected)") == 10
    assert not isolated.exists()  # the user's own config dir was never touched


def test_demo_json_sums_up_every_step(cli):
    result = cli("demo", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True
    commands = [step["command"] for step in document["steps"]]
    assert commands[-2:] == ["abseg verify-match --visitor demo-visitor-1", "abseg verify-match --visitor demo-visitor-never-seen"]
    assert [step["exit_code"] for step in document["steps"]][-2:] == [0, 1]


@pytest.mark.real_keyring
def test_demo_uses_the_real_keyring_and_cleans_up(secret_service, isolated):
    result = abseg_process("demo", timeout=120)
    assert result.exit_code == 0, result.output
    assert "Keys go to your OS keyring and are deleted at the end." in result.stdout
    names = {line.split()[4] for line in result.stdout.splitlines() if line.startswith("$ abseg key set ")}
    assert len(names) == 3
    for name in names:
        assert secret_service.get_password("abseg", name) is None
    assert not isolated.exists()
