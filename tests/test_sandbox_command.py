"""`abseg sandbox` as users' CI runs it: a background process whose export lines point abseg at it."""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading

import httpx
import pytest


def start_sandbox(*args: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "abseg", "sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    process.lines = lines  # type: ignore[attr-defined]
    return process


def next_line(process: subprocess.Popen) -> str:
    """The sandbox's next stdout line; a sandbox that stops talking fails the test, never hangs it."""
    try:
        return process.lines.get(timeout=30)  # type: ignore[attr-defined]
    except queue.Empty:
        pytest.fail("abseg sandbox printed nothing more within 30 s")


def stop(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    return process.returncode, process.stderr.read()


def test_export_lines_point_abseg_at_the_sandbox(cli):
    process = start_sandbox()
    try:
        exports = {}
        while len(exports) < 7:
            line = next_line(process)
            if line.startswith("export "):
                name, _, value = line.removeprefix("export ").strip().partition("=")
                exports[name] = value
        while not (line := next_line(process)).startswith("# a connector for it: abseg "):
            pass
        create = shlex.split(line.removeprefix("# a connector for it: abseg "))
        assert cli(*create, env=exports).exit_code == 0  # the printed command works as printed
        result = cli("test-event", "--visitor", "ci-visitor", env=exports)
        assert result.exit_code == 0, result.output
        verdict = cli("verify-match", "--visitor", "ci-visitor", env=exports)
        assert verdict.exit_code == 0, verdict.output
        events = httpx.get(exports["ABSEG_SEGMENT_URL"].removesuffix("/segment") + "/_sandbox/events").json()["events"]
        assert [(e["type"], e["userId"], e["status"]) for e in events] == [
            ("identify", "ci-visitor", "accepted"), ("track", "ci-visitor", "accepted")
        ]
    finally:
        code, stderr = stop(process)
    assert code == 0 and "sandbox stopped" in stderr


def test_json_mode_and_fault_injection(cli):
    process = start_sandbox("--json", "--fault-rate", "1", "--seed", "3")
    try:
        text = ""
        while not text.endswith("}\n"):  # one indented JSON document, then the sandbox keeps running
            text += next_line(process)
        document = json.loads(text)
        assert set(document["environment"]) == {
            "ABSEG_SEGMENT_URL", "ABSEG_SEGMENT_CDN_URL", "ABSEG_PROFILE_URL", "ABSEG_DECISION_URL"
        }
        result = cli("key", "check", "x", env={**document["environment"], "ABSEG_WRITE_KEY": document["demo"]["ABSEG_WRITE_KEY"]})
        assert result.exit_code == 4  # every request fails on purpose: a service that kept failing
    finally:
        stop(process)


def test_a_taken_port_is_a_one_line_usage_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "abseg", "sandbox", "--port", str(port)],
                              capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "cannot listen on 127.0.0.1" in done.stderr
