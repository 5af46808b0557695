"""The Segment Profile API client: is this ID known to Segment, as a userId or an anonymousId?

Only a definite 404 ``not_found`` for the profile means "unknown to Segment". A refused token, an
unknown space or a service that keeps failing is an error (exit 4): reporting those as "unknown"
would blame the visitor ID for a configuration problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from abseg.errors import ServiceError
from abseg.service_client import ServiceClient

if TYPE_CHECKING:
    from abseg.http import HttpClient

SERVICE = "Segment Profile API"


class IdType(str, Enum):
    """Segment's external id types for the two fields a Tracking API call identifies a user by."""

    USER_ID = "user_id"
    ANONYMOUS_ID = "anonymous_id"

    @property
    def field(self) -> str:
        """The Tracking API field: ``userId`` or ``anonymousId``."""
        return {IdType.USER_ID: "userId", IdType.ANONYMOUS_ID: "anonymousId"}[self]

    @classmethod
    def of_field(cls, field: str) -> IdType:
        return {"userId": cls.USER_ID, "anonymousId": cls.ANONYMOUS_ID}[field]

    @property
    def other(self) -> IdType:
        return IdType.ANONYMOUS_ID if self is IdType.USER_ID else IdType.USER_ID


@dataclass(frozen=True)
class ProfileLookup:
    """What the Profile API said of one ``type:value``; ``linked`` are the profile's other ids."""

    id_type: IdType
    value: str
    found: bool
    linked: tuple[tuple[str, str], ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": f"{self.id_type.value}:{self.value}",
            "found": self.found,
            "linked": [{"type": kind, "id": value} for kind, value in self.linked],
        }


def profile_path_segment(id_type: IdType, value: str) -> str:
    """``user_id:VALUE`` with the value percent-encoded (``+`` as ``%2B``, ``/`` as ``%2F``).

    The colon stays literal, as in Segment's documented examples; only the value can hold
    characters that would change the path.
    """
    from abseg.http import quoted_path_segment

    return f"{id_type.value}:{quoted_path_segment(value)}"


class ProfileClient(ServiceClient):
    """Looks ids up in one Unify space: ``GET .../profiles/{type:value}/external_ids``.

    ``external_ids`` answers "is it known" with the same single request as ``traits`` would, and
    also names the ids linked to the profile, which tells a user which ID Segment has instead.
    """

    service = SERVICE

    def __init__(self, base_url: str, space_id: str, token: str, *, http: HttpClient | None = None):
        from abseg.http import joined, quoted_path_segment

        super().__init__(http=http)
        self.space_id = space_id
        self._token = token
        self._profiles_url = joined(base_url, "v1/spaces", quoted_path_segment(space_id), "collections/users/profiles")

    def lookup(self, id_type: IdType, value: str) -> ProfileLookup:
        from abseg.http import basic_authorization

        url = f"{self._profiles_url}/{profile_path_segment(id_type, value)}/external_ids"
        response = self._http.request("GET", url, headers={"Authorization": basic_authorization(self._token)})
        if response.status_code == 200:
            return ProfileLookup(id_type, value, True, _linked_ids(response, id_type, value))
        if response.status_code == 404 and _is_unknown_profile(response):
            return ProfileLookup(id_type, value, False)
        raise self._refusal(response)

    def _refusal(self, response: Any) -> ServiceError:
        from abseg.http import first_message

        status = response.status_code
        message = first_message(response)
        details = {"service": SERVICE, "status": status, "server_message": message,
                   "request_id": response.headers.get("request-id")}
        if status in (401, 403):
            return ServiceError(
                f"{SERVICE} refused our access token (HTTP {status}: {message})",
                hint="check the connector's Profile API token (Unify > Settings > API access) and that it "
                "belongs to this space",
                details={**details, "refused": True},
            )
        if status == 404:
            return ServiceError(
                f"{SERVICE} does not know the space {self.space_id!r} ({message})",
                hint="check the connector's profile space ID and region (US and EU spaces live on different hosts)",
                details={**details, "refused": True},
            )
        return ServiceError(f"{SERVICE} answered HTTP {status} ({message})", details=details)


def _is_unknown_profile(response: Any) -> bool:
    """The documented "Profile was not found." 404, as opposed to a 404 for the space or the URL."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return False
    return (
        isinstance(error, dict)
        and error.get("code") == "not_found"
        and "profile" in str(error.get("message", "")).lower()
    )


def _linked_ids(response: Any, id_type: IdType, value: str) -> tuple[tuple[str, str], ...]:
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        raise ServiceError(f"{SERVICE} answered 200 with a body that is not a JSON object") from None
    linked = []
    for entry in data if isinstance(data, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("type"), str) and isinstance(entry.get("id"), str):
            if (entry["type"], entry["id"]) != (id_type.value, value):
                linked.append((entry["type"], entry["id"]))
    return tuple(linked)
