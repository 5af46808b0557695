"""Delivery throughput of abseg's Segment client against the official segment-analytics-python,
both sending the same events to one in-process sandbox, in one run.

    .venv/bin/python benchmarks/test_event_throughput.py [--events N] [--rounds R]

Two shapes are measured:
- batched: N identify+track events through /v1/batch (abseg plans batches as `test-event --repeat`
  does; the official client queues and flushes from its background consumer thread);
- one call at a time: N/10 events sent one request each (abseg's /v1/identify and /v1/track as
  `test-event` does; the official client in sync_mode posts a batch of one per call).
Every event is checked as accepted exactly once by the sandbox, so speed never hides a loss.
"""

from __future__ import annotations

import argparse
import statistics
import time

from abseg.sandbox import DEMO_WRITE_KEY, Sandbox
from abseg.tracking import TrackingClient, build_test_events, plan_requests


def abseg_send(sb: Sandbox, count: int, batch: bool) -> float:
    events = build_test_events(f"bench-{time.time_ns()}", "userId", "abseg Benchmark", count // 2)
    requests = plan_requests(events, batch=batch)
    started = time.perf_counter()
    with TrackingClient(DEMO_WRITE_KEY, sb.segment_url) as client:
        client.send(requests)
    return time.perf_counter() - started


def official_send(sb: Sandbox, count: int, batch: bool) -> float:
    from segment.analytics.client import Client

    visitor = f"bench-{time.time_ns()}"
    client = Client(DEMO_WRITE_KEY, host=sb.segment_url, sync_mode=not batch, max_queue_size=count + 10)
    started = time.perf_counter()
    for _ in range(count // 2):
        client.identify(visitor, {"abseg_test": True})
        client.track(visitor, "abseg Benchmark", {"source": "benchmark"})
    client.flush()
    elapsed = time.perf_counter() - started
    if batch:
        client.join()  # stop its consumer thread (sync mode has none)
    return elapsed


def accepted_once(sb: Sandbox, expected: int) -> None:
    events = sb.events()
    accepted = [e["messageId"] for e in events if e["status"] == "accepted"]
    assert len(accepted) == len(set(accepted)) == expected, (len(accepted), expected)
    sb.reset()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with Sandbox() as sb:
        for shape, count, batch in (("batched", args.events, True), ("one call at a time", args.events // 10, False)):
            timings: dict[str, list[float]] = {"abseg": [], "analytics-python": []}
            for _ in range(args.rounds):  # interleaved, so drift hits both alike
                for name, send in (("abseg", abseg_send), ("analytics-python", official_send)):
                    timings[name].append(send(sb, count, batch))
                    accepted_once(sb, count)
            ours, theirs = (statistics.median(timings[n]) for n in ("abseg", "analytics-python"))
            rows.append((shape, count, count / ours, count / theirs, theirs / ours))
    print("| shape | events | abseg (events/s) | analytics-python (events/s) | abseg speed-up |")
    print("|---|---:|---:|---:|---:|")
    for shape, count, ours, theirs, ratio in rows:
        print(f"| {shape} | {count} | {ours:,.0f} | {theirs:,.0f} | {ratio:.2f}x |")
    print(f"\nMedian of {args.rounds} interleaved rounds; every event checked accepted exactly once.")


if __name__ == "__main__":
    main()
