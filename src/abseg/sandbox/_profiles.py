"""Segment Profile API stand-in: identity-resolved profiles built from accepted tracking events."""

from __future__ import annotations

import copy
import hashlib
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from ._faults import TokenBucket
from ._http import Request, Response, basic_auth_user, json_response

# Segment's external id types that the sandbox resolves, and the event field carrying each.
EVENT_FIELD_BY_ID_TYPE = {"user_id": "userId", "anonymous_id": "anonymousId"}
PROFILE_RESOURCES = ("traits", "external_ids", "metadata", "events")
DEFAULT_PAGE_SIZE = 10  # the Profile API returns 10 items unless `limit` asks for more
MAX_PAGE_SIZE = 200


@dataclass
class ExternalId:
    id_type: str
    value: str
    source_id: str
    created_at: str


@dataclass
class Profile:
    segment_id: str
    created_order: int
    created_at: str
    updated_at: str
    external_ids: dict[tuple[str, str], ExternalId] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)


class ProfileStore:
    """The profiles of one space. An event naming several ids links them into one profile."""

    def __init__(self) -> None:
        self._profiles_by_id: dict[tuple[str, str], Profile] = {}
        self._created = 0
        self._lock = threading.Lock()

    def ingest(self, event: dict[str, Any], source_id: str, received_at: str) -> None:
        ids = [
            (id_type, event[event_field])
            for id_type, event_field in EVENT_FIELD_BY_ID_TYPE.items()
            if isinstance(event.get(event_field), str) and event[event_field]
        ]
        if not ids:
            return
        with self._lock:
            profile = self._resolve(ids, received_at)
            for id_type, value in ids:
                if (id_type, value) not in profile.external_ids:
                    profile.external_ids[(id_type, value)] = ExternalId(
                        id_type, value, source_id, received_at
                    )
                self._profiles_by_id[(id_type, value)] = profile
            if event.get("type") == "identify" and isinstance(
                event.get("traits"), dict
            ):
                profile.traits.update(event["traits"])
            profile.events.append(_profile_event(event, source_id, received_at))
            profile.updated_at = received_at

    def lookup(self, id_type: str, value: str) -> Profile | None:
        with self._lock:
            profile = self._profiles_by_id.get((id_type, value))
            return copy.deepcopy(profile)

    def profiles(self) -> list[Profile]:
        with self._lock:
            unique = {id(profile): profile for profile in self._profiles_by_id.values()}
            return copy.deepcopy(
                sorted(unique.values(), key=lambda profile: profile.created_order)
            )

    def clear(self) -> None:
        with self._lock:
            self._profiles_by_id.clear()

    def _resolve(self, ids: list[tuple[str, str]], received_at: str) -> Profile:
        known: list[Profile] = []
        for external_id in ids:
            profile = self._profiles_by_id.get(external_id)
            if profile is not None and all(profile is not other for other in known):
                known.append(profile)
        if not known:
            self._created += 1
            return Profile(
                f"use_sandbox{self._created:06d}",
                self._created,
                received_at,
                received_at,
            )
        known.sort(key=lambda profile: profile.created_order)
        survivor = known[0]
        for absorbed in known[1:]:
            self._merge(survivor, absorbed)
        return survivor

    def _merge(self, survivor: Profile, absorbed: Profile) -> None:
        # The most recently updated profile's traits win, as identify calls are "last write wins".
        older, newer = sorted(
            (survivor, absorbed), key=lambda profile: profile.updated_at
        )
        survivor.traits = {**older.traits, **newer.traits}
        survivor.events = sorted(
            survivor.events + absorbed.events, key=lambda event: event["received_at"]
        )
        for external_id, record in absorbed.external_ids.items():
            survivor.external_ids.setdefault(external_id, record)
            self._profiles_by_id[external_id] = survivor


def _profile_event(
    event: dict[str, Any], source_id: str, received_at: str
) -> dict[str, Any]:
    external_ids = [
        {
            "id": event[event_field],
            "type": id_type,
            "source_id": source_id,
            "collection": "users",
            "encoding": "none",
        }
        for id_type, event_field in EVENT_FIELD_BY_ID_TYPE.items()
        if isinstance(event.get(event_field), str) and event[event_field]
    ]
    return {
        "external_ids": external_ids,
        "context": copy.deepcopy(event.get("context", {})),
        "type": event.get("type"),
        "message_id": event.get("messageId"),
        "source_id": source_id,
        "timestamp": event.get("timestamp") or received_at,
        "received_at": received_at,
        "properties": copy.deepcopy(event.get("properties", {})),
        "event": event.get("event"),
    }


@dataclass
class Space:
    token: str
    store: ProfileStore
    bucket: TokenBucket


class ProfileService:
    """`GET /v1/spaces/{space}/collections/users/profiles/{id}/{resource}`."""

    def __init__(self, rate_limit: float) -> None:
        self._rate_limit = rate_limit
        self._spaces: dict[str, Space] = {}

    def register_space(self, space_id: str, token: str) -> None:
        existing = self._spaces.get(space_id)
        store = existing.store if existing else ProfileStore()
        # burst = rate: the documented limit is per second, with no burst allowance stated.
        self._spaces[space_id] = Space(
            token, store, TokenBucket(self._rate_limit, self._rate_limit)
        )

    def store(self, space_id: str) -> ProfileStore | None:
        space = self._spaces.get(space_id)
        return space.store if space else None

    def spaces(self) -> dict[str, ProfileStore]:
        return {space_id: space.store for space_id, space in self._spaces.items()}

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        code = {
            400: "bad_request",
            401: "unauthorized",
            404: "not_found",
            429: "too_many_requests",
        }
        return self._answer(
            json_response(
                status, _error(code.get(status, "internal_error"), message), headers
            )
        )

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if (
            request.method != "GET"
            or len(parts) != 8
            or parts[:2] != ["v1", "spaces"]
            or parts[3:6] != ["collections", "users", "profiles"]
            or parts[7] not in PROFILE_RESOURCES
        ):
            return self.error(404, "Not found.")
        space_id, raw_profile_id, resource = unquote(parts[2]), parts[6], parts[7]
        token = basic_auth_user(request)
        if token is None or all(
            token != space.token for space in self._spaces.values()
        ):
            return self.error(
                401, "The request is not authorized: check the access token."
            )
        space = self._spaces.get(space_id)
        if space is None or space.token != token:
            return self.error(404, f"Space {space_id} was not found.")
        wait = space.bucket.take()
        if wait:
            return self.error(429, "Too many requests.", {"Retry-After": str(wait)})
        # unquote, not unquote_plus: a literal '+' in an id arrives as %2B, and '+' means '+'.
        id_type, _, value = unquote(raw_profile_id).partition(":")
        if id_type not in EVENT_FIELD_BY_ID_TYPE or not value:
            return self.error(
                400,
                "The profile id must look like user_id:VALUE or anonymous_id:VALUE.",
            )
        profile = space.store.lookup(id_type, value)
        if profile is None:
            return self.error(404, "Profile was not found.")
        return self._answer(
            json_response(200, self._document(profile, resource, request))
        )

    def _document(
        self, profile: Profile, resource: str, request: Request
    ) -> dict[str, Any]:
        if resource == "metadata":
            return {"metadata": _metadata(profile)}
        if resource == "traits":
            wanted = _query_list(request, "include")
            traits = [
                (key, value)
                for key, value in profile.traits.items()
                if not wanted or key in wanted
            ]
            page, cursor = _paginate(traits, request)
            return {"traits": dict(page), "cursor": cursor}
        if resource == "external_ids":
            records = sorted(
                profile.external_ids.values(),
                key=lambda record: record.created_at,
                reverse=True,
            )
            page, cursor = _paginate(
                [_external_id(record) for record in records], request
            )
            return {"data": page, "cursor": cursor}
        newest_first = [_public_event(event) for event in reversed(profile.events)]
        page, cursor = _paginate(newest_first, request)
        return {"data": page, "cursor": cursor}

    @staticmethod
    def _answer(response: Response) -> Response:
        response.headers["Request-Id"] = str(uuid.uuid4())
        return response


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _query_list(request: Request, name: str) -> set[str]:
    return {
        item
        for value in request.query.get(name, [])
        for item in value.split(",")
        if item
    }


def _paginate(items: list[Any], request: Request) -> tuple[list[Any], dict[str, Any]]:
    try:
        limit = min(
            max(int(request.query.get("limit", [DEFAULT_PAGE_SIZE])[0]), 1),
            MAX_PAGE_SIZE,
        )
        offset = max(int(request.query.get("next", ["0"])[0] or 0), 0)
    except ValueError:
        limit, offset = DEFAULT_PAGE_SIZE, 0
    page = items[offset : offset + limit]
    has_more = offset + limit < len(items)
    next_cursor = str(offset + limit) if has_more else ""
    url = f"{request.path}?limit={limit}&next={quote(next_cursor)}" if has_more else ""
    return page, {"url": url, "has_more": has_more, "next": next_cursor}


def _external_id(record: ExternalId) -> dict[str, Any]:
    return {
        "id": record.value,
        "type": record.id_type,
        "source_id": record.source_id,
        "collection": "users",
        "created_at": record.created_at,
        "encoding": "none",
    }


def _public_event(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key != "received_at"}


def _metadata(profile: Profile) -> dict[str, Any]:
    first, last = profile.events[0], profile.events[-1]
    return {
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
        "expires_at": None,
        "first_message_id": first["message_id"],
        "first_source_id": first["source_id"],
        "last_message_id": last["message_id"],
        "last_source_id": last["source_id"],
        "segment_id": profile.segment_id,
    }


def source_id_for(write_key: str) -> str:
    """A stable, non-reversible source id for a write key, as Segment shows ids, never keys."""
    return "src_" + hashlib.sha256(write_key.encode("utf-8")).hexdigest()[:16]
