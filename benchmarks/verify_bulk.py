"""Bulk verify-match against an in-process sandbox: rate limits kept, and memory flat in visitors.

    .venv/bin/python benchmarks/verify_bulk.py [--visitors 10000] [--memory-visitors 10000 100000]

1. Throughput: `--visitors` Segment-known visitors verified at the default client-side limits
   (Decision API 200/s, Profile API 100/s) against a sandbox enforcing the real services' limits
   (200/s with bursts to 600; 100/s). Reports visitors/s and requests/s per service against the
   limit, and every 429 abseg received (there must be none).
2. Memory: `abseg verify-match --visitors-file F --json` run as a child process for each size of
   `--memory-visitors`, with the limits lifted on both sides so the large run takes minutes, not
   hours; the child's peak RSS shows whether memory grows with the number of visitors. The sandbox
   stays in this process, so its own logs do not count against abseg.

Prints a markdown snippet for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from abseg.sandbox import (
    DEMO_DECISION_API_KEY,
    DEMO_ENV_ID,
    DEMO_PROFILE_TOKEN,
    DEMO_SPACE_ID,
    DEMO_WRITE_KEY,
    Sandbox,
)

# abseg's CLI in a child that reports its own peak RSS. VmHWM is the high-water mark of the process
# image since exec; ru_maxrss would also count the parent's pages the child shared before exec.
CHILD = """
import sys
from abseg.cli import run
code = run(sys.argv[1:])
try:
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
except OSError:
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.stderr.write(f"PEAK_RSS_KB={peak}\\n")
sys.exit(code)
"""
SEGMENT_BATCH = 2500  # events per Tracking API batch, Segment's documented maximum
UNLIMITED = 100_000.0  # requests/s: no client-side limit in practice


def seed(sb: Sandbox, count: int) -> None:
    """Make Segment (the sandbox) know visitor-0 .. visitor-(count-1) as userIds."""
    with httpx.Client(timeout=60, auth=(DEMO_WRITE_KEY, "")) as http:
        for start in range(0, count, SEGMENT_BATCH):
            batch = [{"type": "identify", "userId": f"visitor-{i}"} for i in range(start, min(count, start + SEGMENT_BATCH))]
            http.post(f"{sb.segment_url}/v1/batch", json={"batch": batch}).raise_for_status()


def write_visitors(path: Path, count: int) -> None:
    with path.open("w") as handle:
        for i in range(count):
            handle.write(f"visitor-{i}\n")


def configure(config_dir: Path, sb: Sandbox) -> dict[str, str]:
    """A connector for the sandbox, and the environment that points abseg at it."""
    connectors = config_dir / "connectors"
    connectors.mkdir(parents=True, exist_ok=True)
    (connectors / "bench.toml").write_text(
        f'schema = 1\nname = "bench"\nenv_id = "{DEMO_ENV_ID}"\nregion = "us"\nvisitor_field = "userId"\n'
        f'write_key = "env:ABSEG_WRITE_KEY"\ndecision_api_key = "env:ABSEG_DECISION_API_KEY"\n\n'
        f'[profile]\nspace_id = "{DEMO_SPACE_ID}"\ntoken = "env:ABSEG_PROFILE_TOKEN"\n'
    )
    env = {
        "ABSEG_CONFIG_DIR": str(config_dir),
        "ABSEG_WRITE_KEY": DEMO_WRITE_KEY,
        "ABSEG_DECISION_API_KEY": DEMO_DECISION_API_KEY,
        "ABSEG_PROFILE_TOKEN": DEMO_PROFILE_TOKEN,
        "CI": "1",
        **sb.environ(),
    }
    os.environ.update(env)
    return env


class StatusCount(logging.Handler):
    """Counts the HTTP statuses abseg received, from the HTTP layer's trace."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[int, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("<- HTTP"):
            status = int(record.args[0])  # type: ignore[index]
            self.counts[status] = self.counts.get(status, 0) + 1


def throughput(count: int) -> dict[str, float]:
    from abseg.connector import select_connector
    from abseg.verification import BulkSummary, Verifier, verify_many, visitor_queries

    with Sandbox() as sb, tempfile.TemporaryDirectory() as tmp:
        configure(Path(tmp), sb)
        seed(sb, count)
        path = Path(tmp) / "visitors.txt"
        write_visitors(path, count)
        statuses = StatusCount()
        logger = logging.getLogger("abseg.http")
        logger.addHandler(statuses)
        logger.setLevel(logging.DEBUG)
        summary = BulkSummary()
        started = time.perf_counter()
        with path.open() as lines, Verifier(select_connector("bench")) as verifier:
            for result in verify_many(verifier, visitor_queries(lines)):
                summary.add(result)
        elapsed = time.perf_counter() - started
        logger.removeHandler(statuses)
        decision_429 = sum(1 for r in sb.decision_requests() if r["status"] == 429)
    assert summary.verdicts == {"forward": count}, summary.as_json()
    return {
        "visitors": count,
        "seconds": elapsed,
        "visitors_per_s": count / elapsed,
        "decision_per_s": count / elapsed,
        "profile_per_s": count / elapsed,  # one lookup per known visitor
        "client_429": statuses.counts.get(429, 0),
        "sandbox_decision_429": decision_429,
        "requests": sum(statuses.counts.values()),
    }


def memory(counts: list[int]) -> list[dict[str, float]]:
    rows = []
    with Sandbox(decision_rate_limit=0, profile_rate_limit=0) as sb, tempfile.TemporaryDirectory() as tmp:
        env = configure(Path(tmp), sb)
        seed(sb, max(counts))
        for count in counts:
            path = Path(tmp) / f"visitors-{count}.txt"
            write_visitors(path, count)
            command = [
                sys.executable, "-c", CHILD, "verify-match", "--visitors-file", str(path), "--json",
                "--decision-rate", str(UNLIMITED), "--profile-rate", str(UNLIMITED),
            ]
            started = time.perf_counter()
            with open(os.devnull, "w") as sink:
                done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, text=True, env={**os.environ, **env})
            elapsed = time.perf_counter() - started
            assert done.returncode == 0, done.stderr[-2000:]
            peak_kb = int(done.stderr.rsplit("PEAK_RSS_KB=", 1)[1].split()[0])
            rows.append({
                "visitors": count,
                "seconds": elapsed,
                "visitors_per_s": count / elapsed,
                "peak_rss_mb": peak_kb / 1024,
            })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=10_000)
    parser.add_argument("--memory-visitors", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()

    speed = throughput(args.visitors)
    sizes = memory(args.memory_visitors)

    print(f"### verify-match --visitors-file ({platform.python_implementation()} {platform.python_version()}, "
          f"{platform.system()} {platform.machine()}, sandbox in-process)\n")
    print("Rate limits (defaults: Decision API 200/s, Profile API 100/s; sandbox enforcing 200/s burst 600, 100/s):\n")
    print("| visitors | time | visitors/s | Decision API req/s (limit 200) | Profile API req/s (limit 100) | 429s received |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {speed['visitors']:,} | {speed['seconds']:.1f} s | {speed['visitors_per_s']:.1f} | "
        f"{speed['decision_per_s']:.1f} | {speed['profile_per_s']:.1f} | "
        f"{speed['client_429']} (sandbox log: {speed['sandbox_decision_429']}) |"
    )
    print("\nMemory (limits lifted on both sides; `abseg verify-match --json` in a child process):\n")
    print("| visitors | time | visitors/s | peak RSS |")
    print("|---:|---:|---:|---:|")
    for row in sizes:
        print(f"| {row['visitors']:,} | {row['seconds']:.1f} s | {row['visitors_per_s']:.0f} | {row['peak_rss_mb']:.1f} MB |")
    if len(sizes) >= 2:
        growth = sizes[-1]["peak_rss_mb"] / sizes[0]["peak_rss_mb"]
        print(f"\n{sizes[-1]['visitors'] // sizes[0]['visitors']}x the visitors: {growth:.2f}x the peak RSS.")


if __name__ == "__main__":
    main()
