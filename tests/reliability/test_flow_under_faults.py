"""The whole flow (keys, connector, test-event, verify-match) many times against a faulty sandbox.

The sandbox injects 500s, 429s, slow answers and connections dropped before or *after* processing.
Whatever it does, abseg must keep three promises a user relies on:

(a) nothing lost or duplicated: an event test-event reports as sent is accepted by Segment exactly
    once, an event it names as unconfirmed is accepted at most once, and no messageId is ever
    accepted twice;
(b) no failure becomes a false ``forward`` (nor a false ``no_forward`` for a visitor Segment knows):
    a failure is exit 4, never a verdict;
(c) verify-match stays a dry-run: every Decision API request says ``trigger_hit: false``, and
    activate and the hits endpoint are never called.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from abseg.sandbox import (
    DEMO_DECISION_API_KEY,
    DEMO_ENV_ID,
    DEMO_PROFILE_TOKEN,
    DEMO_SPACE_ID,
    DEMO_WRITE_KEY,
    Sandbox,
)

ROUNDS = 20




@pytest.fixture
def setup_flow(cli):
    """Keys in the (memory) keyring and one connector, as a user sets them up, with no faults."""

    def setup(sb: Sandbox) -> None:
        for name, kind, value in (
            ("w", "write-key", DEMO_WRITE_KEY),
            ("d", "decision-api-key", DEMO_DECISION_API_KEY),
            ("p", "profile-token", DEMO_PROFILE_TOKEN),
        ):
            stored = cli("key", "set", name, "--kind", kind, "--stdin", input=value)
            assert stored.exit_code == 0, stored.output
        created = cli(
            "connector", "create", "c", "--env-id", DEMO_ENV_ID, "--write-key", "w",
            "--decision-api-key", "d", "--profile-space", DEMO_SPACE_ID, "--profile-token", "p",
            env=sb.environ(),
        )
        assert created.exit_code == 0, created.output

    return setup


def assert_dry_run_only(sb: Sandbox) -> None:
    requests = sb.decision_requests()
    for request in requests:
        assert request["body"].get("trigger_hit") is False, request
    assert sb.activate_calls() == []
    assert sb.hit_calls() == []


def accepted_counts(sb: Sandbox) -> Counter[str]:
    return Counter(e["messageId"] for e in sb.events() if e["status"] == "accepted")


def identify_accepted(sb: Sandbox, visitor: str) -> bool:
    return any(
        e["status"] == "accepted" and e["type"] == "identify" and e["userId"] == visitor for e in sb.events()
    )


@dataclass
class Ledger:
    """What test-event told the user about every messageId."""

    confirmed: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)
    exit_codes: Counter[int] = field(default_factory=Counter)
    verify_codes: Counter[tuple[str, int]] = field(default_factory=Counter)


def run_test_event(cli, visitor: str, retries: int, ledger: Ledger) -> int:
    result = cli("test-event", "--visitor", visitor, "--retries", str(retries), "--json")
    assert result.exit_code in (0, 4), result.output
    ledger.exit_codes[result.exit_code] += 1
    document = json.loads(result.stdout)  # one JSON document, success or not
    if result.exit_code == 0:
        ids = [e["messageId"] for call in document["calls"] for e in call["events"]]
        assert len(ids) == 2, document
        ledger.confirmed += ids
    else:
        error = document["error"]
        assert error["exit_code"] == 4
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
        details = error.get("details") or {}  # none when the write key check itself failed
        ledger.confirmed += details.get("confirmed", [])
        ledger.unconfirmed += details.get("not_confirmed", [])
        if details:
            assert len(details["confirmed"]) + len(details["not_confirmed"]) == 2, details
            for mid in details["not_confirmed"]:
                assert mid in result.stderr  # named to the user, not only in JSON
    return result.exit_code


def run_verify(cli, visitor: str, ledger: Ledger, kind: str) -> tuple[int, dict]:
    result = cli("verify-match", "--visitor", visitor, "--json")
    assert result.exit_code in (0, 1, 4), result.output
    ledger.verify_codes[(kind, result.exit_code)] += 1
    document = json.loads(result.stdout)
    if result.exit_code == 4:
        assert document["error"]["exit_code"] == 4 and "verdict" not in document
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    else:
        assert document["exit_code"] == result.exit_code
        assert (document["verdict"] == "forward") == (result.exit_code == 0), document
    return result.exit_code, document


@pytest.mark.parametrize(
    ("seed", "fault_rate"),
    [(1, 0.3), (2, 0.3), (3, 0.3), (11, 0.7)],
)
def test_the_whole_flow_under_faults_loses_nothing_duplicates_nothing_and_never_forwards_falsely(
    cli, monkeypatch, setup_flow, seed, fault_rate
):
    with Sandbox(seed=seed, retry_after_seconds=0, slow_seconds=0.01) as sb:
        for name, value in sb.environ().items():
            monkeypatch.setenv(name, value)
        setup_flow(sb)
        sb.set_fault_rate(fault_rate)
        ledger = Ledger()
        for n in range(ROUNDS):
            visitor, stranger = f"v{seed}-{n}", f"never-sent-{seed}-{n}"
            # --retries 0 every third round: without retries, faults do reach the user as exit 4.
            sent = run_test_event(cli, visitor, 0 if n % 3 == 0 else 3, ledger)

            code, document = run_verify(cli, visitor, ledger, "sent")
            if code == 0:
                assert identify_accepted(sb, visitor), f"forward for {visitor!r}, whose identify Segment never accepted"
            if sent == 0:
                # Segment knows it: a fault may stop the check (4) but never turn it into no_forward.
                assert code in (0, 4), document
            if code == 1:
                assert not identify_accepted(sb, visitor)
                assert [r["code"] for r in document["reasons"]][:1] == ["unknown_to_segment"], document

            code, document = run_verify(cli, stranger, ledger, "never-sent")
            assert code != 0, f"false forward for a visitor never sent: {document}"
            if code == 1:
                assert document["verdict"] == "no_forward"
                assert "unknown_to_segment" in [r["code"] for r in document["reasons"]], document

        sb.set_fault_rate(0)
        accepted = accepted_counts(sb)
        faults = Counter(f["fault"] for f in sb.faults())
        assert_dry_run_only(sb)

    # The faults really happened, of every kind; at the high rate some reach the user as exit 4.
    assert set(faults) == {"server_error", "rate_limited", "slow", "drop_before_processing", "drop_after_processing"}
    assert ledger.exit_codes[0] > 0, ledger
    if fault_rate > 0.5:
        assert ledger.exit_codes[4] > 0 and ledger.verify_codes[("never-sent", 4)] > 0, ledger
    # (a) nothing lost, nothing duplicated.
    assert [mid for mid, count in accepted.items() if count > 1] == []
    assert len(set(ledger.confirmed + ledger.unconfirmed)) == len(ledger.confirmed) + len(ledger.unconfirmed)
    assert [mid for mid in ledger.confirmed if accepted[mid] != 1] == []
    assert [mid for mid in ledger.unconfirmed if accepted[mid] > 1] == []
    assert set(accepted) <= set(ledger.confirmed) | set(ledger.unconfirmed)  # nothing we did not name


@pytest.mark.parametrize("seed", [5, 6])
def test_bulk_verify_under_faults_reports_every_visitor_once_and_never_forwards_the_unknown(
    cli, monkeypatch, setup_flow, tmp_path, seed
):
    sent = [f"sent-{seed}-{i}" for i in range(100)]
    never = [f"never-{seed}-{i}" for i in range(100)]
    visitors = [v for pair in zip(sent, never) for v in pair]
    path = tmp_path / "visitors.txt"
    path.write_text("".join(f"{v}\n" for v in visitors), encoding="utf-8")

    with Sandbox(seed=seed, retry_after_seconds=0, slow_seconds=0.01, profile_rate_limit=0, decision_rate_limit=0) as sb:
        for name, value in sb.environ().items():
            monkeypatch.setenv(name, value)
        setup_flow(sb)
        batch = [{"type": "identify", "userId": v} for v in sent]
        seeded = httpx.post(f"{sb.segment_url}/v1/batch", json={"batch": batch}, auth=(DEMO_WRITE_KEY, ""), timeout=30)
        assert seeded.status_code == 200
        sb.set_fault_rate(0.3)

        result = cli(
            "verify-match", "--visitors-file", str(path), "--json",
            "--decision-rate", "2000", "--profile-rate", "2000",
        )
        sb.set_fault_rate(0)
        faults = sb.faults()
        assert_dry_run_only(sb)

    assert len(faults) > 50  # the run really went through faults
    lines = [json.loads(line) for line in result.stdout.splitlines()]  # pure JSON Lines
    *per_visitor, last = lines
    summary = last["summary"]
    assert "aborted" not in summary, summary
    # Every visitor exactly once, in input order, with its line number.
    assert [(d["line"], d["visitor_id"]) for d in per_visitor] == list(enumerate(visitors, start=1))
    verdicts = {d["visitor_id"]: d["verdict"] for d in per_visitor}
    assert {verdicts[v] for v in never} <= {"no_forward", "error"}, Counter(verdicts[v] for v in never)
    assert {verdicts[v] for v in sent} <= {"forward", "error"}, Counter(verdicts[v] for v in sent)
    assert Counter(verdicts.values())["forward"] > 50
    for document in per_visitor:
        if document["verdict"] == "error":
            assert document["exit_code"] == 4 and document["error"]["type"] == "service"
        else:
            assert document["exit_code"] == (0 if document["verdict"] == "forward" else 1)
    assert summary["visitors"] == 200
    assert summary["verdicts"] == dict(sorted(Counter(verdicts.values()).items()))
    assert result.exit_code == summary["exit_code"] == max(d["exit_code"] for d in per_visitor)
