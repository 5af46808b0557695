"""Segment Tracking API and settings CDN stand-ins.

Like the real API, tracking answers 200 to nearly everything: what happened to each event
(accepted, dropped and why, duplicate) is only visible through the sandbox's inspection records.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from ._http import Request, Response, basic_auth_user, json_response, text_response
from ._profiles import ProfileService, source_id_for
from ._records import RecordLog, mask_secret, utc_now

CALL_TYPES = ("identify", "track", "page", "screen", "group", "alias")
MAX_CALL_BYTES = 32 * 1024  # one call, and one event inside a batch
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500
MAX_MESSAGE_ID_CHARS = 100
MIN_WRITE_KEY_CHARS = (
    8  # shorter keys get a 400, as Segment does for empty or very short keys
)
API_HOST_BY_REGION = {"us": "api.segment.io/v1", "eu": "events.eu1.segmentapis.com/v1"}


@dataclass(frozen=True)
class Source:
    region: str
    space_id: str | None  # the Unify space whose profiles this source feeds


class SourceRegistry:
    """Write keys the sandbox knows, as Segment sources."""

    def __init__(self) -> None:
        self._sources: dict[str, Source] = {}
        self._lock = threading.Lock()

    def register(self, write_key: str, region: str, space_id: str | None) -> None:
        if region not in API_HOST_BY_REGION:
            raise ValueError(
                f"region must be one of {sorted(API_HOST_BY_REGION)}, got {region!r}"
            )
        with self._lock:
            self._sources[write_key] = Source(region, space_id)

    def get(self, write_key: str) -> Source | None:
        with self._lock:
            return self._sources.get(write_key)


class TrackingService:
    """`POST /v1/{identify,track,page,screen,group,alias,batch}`."""

    def __init__(self, sources: SourceRegistry, profiles: ProfileService) -> None:
        self._sources = sources
        self._profiles = profiles
        self.events = RecordLog()
        self._accepted_message_ids: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.events.clear()
            self._accepted_message_ids.clear()

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        # segment-analytics-python reads `code` and `message` from an error body.
        code = "invalid_request" if status < 500 else "server_error"
        return json_response(
            status, {"success": False, "code": code, "message": message}, headers
        )

    def handle(self, request: Request) -> Response:
        endpoint = request.path.rstrip("/")
        call = endpoint.removeprefix("/v1/")
        if (
            request.method != "POST"
            or not endpoint.startswith("/v1/")
            or call not in (*CALL_TYPES, "batch")
        ):
            return self.error(404, "Not found.")
        limit = MAX_BATCH_BYTES if call == "batch" else MAX_CALL_BYTES
        if len(request.body) > limit:
            return self.error(400, f"Request body over {limit // 1024} KB.")
        try:
            document = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return self.error(400, "Invalid JSON.")
        if not isinstance(document, dict):
            return self.error(400, "Invalid JSON: the body must be an object.")
        basic_user = basic_auth_user(request)
        write_key = basic_user or document.get("writeKey")
        if not isinstance(write_key, str) or len(write_key) < MIN_WRITE_KEY_CHARS:
            return self.error(400, "Missing or invalid write key.")
        if call == "batch":
            if not isinstance(document.get("batch"), list):
                return self.error(400, "A batch needs a `batch` list of events.")
            events = document["batch"]
        else:
            events = [{**document, "type": call}]
        auth = "basic" if basic_user else "body"
        self._ingest(events, write_key, auth, endpoint, request)
        return json_response(200, {"success": True})

    def _ingest(
        self,
        events: list[Any],
        write_key: str,
        auth: str,
        endpoint: str,
        request: Request,
    ) -> None:
        source = self._sources.get(write_key)
        retry_count = request.header("x-retry-count")
        common = {
            "endpoint": endpoint,
            "write_key": mask_secret(write_key),
            # How the key was given: HTTP Basic user name, or `writeKey` in the JSON body.
            "auth": auth,
            "content_type": request.header("content-type"),
            "retry_count": int(retry_count)
            if retry_count and retry_count.isdigit()
            else None,
            "user_agent": request.header("user-agent"),
        }
        # Verdicts and the dedup memory change together: concurrent retries of one
        # messageId must yield exactly one accepted event.
        with self._lock:
            for index, event in enumerate(events):
                received_at = utc_now()
                status, reason = self._verdict(event, index, write_key, source)
                payload = (
                    _without_write_key(event) if isinstance(event, dict) else event
                )
                if status == "accepted":
                    payload.setdefault("messageId", f"api-{uuid.uuid4()}")
                    self._accepted_message_ids.add((write_key, payload["messageId"]))
                    self._feed_profiles(payload, write_key, source, received_at)
                self.events.append(
                    _event_record(payload, status, reason, received_at, common)
                )

    def _verdict(
        self, event: Any, index: int, write_key: str, source: Source | None
    ) -> tuple[str, str | None]:
        if source is None:
            return "dropped", "unknown write key"
        if index >= MAX_BATCH_EVENTS:
            return "dropped", "batch over 2,500 events"
        if not isinstance(event, dict):
            return "dropped", "event is not a JSON object"
        if len(json.dumps(event).encode("utf-8")) > MAX_CALL_BYTES:
            return "dropped", "event over 32 KB"
        problem = _structural_problem(event)
        if problem:
            return "dropped", problem
        message_id = event.get("messageId")
        if message_id is not None:
            if not isinstance(message_id, str):
                return "dropped", "messageId must be a string"
            if len(message_id) > MAX_MESSAGE_ID_CHARS:
                return "dropped", "messageId longer than 100 characters"
            if (write_key, message_id) in self._accepted_message_ids:
                return "duplicate", "messageId already received"
        return "accepted", None

    def _feed_profiles(
        self,
        event: dict[str, Any],
        write_key: str,
        source: Source | None,
        received_at: str,
    ) -> None:
        store = (
            self._profiles.store(source.space_id)
            if source and source.space_id
            else None
        )
        if store is not None:
            store.ingest(event, source_id_for(write_key), received_at)


def _structural_problem(event: dict[str, Any]) -> str | None:
    call_type = event.get("type")
    if call_type not in CALL_TYPES:
        return f"unknown call type {call_type!r}"
    if not any(
        isinstance(event.get(name), str) and event[name]
        for name in ("userId", "anonymousId")
    ):
        return "missing userId or anonymousId (a non-empty string is required)"
    required = {"track": "event", "group": "groupId", "alias": "previousId"}.get(
        call_type
    )
    if required and not (isinstance(event.get(required), str) and event[required]):
        return f"{call_type} needs `{required}`"
    return None


def _without_write_key(event: dict[str, Any]) -> dict[str, Any]:
    """A copy safe to show: a single call may carry its write key in the body."""
    payload = copy.deepcopy(event)
    if isinstance(payload.get("writeKey"), str):
        payload["writeKey"] = mask_secret(payload["writeKey"])
    return payload


def _event_record(
    payload: Any,
    status: str,
    reason: str | None,
    received_at: str,
    common: dict[str, Any],
) -> dict[str, Any]:
    fields = payload if isinstance(payload, dict) else {}
    return {
        "received_at": received_at,
        "endpoint": common["endpoint"],
        "type": fields.get("type"),
        "messageId": fields.get("messageId"),
        "userId": fields.get("userId"),
        "anonymousId": fields.get("anonymousId"),
        "event": fields.get("event"),
        "status": status,
        "reason": reason,
        "write_key": common["write_key"],
        "auth": common["auth"],
        "content_type": common["content_type"],
        "retry_count": common["retry_count"],
        "user_agent": common["user_agent"],
        "payload": payload,
    }


class SettingsCdnService:
    """`GET /v1/projects/{writeKey}/settings`: 200 with the source's settings, or 404."""

    def __init__(self, sources: SourceRegistry) -> None:
        self._sources = sources

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        return text_response(status, message, headers)

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if (
            request.method not in ("GET", "HEAD")
            or len(parts) != 4
            or parts[:2] != ["v1", "projects"]
            or parts[3] != "settings"
        ):
            return self.error(404, "Invalid path or write key provided.")
        write_key = parts[2]
        source = self._sources.get(write_key)
        if source is None:
            return self.error(404, "Invalid path or write key provided.")
        return json_response(200, _settings_document(write_key, source))


def _settings_document(write_key: str, source: Source) -> dict[str, Any]:
    """The parts of a real analytics.js settings document that tools read."""
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "unbundledIntegrations": [],
                "addBundledMetadata": True,
                "maybeBundledConfigIds": {},
                "versionSettings": {"version": "4.4.7", "componentTypes": ["browser"]},
                "apiHost": API_HOST_BY_REGION[source.region],
            }
        },
        "plan": {
            "track": {"__default": {"enabled": True, "integrations": {}}},
            "identify": {"__default": {"enabled": True}},
            "group": {"__default": {"enabled": True}},
        },
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0.1},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }
