"""Fixtures for the Segment client and ``abseg test-event``: a real sandbox over loopback."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from abseg.sandbox import DEMO_WRITE_KEY, Sandbox

# Registered in every sandbox here: it must never appear in any output, masked or not.
CANARY_KEY = "CANARYcanary0123456789CANARYcan1"
# The same shape, never registered: for the "unknown key" paths.
UNKNOWN_CANARY_KEY = "CANARYunknown123456789CANARYunk1"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    # Short Retry-After and slow answers keep fault-injection tests fast; both are still honoured.
    with Sandbox(retry_after_seconds=1, slow_seconds=0.05) as sb:
        sb.register_write_key(CANARY_KEY, region="us")
        yield sb


@pytest.fixture
def env(sandbox: Sandbox) -> dict[str, str]:
    """What a CI job without a connector sets: the sandbox's URLs and a write key."""
    return sandbox.environ() | {"ABSEG_WRITE_KEY": DEMO_WRITE_KEY}


@contextmanager
def refusing_url() -> Iterator[str]:
    """A loopback URL where nothing listens, for as long as the ``with`` block lasts.

    The port stays bound (but never listening) meanwhile: a connection to it is refused at once,
    and no other socket (a sandbox started by a parallel test, say) can take it over. Binding,
    closing and reusing the number would leave that window open.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{holder.getsockname()[1]}"


@pytest.fixture
def closed_url() -> Iterator[str]:
    """A loopback URL where nothing listens: any request to it is a connection refused."""
    with refusing_url() as url:
        yield url


def accepted_per_message_id(sandbox: Sandbox) -> Counter[str]:
    return Counter(e["messageId"] for e in sandbox.events() if e["status"] == "accepted")


def tracking_faults(sandbox: Sandbox, kind: str | None = None) -> list[dict]:
    """The faults the sandbox injected into Tracking API requests (of one ``kind`` if given)."""
    return [f for f in sandbox.faults() if f["service"] == "segment" and kind in (None, f["fault"])]
