"""Fault injection: each kind of misbehaviour happens, reproducibly, and never on /_sandbox."""

from __future__ import annotations

import httpx
import pytest

from abseg.sandbox import DEMO_WRITE_KEY, Sandbox

TRACK = {"userId": "u-1", "event": "Retried", "messageId": "retry-me"}


def send(sb: Sandbox, body: dict = TRACK) -> httpx.Response | Exception:
    """One tracking call on a fresh connection, so a dropped connection affects only this call."""
    try:
        return httpx.post(
            f"{sb.segment_url}/v1/track",
            json=body,
            auth=(DEMO_WRITE_KEY, ""),
            timeout=5,
        )
    except httpx.TransportError as error:
        return error


def outcome(result: httpx.Response | Exception) -> str:
    return str(result.status_code) if isinstance(result, httpx.Response) else "dropped"


def test_every_fault_kind_shows_up_with_a_fixed_seed_and_answers_as_documented() -> (
    None
):
    with Sandbox(
        fault_rate=1.0, seed=7, slow_seconds=0.05, retry_after_seconds=3
    ) as sb:
        results = [send(sb, {**TRACK, "messageId": f"m-{i}"}) for i in range(25)]
        faults = [fault["fault"] for fault in sb.faults()]
        accepted = {
            event["messageId"] for event in sb.events() if event["status"] == "accepted"
        }

    assert set(faults) == {
        "server_error",
        "rate_limited",
        "slow",
        "drop_before_processing",
        "drop_after_processing",
    }
    for i, (fault, result) in enumerate(zip(faults, results, strict=True)):
        expected = {"server_error": "500", "rate_limited": "429", "slow": "200"}.get(
            fault, "dropped"
        )
        assert outcome(result) == expected, fault
        if fault == "rate_limited":
            assert result.headers["Retry-After"] == "3"
        # Only what was processed is ingested: a drop after processing still counts.
        assert (f"m-{i}" in accepted) == (fault in ("slow", "drop_after_processing"))


def test_same_seed_gives_the_same_faults() -> None:
    def run() -> list[str]:
        with Sandbox(fault_rate=0.5, seed=42, slow_seconds=0.01) as sb:
            for i in range(12):
                send(sb, {**TRACK, "messageId": f"m-{i}"})
            return [f"{fault['path']} {fault['fault']}" for fault in sb.faults()]

    first = run()
    assert first == run()
    assert 0 < len(first) < 12


def test_drop_after_processing_then_retry_is_one_accepted_and_one_duplicate() -> None:
    # seed 0 with rate 1.0: find the first request that draws a drop after processing.
    with Sandbox(fault_rate=1.0, seed=0, slow_seconds=0.01) as sb:
        while True:
            result = send(sb)
            if sb.faults()[-1]["fault"] == "drop_after_processing":
                break
        assert outcome(result) == "dropped"
        sb.set_fault_rate(0.0)
        retry = send(sb)
        statuses = [
            event["status"]
            for event in sb.events()
            if event["messageId"] == TRACK["messageId"]
        ]

    assert outcome(retry) == "200"
    assert statuses == ["accepted", "duplicate"]


def test_inspection_endpoints_are_never_faulted() -> None:
    with Sandbox(fault_rate=1.0, seed=1) as sb:
        responses = [
            httpx.get(f"{sb.url}/_sandbox/events", timeout=5) for _ in range(10)
        ]
        assert all(response.status_code == 200 for response in responses)
        assert sb.faults() == []


def test_fault_rate_can_be_changed_over_http_and_is_validated(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    changed = http.post(f"{sandbox.url}/_sandbox/fault-rate", json={"fault_rate": 0.25})
    refused = http.post(f"{sandbox.url}/_sandbox/fault-rate", json={"fault_rate": 2})

    assert changed.json() == {"fault_rate": 0.25}
    assert refused.status_code == 400
    assert http.get(f"{sandbox.url}/_sandbox/faults").json()["fault_rate"] == 0.25
    with pytest.raises(ValueError):
        sandbox.set_fault_rate(-0.1)
