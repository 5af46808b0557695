"""Segment Tracking API client: payloads as Segment documents them, size limits checked before
anything is sent, and retries that are safe because every event keeps its ``messageId``.

Segment answers 200 to nearly everything, a write key it does not know included (the events are
then discarded), so a 200 proves only that Segment received the bytes. ``send_test_events``
therefore asks the settings CDN about the key first and refuses to send into the void.

Every request body is serialised once and resent byte for byte by ``abseg.http`` on each retry:
an event that reached Segment before the answer was lost comes back with the same ``messageId``
and Segment's de-duplication absorbs it. The write key travels only in the Basic auth header,
which traces mask; it is never put in a body.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from abseg import __version__
from abseg.errors import BadInput, CheckFailed, CredentialError, ServiceError
from abseg.secrets import ResolvedSecret, mask, remember_secret
from abseg.service_client import ServiceClient

if TYPE_CHECKING:
    from abseg.http import RetryPolicy
    from abseg.settings_cdn import SourceSettings

SEGMENT_URL_ENV = "ABSEG_SEGMENT_URL"
SERVICE_NAME = "Segment Tracking API"

MAX_EVENT_BYTES = 32 * 1024  # one call, and one event inside a batch
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500  # Segment answers 200 above this and drops the rest
MAX_MESSAGE_ID_CHARS = 100  # longer ids are dropped by Segment without a word

LIBRARY = {"name": "abseg", "version": __version__}
DEFAULT_TEST_EVENT = "abseg Test Event"
DEBUGGER = "Segment: Connections > Sources > (the source of this write key) > Debugger"
# Failed events named in a one-line message; the full lists are in the error's details (--json).
NAMED_IN_MESSAGE = 5

VisitorField = Literal["userId", "anonymousId"]
Endpoint = Literal["identify", "track", "batch"]


def tracking_base_url(region: str) -> str:
    """``ABSEG_SEGMENT_URL`` when set (sandbox, proxy), else the region's ingestion host."""
    from abseg.settings_cdn import REGION_HOSTS

    return os.environ.get(SEGMENT_URL_ENV) or f"https://{REGION_HOSTS[region]}"


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO-8601 UTC with milliseconds and ``+00:00``, as the official library writes it."""
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")


# --- payloads ------------------------------------------------------------------------------------


def _event(call_type: str, visitor_id: str, visitor_field: VisitorField) -> dict[str, Any]:
    return {
        "type": call_type,
        visitor_field: visitor_id,
        "messageId": str(uuid.uuid4()),
        "timestamp": utc_timestamp(),
        "context": {"library": dict(LIBRARY)},
    }


def identify_event(visitor_id: str, visitor_field: VisitorField, traits: dict[str, Any]) -> dict[str, Any]:
    return {**_event("identify", visitor_id, visitor_field), "traits": traits}


def track_event(
    visitor_id: str, visitor_field: VisitorField, event: str, properties: dict[str, Any]
) -> dict[str, Any]:
    return {**_event("track", visitor_id, visitor_field), "event": event, "properties": properties}


@dataclass(frozen=True)
class TrackingRequest:
    """One POST to the Tracking API: a single identify or track call, or a batch of events."""

    endpoint: Endpoint
    events: tuple[dict[str, Any], ...]

    @property
    def message_ids(self) -> list[str]:
        return [event["messageId"] for event in self.events]

    def body(self) -> dict[str, Any]:
        if self.endpoint != "batch":
            return self.events[0]
        # sentAt lets Segment correct the events' timestamps for this machine's clock skew.
        return {"batch": list(self.events), "sentAt": utc_timestamp()}


def plan_requests(
    events: Sequence[dict[str, Any]],
    *,
    batch: bool,
    max_events: int = MAX_BATCH_EVENTS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[TrackingRequest]:
    """The requests that carry ``events``: one call each, or as few batches as the limits allow.

    Raises ``BadInput`` for an event Segment would refuse or drop (over 32 KB, a messageId over
    100 characters), before anything is sent. Batches are split, never truncated.
    """
    from abseg.http import encode_json

    sizes = [_checked_size(event, encode_json) for event in events]
    if not batch:
        return [TrackingRequest(event["type"], (event,)) for event in events]
    # A batch is {"batch":[e1,e2,...],"sentAt":"..."}; sentAt always has the same length.
    envelope = len(encode_json({"batch": [], "sentAt": utc_timestamp()}))
    requests: list[TrackingRequest] = []
    current: list[dict[str, Any]] = []
    current_bytes = envelope
    for event, size in zip(events, sizes, strict=True):
        added = size + (1 if current else 0)  # the comma between events
        if current and (len(current) >= max_events or current_bytes + added > max_bytes):
            requests.append(TrackingRequest("batch", tuple(current)))
            current, current_bytes, added = [], envelope, size
        current.append(event)
        current_bytes += added
    if current:
        requests.append(TrackingRequest("batch", tuple(current)))
    return requests


def _checked_size(event: dict[str, Any], encode_json: Any) -> int:
    message_id = event.get("messageId")
    if not isinstance(message_id, str) or not message_id or len(message_id) > MAX_MESSAGE_ID_CHARS:
        raise BadInput(
            f"a {event.get('type')} event has no usable messageId (a string of 1-{MAX_MESSAGE_ID_CHARS} characters)",
            hint="Segment silently drops events whose messageId is longer than 100 characters",
        )
    size = len(encode_json(event))
    if size > MAX_EVENT_BYTES:
        raise BadInput(
            f"the {event['type']} event {message_id} is {size:,} bytes; Segment accepts at most "
            f"{MAX_EVENT_BYTES // 1024} KB per event",
            hint="shorten its event name, properties or traits",
        )
    return size


# --- sending -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentCall:
    """A request Segment answered with 2xx: received, which for Segment is not yet accepted."""

    endpoint: str  # the full URL
    status: int
    events: tuple[tuple[str, str], ...]  # (type, messageId)

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "status": self.status,
            "events": [{"type": kind, "messageId": message_id} for kind, message_id in self.events],
        }


class TrackingClient(ServiceClient):
    """Sends planned requests to one Tracking API base URL with one write key."""

    service = SERVICE_NAME

    def __init__(self, write_key: str, base_url: str, *, policy: RetryPolicy | None = None):
        from abseg.http import RetryPolicy, basic_authorization

        super().__init__(policy=policy or RetryPolicy(), retry_count_header="X-Retry-Count")
        self.base_url = base_url
        self._write_key = write_key
        self._authorization = basic_authorization(write_key)
        remember_secret(write_key)  # and with it the Basic header's base64 form

    def url(self, request: TrackingRequest) -> str:
        from abseg.http import joined

        return joined(self.base_url, "v1", request.endpoint)

    def preview(self, request: TrackingRequest) -> dict[str, Any]:
        """The request as it would be sent, with the Authorization header masked."""
        from abseg.http import USER_AGENT

        return {
            "method": "POST",
            "url": self.url(request),
            "headers": {
                "Authorization": f'Basic base64("{mask(self._write_key)}:")',
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
            "body": request.body(),
        }

    def send(self, requests: Sequence[TrackingRequest]) -> list[SentCall]:
        """Send ``requests`` in order; stop at the first that fails, naming every unconfirmed event.

        Raises ``ServiceError`` (exit 4) when Segment cannot be reached, keeps failing, or refuses
        the key, and ``CheckFailed`` (exit 1) when it rejects a call; both carry in ``details`` the
        messageIds confirmed and not confirmed, so nothing is lost without being named.
        """
        from abseg.http import first_message

        sent: list[SentCall] = []
        for index, request in enumerate(requests):
            url = self.url(request)
            unconfirmed = [mid for pending in requests[index:] for mid in pending.message_ids]
            try:
                response = self._http.request(
                    "POST", url, json_body=request.body(), headers={"Authorization": self._authorization}
                )
            except ServiceError as exc:
                raise _delivery_error(ServiceError, exc.message, exc.hint, sent, unconfirmed) from None
            if 200 <= response.status_code < 300:
                events = tuple((event["type"], event["messageId"]) for event in request.events)
                sent.append(SentCall(url, response.status_code, events))
                continue
            answer = f"HTTP {response.status_code}: {first_message(response)}"
            if response.status_code in (401, 403):
                what, hint = f"Segment refused the write key ({answer})", "check it with `abseg key check`"
                raise _delivery_error(ServiceError, what, hint, sent, unconfirmed)
            what, hint = f"Segment rejected the {request.endpoint} call ({answer})", "see the request with --dry-run"
            raise _delivery_error(CheckFailed, what, hint, sent, unconfirmed)
        return sent


def _delivery_error(
    error: type[ServiceError | CheckFailed],
    what: str,
    hint: str | None,
    sent: list[SentCall],
    unconfirmed: list[str],
) -> ServiceError | CheckFailed:
    named = ", ".join(unconfirmed[:NAMED_IN_MESSAGE])
    unnamed = len(unconfirmed) - NAMED_IN_MESSAGE
    more = f" and {unnamed} more (all listed with --json)" if unnamed > 0 else ""
    confirmed = [mid for call in sent for _, mid in call.events]
    total = len(confirmed) + len(unconfirmed)
    return error(
        f"{what}: {len(unconfirmed)} of {total} events not confirmed (messageId {named}{more})",
        hint=hint,
        details={
            "confirmed": confirmed,
            "not_confirmed": unconfirmed,
            "calls": [call.as_json() for call in sent],
        },
    )


# --- where test events go ------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackingTarget:
    """A write key and where its events go: from a connector, or from ``ABSEG_WRITE_KEY`` alone (CI).

    ``region`` is None when nothing configured it (no connector): the settings CDN decides it
    then, since a key sent to the other region's host is silently lost.
    """

    write_key: ResolvedSecret
    region: str | None
    visitor_field: VisitorField
    cdn_url: str
    connector: str | None = None
    configured_segment_url: str | None = field(default=None, repr=False)

    @property
    def segment_url(self) -> str:
        return self.configured_segment_url or tracking_base_url(self.region or "us")

    def with_region_from(self, settings: SourceSettings) -> TrackingTarget:
        """This target once the settings CDN has described the key; ``CheckFailed`` on a mismatch."""
        if self.region is None:
            return replace(self, region=settings.region or "us")
        if settings.region and settings.region != self.region:
            raise CheckFailed(
                f"connector {self.connector!r} is set to region {self.region.upper()}, but Segment ingests "
                f"this write key's source in {settings.region.upper()} ({settings.api_host}): nothing sent",
                hint=f"events sent to the wrong region are lost; set the connector's region to {settings.region}",
            )
        return self

    def as_json(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "write_key": {"value": self.write_key.masked, "source": self.write_key.origin},
            "region": self.region,
            "visitor_field": self.visitor_field,
            "segment_url": self.segment_url,
        }


def resolve_target(connector: str | None) -> TrackingTarget:
    """The connector named (or the only one), else ``ABSEG_WRITE_KEY`` with no connector at all."""
    from abseg.connector import connector_files, select_connector
    from abseg.secrets import SecretKind, env_override
    from abseg.settings_cdn import cdn_base_url

    if connector is None and not connector_files():
        secret = env_override(SecretKind.WRITE_KEY)
        if secret is None:
            raise CredentialError(
                "no connector and no Segment write key to send with",
                hint="create one with `abseg connector create`, or set ABSEG_WRITE_KEY for this run",
            )
        return TrackingTarget(secret, None, "userId", cdn_base_url())
    chosen = select_connector(connector)
    return TrackingTarget(
        write_key=chosen.resolve_write_key(),
        region=chosen.region,
        visitor_field=chosen.visitor_field,
        cdn_url=chosen.cdn_url(),
        connector=chosen.name,
        configured_segment_url=chosen.segment_url(),
    )


# --- abseg test-event ----------------------------------------------------------------------------


def check_event_name(name: str) -> None:
    """``BadInput`` for a blank track event name, which no one could find in Segment's debugger."""
    if not name.strip():
        what = "empty" if not name else "only whitespace"
        raise BadInput(
            f"the event name is {what}",
            hint=f"give --event a name, or leave it out to send {DEFAULT_TEST_EVENT!r}",
        )


def build_test_events(
    visitor_id: str, visitor_field: VisitorField, event_name: str, repeat: int = 1
) -> list[dict[str, Any]]:
    """An identify then a track per repetition, each marked as coming from abseg."""
    events: list[dict[str, Any]] = []
    for number in range(1, repeat + 1):
        properties: dict[str, Any] = {"abseg_test": True, "sent_by": f"abseg {__version__} test-event"}
        if repeat > 1:
            properties["sequence"] = number
        events.append(identify_event(visitor_id, visitor_field, {"abseg_test": True}))
        events.append(track_event(visitor_id, visitor_field, event_name, properties))
    return events


@dataclass(frozen=True)
class TestEventReport:
    __test__ = False  # not a pytest test class, whatever its name says

    target: TrackingTarget
    visitor_id: str
    key_check: SourceSettings | None  # None: --dry-run, nothing was asked
    calls: list[SentCall] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)  # --dry-run: what would be sent

    @property
    def dry_run(self) -> bool:
        return self.key_check is None

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "dry_run": self.dry_run,
            "visitor_id": self.visitor_id,
            **self.target.as_json(),
            "write_key_check": self.key_check.as_json() if self.key_check else None,
        }
        if self.dry_run:
            document["requests"] = self.requests
        else:
            document["calls"] = [call.as_json() for call in self.calls]
            document["where_to_look"] = DEBUGGER
        return document


def send_test_events(
    target: TrackingTarget,
    visitor_id: str,
    *,
    event_name: str = DEFAULT_TEST_EVENT,
    repeat: int = 1,
    dry_run: bool = False,
    policy: RetryPolicy | None = None,
) -> TestEventReport:
    """Check the write key with the settings CDN, then send identify + track (batched if repeated).

    ``dry_run`` touches no network at all: it returns the exact requests instead.
    """
    from abseg.http import HttpClient, RetryPolicy
    from abseg.settings_cdn import fetch_source_settings
    from abseg.visitor import check_visitor_id

    check_visitor_id(visitor_id)
    check_event_name(event_name)
    if repeat < 1:
        raise BadInput(f"the repeat count must be at least 1, not {repeat}")
    requests = plan_requests(
        build_test_events(visitor_id, target.visitor_field, event_name, repeat), batch=repeat > 1
    )
    if dry_run:
        with TrackingClient(target.write_key.value, target.segment_url, policy=policy) as client:
            previews = [client.preview(request) for request in requests]
        return TestEventReport(target, visitor_id, None, requests=previews)
    with HttpClient("Segment settings CDN", policy=policy or RetryPolicy()) as cdn:
        settings = fetch_source_settings(target.write_key.value, target.cdn_url, client=cdn)
    if not settings.exists:
        raise CheckFailed(
            f"Segment does not know the write key {target.write_key.masked} (from {target.write_key.origin}): "
            "nothing sent, because the Tracking API answers 200 even for unknown keys and then drops the events",
            hint="copy the write key again from Segment: Connections > Sources > your source > Settings > API Keys",
        )
    target = target.with_region_from(settings)
    with TrackingClient(target.write_key.value, target.segment_url, policy=policy) as client:
        calls = client.send(requests)
    return TestEventReport(target, visitor_id, settings, calls=calls)
