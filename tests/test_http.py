"""The one HTTP layer: what it retries, how long it waits, and when it gives up.

The waits are recorded instead of slept (the client takes a ``sleep``); the servers are real.
"""

from __future__ import annotations

import pytest

from abseg.errors import ServiceError
from abseg.http import HttpClient, RetryPolicy
from tests.local_server import local_server

pytestmark = pytest.mark.real_backoff


def client(waits: list[float], **policy) -> HttpClient:
    return HttpClient("Test service", policy=RetryPolicy(**policy), retry_count_header="X-Retry-Count", sleep=waits.append)


def test_429_waits_exactly_the_retry_after_then_resends_the_same_body():
    waits: list[float] = []
    with local_server(200, script=[(429, {"Retry-After": "3"})]) as server, client(waits) as http:
        response = http.request("POST", server.url + "/v1/track", json_body={"messageId": "m-1"})
    assert response.status_code == 200
    assert waits == [3.0]
    (first_headers, first_body), (second_headers, second_body) = server.requests
    assert first_body == second_body == b'{"messageId":"m-1"}'
    assert "X-Retry-Count" not in first_headers and second_headers["X-Retry-Count"] == "1"


def test_a_retry_after_beyond_the_budget_gives_up_at_once():
    waits: list[float] = []
    with local_server(429, script=[(429, {"Retry-After": "60"})]) as server, client(waits, deadline=5) as http:
        with pytest.raises(ServiceError) as caught:
            http.request("GET", server.url)
    assert waits == [] and len(server.paths) == 1
    assert "past the 5s budget" in caught.value.message


def test_5xx_is_retried_with_growing_backoff_until_the_tries_run_out():
    waits: list[float] = []
    with local_server(503) as server, client(waits, attempts=4, backoff=0.25, max_backoff=4) as http:
        with pytest.raises(ServiceError) as caught:
            http.request("GET", server.url)
    assert len(server.paths) == 4 and len(waits) == 3
    assert all(0.5 * ceiling <= wait <= ceiling for wait, ceiling in zip(waits, (0.25, 0.5, 1.0)))
    assert caught.value.exit_code == 4 and "answered HTTP 503 after 4 tries" in caught.value.message


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_other_4xx_are_answers_not_retried(status):
    waits: list[float] = []
    with local_server(status) as server, client(waits) as http:
        assert http.request("GET", server.url).status_code == status
    assert len(server.paths) == 1 and waits == []


def test_an_unreachable_service_is_retried_then_reported():
    waits: list[float] = []
    with local_server(200) as server:
        url = server.url
    with client(waits, attempts=3) as http, pytest.raises(ServiceError) as caught:
        http.request("GET", url)
    assert len(waits) == 2
    assert "could not be reached" in caught.value.message and caught.value.exit_code == 4
