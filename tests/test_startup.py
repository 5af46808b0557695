"""Start-up stays light: help and completion never load the heavy libraries.

Timings are measured by benchmarks/startup.py (docs/benchmarks.md), never asserted here; what a test
can check without a clock is which modules a command loads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("httpx", "keyring", "pydantic", "rich", "tomli_w", "platformdirs")

PROBE = """
import json, sys
from abseg.cli import run
try:
    run(sys.argv[1:])
except SystemExit:  # a completion request exits from inside run()
    pass
loaded = sorted({m.split('.')[0] for m in sys.modules} & set(json.loads(__import__("os").environ["HEAVY"])))
sys.stderr.write('LOADED=' + json.dumps(loaded) + '\\n')
"""


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--help"], {}),
        (["--version"], {}),
        (["key", "--help"], {}),
        (["connector", "--help"], {}),
        ([], {"_ABSEG_COMPLETE": "complete_bash", "COMP_WORDS": "abseg ", "COMP_CWORD": "1"}),
        ([], {"_ABSEG_COMPLETE": "complete_bash", "COMP_WORDS": "abseg key ", "COMP_CWORD": "2"}),
    ],
)
def test_help_and_completion_load_no_heavy_library(args, env):
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        env={**os.environ, **env, "HEAVY": json.dumps(HEAVY)},
        capture_output=True, text=True, timeout=60,
    )
    line = next((l for l in done.stderr.splitlines() if l.startswith("LOADED=")), None)
    assert line is not None, done.stderr[-500:]
    assert json.loads(line.removeprefix("LOADED=")) == []
