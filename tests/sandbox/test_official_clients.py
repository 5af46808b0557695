"""The official client libraries work against the sandbox unmodified, only pointed at it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import flagship.http_helper
import pytest
from flagship import Flagship
from flagship.config import DecisionApi
from flagship.log_manager import LogLevel
from flagship.tracking_manager import TrackingManagerConfig
from segment.analytics.client import Client as SegmentClient

from abseg.sandbox import DEMO_DECISION_API_KEY, DEMO_ENV_ID, DEMO_WRITE_KEY, Sandbox


def test_segment_analytics_python_identify_and_track_arrive_accepted(
    sandbox: Sandbox,
) -> None:
    client = SegmentClient(
        DEMO_WRITE_KEY, host=sandbox.segment_url, sync_mode=True, max_retries=0
    )

    client.identify("user-42", {"plan": "pro"}, anonymous_id="anon-42")
    client.track(
        "user-42", "Experiment Viewed", {"experiment_id": "c348750k33nnjpzzzzzz"}
    )

    identify, track = sandbox.events()
    assert [identify["type"], track["type"]] == ["identify", "track"]
    assert all(
        event["status"] == "accepted" and event["endpoint"] == "/v1/batch"
        for event in (identify, track)
    )
    assert (
        identify["userId"] == track["userId"] == "user-42"
        and track["event"] == "Experiment Viewed"
    )
    assert (
        len(identify["messageId"]) == 36 and identify["messageId"] != track["messageId"]
    )
    assert identify["payload"]["context"]["library"]["name"] == "analytics-python"
    assert identify["user_agent"].startswith("analytics-python/")
    assert sandbox.profiles()["spa_sandbox"][0]["traits"] == {"plan": "pro"}


def test_segment_client_retries_through_faults_and_dedup_absorbs_the_replays() -> None:
    failures: list[Exception] = []
    with Sandbox(fault_rate=0.6, seed=11, slow_seconds=0.05) as sb:
        # The background consumer is the mode that retries (sync mode posts once and raises).
        client = SegmentClient(
            DEMO_WRITE_KEY,
            host=sb.segment_url,
            max_retries=10,
            on_error=lambda error, _batch: failures.append(error),
        )
        for i in range(3):
            client.track(f"user-{i}", "Order Completed")
            client.flush()
        client.shutdown()
        events, faults = sb.events(), [fault["fault"] for fault in sb.faults()]

    assert failures == []
    assert sorted(
        event["userId"] for event in events if event["status"] == "accepted"
    ) == [
        "user-0",
        "user-1",
        "user-2",
    ]
    duplicates = [event for event in events if event["status"] == "duplicate"]
    assert len(duplicates) == faults.count("drop_after_processing") > 0
    assert all(event["retry_count"] for event in duplicates), (
        "a replay is a retry, with X-Retry-Count"
    )


@pytest.fixture
def flagship_on_sandbox(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Sandbox]:
    """The SDK's service URLs are module constants of flagship.http_helper: point them here."""
    monkeypatch.setattr(
        flagship.http_helper, "URL_DECISION_API", f"{sandbox.decision_url}/v2/"
    )
    monkeypatch.setattr(
        flagship.http_helper, "URL_ACTIVATE", f"{sandbox.decision_url}/v2/activate"
    )
    monkeypatch.setattr(flagship.http_helper, "URL_TRACKING", f"{sandbox.hits_url}/")
    tracking = TrackingManagerConfig(time_interval=200)
    Flagship.start(
        DEMO_ENV_ID,
        DEMO_DECISION_API_KEY,
        DecisionApi(log_level=LogLevel.NONE, tracking_manager_config=tracking),
    )
    yield sandbox
    Flagship.stop()


def test_flagship_sdk_fetches_flags_from_the_bundled_campaigns(
    flagship_on_sandbox: Sandbox,
) -> None:
    sandbox = flagship_on_sandbox
    visitor = Flagship.new_visitor("visitor-1", context={"isVIP": True})

    visitor.fetch_flags()

    assert visitor.get_flag("featureEnabled", False).value(False) is True
    assert visitor.get_flag("title", "none").value(False) in {"Welcome", "Hello", "Hey"}
    [request] = sandbox.decision_requests()
    assert request["status"] == 200 and request["query"] == {"exposeAllKeys": ["true"]}
    assert (
        request["body"]["visitorId"] == "visitor-1"
        and request["body"]["trigger_hit"] is False
    )
    assert request["body"]["context"]["isVIP"] is True


def test_flagship_sdk_exposure_and_hits_reach_only_the_sandbox_recorders(
    flagship_on_sandbox: Sandbox,
) -> None:
    sandbox = flagship_on_sandbox
    visitor = Flagship.new_visitor("visitor-2", context={"isVIP": True})
    visitor.fetch_flags()

    visitor.get_flag("featureEnabled", False).visitor_exposed()
    deadline = time.monotonic() + 5
    while (
        not (sandbox.activate_calls() and sandbox.hit_calls())
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)

    [activation] = sandbox.activate_calls()
    assert activation["cid"] == DEMO_ENV_ID
    assert activation["batch"][0] == {
        **activation["batch"][0],
        "vid": "visitor-2",
        "caid": "bmsorfe4jaeg0grrrrrr",
    }
    assert any(
        hit["cid"] == DEMO_ENV_ID for hit in sandbox.hit_calls()
    )  # the SDK's consent hit


def test_flagship_sdk_sees_panic_mode(flagship_on_sandbox: Sandbox) -> None:
    flagship_on_sandbox.set_panic(True)
    visitor = Flagship.new_visitor("visitor-3", context={"isVIP": True})

    visitor.fetch_flags()

    assert visitor.get_flag("featureEnabled", False).value(False) is False
    assert Flagship.status().name == "PANIC"
