"""`abseg verify-match --visitors-file`: streaming input, JSON Lines, JUnit, rate limits, worst exit code."""

from __future__ import annotations

import io
import json
import logging
import time
import xml.etree.ElementTree as ET

import httpx
import pytest

from abseg.errors import BadInput
from abseg.sandbox import DEMO_WRITE_KEY
from abseg.verification import RateLimiter, visitor_queries
from tests.local_server import local_server


def queries(text: str, **kwargs) -> list[tuple]:
    return [
        (q.line, q.visitor_id, q.anonymous_id, q.segment_user_id, q.segment_anonymous_id)
        for q in visitor_queries(io.StringIO(text, newline=""), **kwargs)
    ]


def seed(sandbox, *user_ids: str) -> None:
    """Make Segment know many user IDs with one batch call."""
    batch = [{"type": "identify", "userId": user_id} for user_id in user_ids]
    response = httpx.post(f"{sandbox.segment_url}/v1/batch", json={"batch": batch}, auth=(DEMO_WRITE_KEY, ""), timeout=30)
    assert response.status_code == 200


# --- reading visitors files ----------------------------------------------------------------------


def test_one_id_per_line_skipping_empty_lines_keeping_file_line_numbers():
    assert queries("v1\r\n\nv2\n v3\n") == [(1, "v1", None, None, None), (3, "v2", None, None, None), (4, " v3", None, None, None)]


def test_csv_with_a_header_naming_the_visitor_column_and_per_visitor_ids():
    text = "\ufeffemail,visitor_id,anonymous_id,segment_user_id\na@x,v1,,v1\nb@x,v2,anon-2,\n"
    assert queries(text) == [(2, "v1", None, "v1", None), (3, "v2", "anon-2", None, None)]


def test_a_single_column_with_a_visitor_header_is_csv():
    assert queries("visitorId\nv1\n") == [(2, "v1", None, None, None)]


def test_column_option_picks_the_column():
    assert queries("uid,other\nv1,x\n", column="uid") == [(2, "v1", None, None, None)]


def test_an_ambiguous_header_asks_for_column():
    with pytest.raises(BadInput, match="cannot tell which column") as caught:
        queries("uid,other\nv1,x\n")
    assert "--column" in caught.value.hint
    with pytest.raises(BadInput, match="no column 'nope'"):
        queries("uid,other\n", column="nope")


def test_bytes_that_are_not_utf8_are_bad_input(tmp_path):
    path = tmp_path / "visitors.txt"
    path.write_bytes(b"v1\nv\xff2\n")
    with path.open(encoding="utf-8", newline="") as handle, pytest.raises(BadInput, match="is not UTF-8 text"):
        list(visitor_queries(handle, source=str(path)))


def test_reading_is_lazy():
    def endless():
        number = 0
        while True:
            number += 1
            yield f"v{number}\n"

    stream = visitor_queries(endless())
    assert [next(stream).visitor_id for _ in range(3)] == ["v1", "v2", "v3"]


def test_rate_limiter_spaces_calls_evenly():
    now = [100.0]
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 6))

    limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.acquire()
    assert slept == [0.25, 0.5, 0.75]


# --- bulk runs against the sandbox ---------------------------------------------------------------


def test_json_lines_in_input_order_with_line_numbers_and_a_final_summary(sandbox, cli, connector, tmp_path):
    seed(sandbox, "v1", "v3")
    path = tmp_path / "visitors.txt"
    path.write_text("v1\nv2\nundefined\nv3\n")

    result = cli("verify-match", "--visitors-file", str(path), "--json")

    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(d.get("line"), d.get("visitor_id"), d.get("verdict")) for d in lines[:-1]] == [
        (1, "v1", "forward"), (2, "v2", "no_forward"), (3, "undefined", "invalid"), (4, "v3", "forward"),
    ]
    assert lines[2]["exit_code"] == 2 and "placeholder" in lines[2]["error"]["message"]
    summary = lines[-1]["summary"]
    assert summary["visitors"] == 4
    assert summary["verdicts"] == {"forward": 2, "invalid": 1, "no_forward": 1}
    assert summary["reasons"] == {"unknown_to_segment": 1}
    assert summary["exit_code"] == 2 == result.exit_code
    assert "4 visitor(s)" in result.stderr and "reasons: unknown_to_segment 1" in result.stderr
    assert len(sandbox.decision_requests()) == 3  # the invalid ID never reached the service


def test_human_output_is_one_line_per_visitor_and_the_summary_on_stderr(sandbox, cli, connector):
    seed(sandbox, "v1")
    result = cli("verify-match", "--visitors-file", "-", input="v1\nv2\n")
    assert result.exit_code == 1
    first, second = result.stdout.splitlines()
    assert first.startswith("forward") and "'v1'" in first
    assert second.startswith("no_forward") and "[unknown_to_segment]" in second
    assert "2 visitor(s)" in result.stderr


def test_all_forwarded_exits_0(sandbox, cli, connector):
    seed(sandbox, "v1", "v2")
    assert cli("verify-match", "--visitors-file", "-", input="v1\nv2\n").exit_code == 0


def test_junit_report_has_a_case_per_visitor(sandbox, cli, connector, tmp_path):
    seed(sandbox, "v1")
    report = tmp_path / "reports" / "verify.xml"
    report.parent.mkdir()  # --junit-xml no longer creates missing directories (a typo must not pass)
    result = cli(
        "verify-match", "--visitors-file", "-", "--junit-xml", str(report),
        input="visitor_id\nv1\nv2\n\x01bad\n",
    )
    assert result.exit_code == 2
    suite = ET.parse(report).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"line 2: v1", "line 3: v2", "line 4: \\x01bad"}
    assert cases["line 3: v2"].find("failure").get("type") == "no_forward"
    assert cases["line 4: \\x01bad"].find("error").get("type") == "invalid"
    assert [p.name for p in report.parent.iterdir()] == ["verify.xml"]  # no temporary file left


def test_a_refused_key_stops_the_run_at_once_with_exit_4(sandbox, cli, connector, monkeypatch, tmp_path):
    monkeypatch.setenv("ABSEG_DECISION_API_KEY", "a-wrong-decision-key")
    report = tmp_path / "verify.xml"
    visitors = "".join(f"v{i}\n" for i in range(500))
    result = cli("verify-match", "--visitors-file", "-", "--json", "--junit-xml", str(report), input=visitors)
    assert result.exit_code == 4
    summary = json.loads(result.stdout.splitlines()[-1])["summary"]
    assert "refused our credentials" in summary["aborted"]["message"]
    assert len(sandbox.decision_requests()) < 200  # stopped, not 500 refusals
    assert ET.parse(report).getroot().find("testsuite").get("errors") == "1"
    for line in result.stdout.splitlines():
        json.loads(line)  # still pure JSON Lines


def test_a_service_failing_for_many_visitors_in_a_row_stops_the_run(sandbox, cli, connector, monkeypatch):
    with local_server(500, {"error": {"code": "internal", "message": "boom"}}) as broken:
        monkeypatch.setenv("ABSEG_PROFILE_URL", broken.url)
        visitors = "".join(f"v{i}\n" for i in range(200))
        result = cli("verify-match", "--visitors-file", "-", "--json", input=visitors)
    assert result.exit_code == 4
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {line["verdict"] for line in lines[:-1]} == {"error"}
    assert lines[-1]["summary"]["aborted"]["message"].startswith("stopped after 20 visitors in a row failed")


def test_a_missing_file_or_a_bad_header_exits_2(sandbox, cli, connector, tmp_path):
    missing = cli("verify-match", "--visitors-file", str(tmp_path / "nope.txt"))
    assert missing.exit_code == 2 and "no such visitors file" in missing.stderr
    ambiguous = cli("verify-match", "--visitors-file", "-", "--json", input="a,b\nv1,v2\n")
    assert ambiguous.exit_code == 2 and "--column" in ambiguous.stderr
    assert json.loads(ambiguous.stdout)["summary"]["aborted"]["type"] == "bad_input"


def test_per_visitor_options_are_refused_in_bulk(sandbox, cli, connector):
    result = cli("verify-match", "--visitors-file", "-", "--segment-user-id", "v1", input="v1\n")
    assert result.exit_code == 2 and "CSV columns" in result.stderr


@pytest.fixture
def answered_statuses():
    """Every HTTP status abseg received, from the HTTP layer's own trace."""
    statuses: list[int] = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.msg.startswith("<- HTTP"):
                statuses.append(int(record.args[0]))

    logger = logging.getLogger("abseg.http")
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield statuses
    logger.removeHandler(handler)
    logger.setLevel(level)


DECISION_RATE, PROFILE_RATE = 300.0, 150.0


@pytest.mark.parametrize(
    "sandbox_options",
    # The sandbox enforces exactly the rates abseg is told to keep. The Decision API's burst is a
    # tenth of a second (the real one allows three seconds) to absorb scheduling jitter, no more;
    # the Profile API's is its rate, as documented. Without pacing, 32 threads would blow both.
    [{"decision_rate_limit": DECISION_RATE, "decision_burst": DECISION_RATE / 10, "profile_rate_limit": PROFILE_RATE}],
)
def test_bulk_runs_at_the_configured_rates_and_never_above_them(sandbox, cli, connector, answered_statuses):
    count = 400
    seed(sandbox, *(f"visitor-{i}" for i in range(count)))
    visitors = "".join(f"visitor-{i}\n" for i in range(count))

    started = time.monotonic()
    result = cli(
        "verify-match", "--visitors-file", "-", "--json",
        "--decision-rate", str(DECISION_RATE), "--profile-rate", str(PROFILE_RATE), input=visitors,
    )
    elapsed = time.monotonic() - started

    assert result.exit_code == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1])["summary"]["verdicts"] == {"forward": count}
    assert [r["status"] for r in sandbox.decision_requests()].count(429) == 0
    assert 429 not in answered_statuses and len(answered_statuses) == 2 * count
    # One profile lookup per (known) visitor: the Profile API's rate sets the pace, and is kept. Only
    # the floor is a claim (a busy machine can slow the run, never speed it past the limit); the
    # ceiling only guards against a hang. "Near the limit" is measured by benchmarks/verify_bulk.py.
    assert (count - 1) / PROFILE_RATE * 0.95 <= elapsed < 60


def test_a_file_without_visitors_is_bad_input_not_a_pass(sandbox, cli, connector):
    result = cli("verify-match", "--visitors-file", "-", input="\n\n")
    assert result.exit_code == 2 and "no visitor IDs" in result.stderr


def test_verify_many_reads_ahead_only_a_bounded_window_and_keeps_input_order():
    from abseg.verification import VisitorQuery, verify_many

    class InstantVerifier:  # verify_many's scheduling alone, without services
        def verify(self, query):
            time.sleep(0.001 * (hash(query.visitor_id) % 3))
            raise BadInput("stub")

    pulled = []

    def endless():
        number = 0
        while True:
            number += 1
            pulled.append(number)
            yield VisitorQuery(f"v{number}", line=number)

    results = verify_many(InstantVerifier(), endless(), workers=4)
    first = [next(results).query.line for _ in range(100)]
    results.close()
    assert first == list(range(1, 101))
    assert len(pulled) <= 100 + 2 * 4 + 1
