"""Bulk verify-match at a terminal: the progress bar stays on stderr, results still go to stdout.

Run as a real process whose stderr is a pseudo-terminal (so the bar is drawn) and whose stdout is
a pipe, as in `abseg verify-match --visitors-file F --json > results.jsonl` typed at a terminal.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading


def test_results_reach_redirected_stdout_while_the_bar_draws_on_the_terminal(sandbox, connector, tmp_path):
    visitors = tmp_path / "visitors.txt"
    visitors.write_text("".join(f"v{i}\n" for i in range(40)))
    leader, follower = pty.openpty()
    terminal = bytearray()

    def drain() -> None:  # read the terminal as it fills, as a terminal emulator would
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            terminal.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "abseg", "verify-match", "--visitors-file", str(visitors), "--json"],
            stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL,
            env={**os.environ, "COLUMNS": "100"}, timeout=120,
        )
    finally:
        os.close(follower)
    reader.join(timeout=10)
    os.close(leader)

    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [line["visitor_id"] for line in lines[:-1]] == [f"v{i}" for i in range(40)]
    assert lines[-1]["summary"]["visitors"] == 40
    assert b'"visitor_id"' not in terminal  # nothing of the results went to the terminal
    assert b"40 visitor(s)" in terminal
