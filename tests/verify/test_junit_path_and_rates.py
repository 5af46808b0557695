"""verify-match: an unusable --junit-xml path or an unbounded rate is refused before anything runs."""

from __future__ import annotations

import errno
import json
import os

import httpx
import pytest

from abseg.errors import BadInput
from abseg.sandbox import DEMO_WRITE_KEY
from abseg.verification import JUnitReport, RateLimiter


def _seed(sandbox, *user_ids: str) -> None:
    batch = [{"type": "identify", "userId": user_id} for user_id in user_ids]
    response = httpx.post(f"{sandbox.segment_url}/v1/batch", json={"batch": batch}, auth=(DEMO_WRITE_KEY, ""), timeout=30)
    assert response.status_code == 200


def _unusable_report_paths(tmp_path):
    a_file = tmp_path / "a-file.txt"
    a_file.write_text("not a directory\n")
    return {
        "a directory": (tmp_path, "is a directory"),
        "under a file": (a_file / "report.xml", "is not a directory"),
        "under a missing directory": (tmp_path / "missing" / "report.xml", "does not exist"),
    }


@pytest.mark.parametrize("case", ["a directory", "under a file", "under a missing directory"])
def test_an_unusable_junit_path_is_bad_input_before_any_visitor_is_verified(sandbox, cli, connector, tmp_path, case):
    path, message = _unusable_report_paths(tmp_path)[case]

    result = cli("verify-match", "--visitors-file", "-", "--junit-xml", str(path), input="v1\nv2\n")

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ") and message in result.stderr
    assert "--junit-xml" in result.stderr
    assert sandbox.decision_requests() == []
    assert not (tmp_path / "missing").exists()  # a missing directory is never created behind the user's back


def test_an_unusable_junit_path_in_json_mode_is_one_error_document(sandbox, cli, connector, tmp_path):
    result = cli("verify-match", "--visitors-file", "-", "--json", "--junit-xml", str(tmp_path), input="v1\n")

    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["type"] == "bad_input"
    assert sandbox.decision_requests() == []


def test_a_usable_report_path_passes_the_check(tmp_path):
    from abseg.verification import check_report_path

    check_report_path(tmp_path / "verify.xml")
    existing = tmp_path / "old.xml"
    existing.write_text("<testsuites/>")
    check_report_path(existing)  # replaced at the end, as a re-run in CI does


def test_a_report_that_cannot_be_written_at_the_end_still_leaves_the_summary(
    sandbox, cli, connector, tmp_path, monkeypatch
):
    _seed(sandbox, "v1", "v2")
    real_replace = os.replace

    def disk_full(source, target, *args, **kwargs):
        if str(target).endswith("verify.xml"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", disk_full)
    report = tmp_path / "verify.xml"

    result = cli("verify-match", "--visitors-file", "-", "--json", "--junit-xml", str(report), input="v1\nv2\n")

    assert "Traceback" not in result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["verdict"] for line in lines[:-1]] == ["forward", "forward"]  # every visitor was verified
    summary = lines[-1]["summary"]
    assert summary["exit_code"] == 2 and result.exit_code == 2
    assert summary["aborted"]["type"] == "bad_input"
    assert "cannot write the JUnit report" in summary["aborted"]["message"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "No space left on device" in errors[0]
    assert not report.exists() and list(tmp_path.glob(".verify.xml.*")) == []  # no temporary file left


def test_a_report_failure_after_an_aborted_run_keeps_the_first_cause_and_the_worst_code(
    sandbox, cli, connector, tmp_path, monkeypatch
):
    monkeypatch.setenv("ABSEG_DECISION_API_KEY", "a-wrong-decision-key")
    monkeypatch.setattr(os, "replace", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))

    result = cli("verify-match", "--visitors-file", "-", "--json", "--junit-xml", str(tmp_path / "r.xml"), input="v1\n")

    summary = json.loads(result.stdout.splitlines()[-1])["summary"]
    assert result.exit_code == 4 and summary["exit_code"] == 4
    assert "refused our credentials" in summary["aborted"]["message"]
    assert "cannot write the JUnit report" in result.stderr


def test_junit_report_finish_turns_os_errors_into_bad_input(tmp_path):
    report = JUnitReport(tmp_path / "verify.xml", suite="s")
    (tmp_path / "verify.xml").mkdir()  # the path became a directory during the run
    with pytest.raises(BadInput, match="cannot write the JUnit report"):
        report.finish(0.0)
    assert [p.name for p in tmp_path.iterdir()] == ["verify.xml"]


def test_junit_report_does_not_create_missing_directories(tmp_path):
    with pytest.raises(BadInput):
        JUnitReport(tmp_path / "missing" / "verify.xml", suite="s")
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("option", ["--decision-rate", "--profile-rate"])
@pytest.mark.parametrize("value", ["inf", "Infinity", "-inf", "nan", "0", "-1"])
def test_a_rate_must_be_a_finite_positive_number(sandbox, cli, connector, option, value):
    result = cli("verify-match", "--visitor", "v1", option, value)

    assert result.exit_code == 2, result.output
    assert f"{option} must be a positive number" in result.stderr
    assert sandbox.decision_requests() == []


@pytest.mark.parametrize("rate", [float("inf"), float("nan"), 0.0, -5.0])
def test_the_rate_limiter_refuses_a_rate_that_would_not_limit(rate):
    with pytest.raises(ValueError):
        RateLimiter(rate)
