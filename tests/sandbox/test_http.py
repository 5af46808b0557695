"""HTTP behaviour clients rely on: keep-alive, unknown routes, oversized bodies, the index."""

from __future__ import annotations

import socket

import httpx

from abseg.sandbox import (
    DEMO_DECISION_API_KEY,
    DEMO_ENV_ID,
    DEMO_PROFILE_TOKEN,
    DEMO_SPACE_ID,
    DEMO_WRITE_KEY,
    Sandbox,
)


def test_demo_constants_look_like_what_they_stand_for() -> None:
    assert (
        len(DEMO_WRITE_KEY) == 32
        and DEMO_WRITE_KEY.isalnum()
        and DEMO_WRITE_KEY.isascii()
    )
    assert "sandbox" in DEMO_WRITE_KEY.lower()
    assert all(
        "sandbox" in value
        for value in (
            DEMO_PROFILE_TOKEN,
            DEMO_SPACE_ID,
            DEMO_ENV_ID,
            DEMO_DECISION_API_KEY,
        )
    )


def test_environ_points_every_service_at_the_sandbox(sandbox: Sandbox) -> None:
    assert sandbox.environ() == {
        "ABSEG_SEGMENT_URL": f"{sandbox.url}/segment",
        "ABSEG_SEGMENT_CDN_URL": f"{sandbox.url}/cdn",
        "ABSEG_PROFILE_URL": f"{sandbox.url}/profiles",
        "ABSEG_DECISION_URL": f"{sandbox.url}/decision",
    }
    assert sandbox.url.startswith("http://127.0.0.1:") and sandbox.port > 0


def test_one_keep_alive_connection_serves_many_requests(sandbox: Sandbox) -> None:
    with httpx.Client() as client:
        for _ in range(5):
            client.post(
                f"{sandbox.segment_url}/v1/track",
                json={"userId": "u", "event": "E"},
                auth=(DEMO_WRITE_KEY, ""),
            )
        pool = client._transport._pool  # the only way to count connections
        assert len(pool.connections) == 1
    assert len(sandbox.events()) == 5


def test_unknown_routes_and_head_are_json_404(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    for response in (
        http.get(f"{sandbox.url}/nope"),
        http.get(f"{sandbox.segment_url}/v2/track"),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
    head = http.head(f"{sandbox.url}/nope")
    assert head.status_code == 404 and head.content == b""


def test_huge_body_is_refused_with_413_without_reading_it(sandbox: Sandbox) -> None:
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as connection:
        connection.sendall(
            b"POST /segment/v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n{"
        )
        status_line = connection.recv(200).split(b"\r\n")[0]
    assert status_line.startswith(b"HTTP/1.1 413 ")


def test_index_lists_services_and_reset_works_over_http(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    http.post(
        f"{sandbox.segment_url}/v1/identify",
        json={"userId": "u"},
        auth=(DEMO_WRITE_KEY, ""),
    )

    index = http.get(f"{sandbox.url}/_sandbox/").json()
    reset = http.post(f"{sandbox.url}/_sandbox/reset")

    assert (
        "POST /_sandbox/reset" in index["inspection"]
        and "decision" in index["services"]
    )
    assert reset.json() == {"reset": True}
    assert http.get(f"{sandbox.url}/_sandbox/events").json() == {"events": []}


def test_stop_closes_pooled_connections_and_frees_the_port() -> None:
    sb = Sandbox().start()
    client = httpx.Client(timeout=2)
    client.get(f"{sb.url}/_sandbox/")
    port = sb.port
    sb.stop()

    try:
        client.get(f"http://127.0.0.1:{port}/_sandbox/")
        reached = True
    except httpx.TransportError:
        reached = False
    finally:
        client.close()
    assert not reached


def test_chunked_request_body_is_read(sandbox: Sandbox, http: httpx.Client) -> None:
    chunks = iter([b'{"userId": "chunked",', b' "event": "Streamed"}'])

    response = http.post(
        f"{sandbox.segment_url}/v1/track",
        content=chunks,
        auth=(DEMO_WRITE_KEY, ""),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 200
    assert sandbox.events()[0]["userId"] == "chunked"
