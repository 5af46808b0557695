"""The key commands against a real Secret Service (gnome-keyring under dbus-run-session).

These run abseg as a separate process, exactly as a user's shell does. scripts/test starts the
Secret Service; in CI a missing one fails these tests instead of skipping them.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid

import pytest

from tests.conftest import abseg_process

pytestmark = pytest.mark.real_keyring

CANARY = "CANARYkey0123456789abcdefCANARY1"


@pytest.fixture
def name(secret_service):
    """A unique key name, removed from the Secret Service after the test whatever happened."""
    key_name = f"t-{uuid.uuid4().hex[:10]}"
    yield key_name
    try:
        secret_service.delete_password("abseg", key_name)
    except Exception:
        pass


def test_round_trip_through_gnome_keyring(secret_service, name, isolated):
    stored = abseg_process("key", "set", name, "--stdin", input=CANARY)
    assert stored.exit_code == 0, stored.output
    assert secret_service.get_password("abseg", name) == CANARY  # really in the Secret Service

    listed = abseg_process("key", "list", "--json")
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.stdout)["keys"]
    assert (row["name"], row["source"], row["value"], row["status"]) == (name, "keyring", "CANA...Y1", "ok")

    got = abseg_process("key", "get", name)
    assert (got.exit_code, got.stdout) == (0, CANARY + "\n")

    assert abseg_process("key", "delete", name).exit_code == 0
    assert secret_service.get_password("abseg", name) is None
    assert json.loads(abseg_process("key", "list", "--json").stdout)["keys"] == []

    for result in (stored, listed):
        assert CANARY not in result.output
    for path in isolated.rglob("*"):
        if path.is_file():
            assert CANARY not in path.read_text(errors="replace")


def _take_terminal() -> None:
    """In the child: a session of its own whose controlling terminal is the pty (getpass opens /dev/tty)."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_hidden_prompt_with_confirmation(secret_service, name):
    """`key set` at a terminal asks twice without echoing, and stores what was typed."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    process = subprocess.Popen(
        [sys.executable, "-m", "abseg", "key", "set", name],
        stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True,
        preexec_fn=_take_terminal,
    )
    os.close(follower)
    seen = b""

    def read_until(marker: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 20
        while marker not in seen and time.monotonic() < deadline:
            try:
                seen += os.read(leader, 1024)
            except OSError:
                break

    def type_hidden(after_prompt: bytes) -> None:
        read_until(after_prompt)
        # getpass flushes pending input when it turns echo off: type only once it has.
        deadline = time.monotonic() + 20
        while termios.tcgetattr(leader)[3] & termios.ECHO and time.monotonic() < deadline:
            time.sleep(0.02)
        os.write(leader, (CANARY + "\n").encode())

    type_hidden(b"write key")
    type_hidden(b"confirm")
    assert process.wait(timeout=30) == 0
    read_until(b"Stored")
    os.close(leader)
    assert CANARY.encode() not in seen  # the prompt did not echo it
    assert secret_service.get_password("abseg", name) == CANARY


def test_no_secret_service_exits_3_with_a_one_line_fix(isolated):
    result = abseg_process("key", "list", env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"})
    assert result.exit_code == 3
    (line,) = result.stderr.strip().splitlines()
    assert "keyring" in line and "ABSEG_WRITE_KEY" in line
    assert "Traceback" not in result.output


def test_env_override_needs_no_secret_service(isolated):
    result = abseg_process(
        "key", "list", "--json",
        env={"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus", "ABSEG_WRITE_KEY": CANARY},
    )
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["keys"]
    assert (row["source"], row["value"]) == ("env", "CANA...Y1")
    assert CANARY not in result.output


def test_hung_dbus_does_not_hang_the_command(isolated):
    """A D-Bus socket that accepts and never answers: abseg gives up after its timeout, exit 3."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bus")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(8)
        held: list[socket.socket] = []
        stop = threading.Event()

        def accept_and_ignore() -> None:
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(listener.accept()[0])
                except OSError:
                    continue

        threading.Thread(target=accept_and_ignore, daemon=True).start()
        started = time.monotonic()
        try:
            result = abseg_process(
                "key", "list",
                env={"DBUS_SESSION_BUS_ADDRESS": f"unix:path={path}", "ABSEG_KEYRING_TIMEOUT": "1"},
                timeout=30,
            )
        finally:
            stop.set()
            for connection in held:
                connection.close()
            listener.close()
    assert result.exit_code == 3, result.output
    assert "did not answer within 1s" in result.stderr
    assert time.monotonic() - started < 15
