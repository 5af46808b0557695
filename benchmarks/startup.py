"""Start-up time of abseg against a bare `import typer`, measured in one run (ratios, not seconds).

    .venv/bin/python benchmarks/startup.py [--runs N]

Machines here are noisy, so each command runs interleaved with the baseline and the medians are
compared; the ratio is what docs/benchmarks.md records. Target: `abseg --help` <= 1.5x `import typer`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ABSEG = str(BIN / "abseg")

COMMANDS = {
    "python -c 'import typer' (baseline)": ([sys.executable, "-c", "import typer"], {}),
    "abseg --version": ([ABSEG, "--version"], {}),
    "abseg --help": ([ABSEG, "--help"], {}),
    "abseg key --help": ([ABSEG, "key", "--help"], {}),
    "completion: abseg <TAB>": ([ABSEG], {"_ABSEG_COMPLETE": "complete_bash", "COMP_WORDS": "abseg ", "COMP_CWORD": "1"}),
}


def once(argv: list[str], extra_env: dict[str, str]) -> float:
    env = {**os.environ, **extra_env}
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    for argv, env in COMMANDS.values():  # warm the file cache and .pyc files
        once(argv, env)
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, (argv, env) in COMMANDS.items():  # interleaved: drift hits every command alike
            samples[name].append(once(argv, env))
    baseline = statistics.median(next(iter(samples.values())))
    print("| command | median (ms) | ratio to `import typer` |\n|---|---:|---:|")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"| `{name}` | {median * 1000:.0f} | {median / baseline:.2f}x |")
    print(f"\n{runs} interleaved runs each, Python {sys.version.split()[0]}.")


if __name__ == "__main__":
    main()
