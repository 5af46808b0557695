"""A process killed in the middle of saving never leaves a corrupt connector or key index.

The kill is real (SIGKILL to a child process); only its timing is arranged, by making the child's
fsync wait forever, i.e. a save caught after the new bytes were written but before the rename.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

CHILD = r"""
import os, sys, time
from pathlib import Path
from abseg import paths

def stuck_fsync(fd):
    Path(sys.argv[2]).write_text("saving")
    time.sleep(3600)

os.fsync = stuck_fsync
target = Path(sys.argv[1])
paths.atomic_write_text(target, sys.stdin.read())
"""


def kill_mid_save(target, new_text: str, tmp_path) -> None:
    marker = tmp_path / "marker"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(target), str(marker)], stdin=subprocess.PIPE, text=True
    )
    child.stdin.write(new_text)
    child.stdin.close()
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline, "the child never reached its save"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)


def test_killed_connector_save_leaves_the_old_file_whole(cli, isolated, tmp_path):
    assert cli("connector", "create", "prod", "--env-id", "env-1", "--write-key", "prod").exit_code == 0
    target = isolated / "connectors" / "prod.toml"
    before = target.read_text()

    kill_mid_save(target, before.replace("env-1", "env-2") + "# a much longer new version\n" * 1000, tmp_path)

    assert target.read_text() == before
    assert cli("connector", "validate", "prod").exit_code == 0
    listed = cli("connector", "list", "--json")
    assert listed.exit_code == 0
    assert [c["name"] for c in json.loads(listed.stdout)["connectors"]] == ["prod"]


def test_killed_first_save_leaves_no_connector_at_all(cli, isolated, tmp_path):
    target = isolated / "connectors" / "new.toml"
    kill_mid_save(target, 'schema = 1\nname = "new"\n', tmp_path)
    assert not target.exists()
    assert json.loads(cli("connector", "list", "--json").stdout)["connectors"] == []


def test_killed_key_index_save_keeps_the_index_readable(cli, isolated, tmp_path):
    assert cli("key", "set", "prod", "--stdin", input="abcdefghijklmnopqrstuvwxyz012345").exit_code == 0
    index = isolated / "keys.toml"
    before = index.read_text()

    kill_mid_save(index, before + '[keys.half]\nkind = "write', tmp_path)

    assert index.read_text() == before
    listed = cli("key", "list", "--json")
    assert listed.exit_code == 0
    assert [k["name"] for k in json.loads(listed.stdout)["keys"]] == ["prod"]


def test_saved_files_are_owner_only(cli, isolated):
    cli("key", "set", "prod", "--stdin", input="abcdefghijklmnopqrstuvwxyz012345")
    cli("connector", "create", "prod", "--env-id", "env-1", "--write-key", "prod")
    for path in (isolated / "keys.toml", isolated / "connectors" / "prod.toml"):
        assert os.stat(path).st_mode & 0o777 == 0o600
