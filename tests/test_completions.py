"""Shell completions: committed, current, and answering a real completion request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = {"bash": "abseg.bash", "zsh": "_abseg", "fish": "abseg.fish", "powershell": "abseg.ps1"}


def generated(shell: str) -> str:
    env = {**os.environ, "_ABSEG_COMPLETE": f"source_{shell}"}
    done = subprocess.run([sys.executable, "-m", "abseg"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_committed_completion_script_is_current(shell):
    committed = (ROOT / "completions" / SCRIPTS[shell]).read_text()
    # python -m abseg names itself "abseg" too, so the scripts match the installed command's.
    assert generated(shell) == committed, f"completions/{SCRIPTS[shell]} is stale: run scripts/generate-completions"


def test_bash_completion_lists_commands():
    env = {**os.environ, "_ABSEG_COMPLETE": "complete_bash", "COMP_WORDS": "abseg ke", "COMP_CWORD": "1"}
    done = subprocess.run([sys.executable, "-m", "abseg"], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["key"]
