"""AB Tasty FE&R Decision API stand-in, plus the activate and hits endpoints, which only record.

The request body is checked as strictly as the real API (a protojson parser): unknown fields and
wrong types are a 400, because a client that passes the sandbox must pass the real service.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ._faults import TokenBucket
from ._http import Request, Response, json_response
from ._records import RecordLog, utc_now

# Every accepted spelling (protojson takes the proto name and the lowerCamelCase JSON name) and
# the field it means.
FIELD_BY_SPELLING = {
    "visitor_id": "visitor_id",
    "visitorId": "visitor_id",
    "anonymous_id": "anonymous_id",
    "anonymousId": "anonymous_id",
    "context": "context",
    "trigger_hit": "trigger_hit",
    "triggerHit": "trigger_hit",
    "visitor_consent": "visitor_consent",
    "visitorConsent": "visitor_consent",
}
FIELD_TYPES: dict[str, tuple[type, str]] = {
    "visitor_id": (str, "string"),
    "anonymous_id": (str, "string"),
    "context": (dict, "map"),
    "trigger_hit": (bool, "bool"),
    "visitor_consent": (bool, "bool"),
}


# --- campaigns -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variation:
    id: str
    name: str
    reference: bool
    allocation: float  # percent of visitors
    modifications: dict[
        str, Any
    ]  # {"type": "JSON"|"FLAG"|..., "value": {flag key: value}}


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    slug: str | None
    type: str
    variation_group_id: str
    variation_group_name: str
    targeting: dict[str, Any]  # context key -> required value; empty: every visitor
    variations: tuple[Variation, ...]

    def targets(self, context: dict[str, Any]) -> bool:
        return all(
            key in context and _same_value(context[key], wanted)
            for key, wanted in self.targeting.items()
        )

    def variation_for(self, env_id: str, bucketing_id: str) -> Variation | None:
        """Deterministic: the same visitor always lands in the same variation (or in none)."""
        digest = hashlib.sha256(f"{env_id}/{self.id}/{bucketing_id}".encode()).digest()
        bucket = int.from_bytes(digest[:8], "big") % 10000 / 100  # 0.00 .. 99.99
        threshold = 0.0
        for variation in self.variations:
            threshold += variation.allocation
            if bucket < threshold:
                return variation
        return (
            None  # allocations sum below 100: this visitor is left out of the campaign
        )

    def as_response(self, variation: Variation) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "slug": self.slug,
            "type": self.type,
            "variationGroupId": self.variation_group_id,
            "variationGroupName": self.variation_group_name,
            "variation": {
                "id": variation.id,
                "name": variation.name,
                "reference": variation.reference,
                "modifications": variation.modifications,
            },
        }


def _same_value(actual: Any, wanted: Any) -> bool:
    # Python holds True == 1; a targeting on a boolean must not match the number 1.
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return actual is wanted
    return bool(actual == wanted)


class CampaignsFileError(ValueError):
    """What is wrong in a campaigns file, said relative to the campaign (and variation) at fault."""


def load_campaigns(path: str | Path | None) -> tuple[Campaign, ...]:
    """Campaigns from a JSON file (see docs/sandbox.md); the bundled ones when path is None.

    Raises ValueError naming the file and what is wrong in it, with no exception type or repr: the
    message is shown to users of ``abseg sandbox --campaigns`` as it is.
    """
    if path is None:
        text = (
            resources.files(__package__)
            .joinpath("data/campaigns.json")
            .read_text("utf-8")
        )
        origin = "bundled campaigns.json"
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as error:
            raise ValueError(
                f"cannot read the campaigns file {path}: {error.strerror or error}"
            ) from error
        except UnicodeDecodeError as error:
            raise ValueError(
                f"{path}: not a valid campaigns file: not UTF-8 text ({error.reason} "
                f"at byte {error.start})"
            ) from error
        origin = str(path)
    try:
        document = json.loads(text)
        if not isinstance(document, dict) or not isinstance(
            document.get("campaigns"), list
        ):
            raise CampaignsFileError(
                'needs to be an object with a \'campaigns\' list: {"campaigns": [...]}'
            )
        return tuple(
            _campaign(entry, f"campaign {number}")
            for number, entry in enumerate(document["campaigns"], 1)
        )
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{origin}: not a valid campaigns file: not JSON: {error}"
        ) from error
    except CampaignsFileError as error:
        raise ValueError(f"{origin}: not a valid campaigns file: {error}") from error


def _campaign(entry: Any, where: str) -> Campaign:
    """``where`` ("campaign 2") starts every message, counted from 1 as people count."""
    _object(entry, where)
    variations = tuple(
        _variation(variation, f"{where}, variation {number}")
        for number, variation in enumerate(_required(entry, "variations", where), 1)
    )
    if not variations:
        raise CampaignsFileError(f"{where} has no variations")
    total = sum(variation.allocation for variation in variations)
    if total > 100:
        raise CampaignsFileError(
            f"{where}: the allocations sum to {total:g}, more than 100"
        )
    targeting = entry.get("targeting", {})
    if not isinstance(targeting, dict):
        raise CampaignsFileError(f"{where}: 'targeting' must be an object")
    return Campaign(
        id=_text(entry, "id", where),
        name=str(entry.get("name", "")),
        slug=entry.get("slug"),
        type=_text(entry, "type", where),
        variation_group_id=_text(entry, "variationGroupId", where),
        variation_group_name=str(entry.get("variationGroupName", "")),
        targeting=targeting,
        variations=variations,
    )


def _variation(entry: Any, where: str) -> Variation:
    _object(entry, where)
    allocation = _required(entry, "allocation", where)
    # bool is an int in Python, but `"allocation": true` is a mistake, not 1 percent.
    if (
        isinstance(allocation, bool)
        or not isinstance(allocation, int | float)
        or not 0 <= allocation <= 100
    ):
        raise CampaignsFileError(
            f"{where}: 'allocation' must be a percentage, got {allocation!r}"
        )
    modifications = _required(entry, "modifications", where)
    if (
        not isinstance(modifications, dict)
        or not isinstance(modifications.get("type"), str)
        or not isinstance(modifications.get("value"), dict)
    ):
        raise CampaignsFileError(
            f"{where}: 'modifications' needs a 'type' string and a 'value' object"
        )
    return Variation(
        id=_text(entry, "id", where),
        name=str(entry.get("name", "")),
        reference=bool(entry.get("reference", False)),
        allocation=float(allocation),
        modifications=modifications,
    )


def _object(entry: Any, where: str) -> None:
    if not isinstance(entry, dict):
        raise CampaignsFileError(f"{where} is not an object")


def _required(entry: dict[str, Any], key: str, where: str) -> Any:
    if key not in entry:
        raise CampaignsFileError(f"{where} has no {key!r}")
    return entry[key]


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = _required(entry, key, where)
    if not isinstance(value, str) or not value:
        raise CampaignsFileError(
            f"{where}: {key!r} must be a non-empty string, got {value!r}"
        )
    return value


# --- request body ----------------------------------------------------------------------------


class InvalidBody(ValueError):
    pass


def parse_decision_body(raw: bytes) -> dict[str, Any]:
    """The request's fields by proto name, or InvalidBody with the real API's message."""
    text = raw.decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise InvalidBody(
            f"syntax error in body json request. Must be a valid json : {error}"
        ) from error
    if not isinstance(document, dict):
        raise InvalidBody(
            "syntax error in body json request. Must be a valid json : proto: (line 1:1): expected object"
        )
    fields: dict[str, Any] = {}
    for spelling, value in document.items():
        field = FIELD_BY_SPELLING.get(spelling)
        where = _position(text, spelling)
        if field is None:
            raise InvalidBody(
                f'json body is not valid. proto: ({where}): unknown field "{spelling}"'
            )
        if field in fields:
            raise InvalidBody(
                f'json body is not valid. proto: ({where}): duplicate field "{spelling}"'
            )
        if value is None:
            continue  # protojson reads null as "not set"
        expected, kind = FIELD_TYPES[field]
        if not isinstance(value, expected):
            raise InvalidBody(
                f"syntax error in body json request. Field type incorrect : proto: ({where}): "
                f"invalid value for {kind} field {field}: {json.dumps(value)}"
            )
        fields[field] = value
    _check_context(fields.get("context", {}), text)
    if not fields.get("visitor_id"):
        raise InvalidBody("visitor_id is required")
    return fields


def _check_context(context: dict[str, Any], text: str) -> None:
    for key, value in context.items():
        if value is None or isinstance(value, (dict, list)):
            raise InvalidBody(
                f"syntax error in body json request. Field type incorrect : proto: ({_position(text, key)}): "
                f'context value for "{key}" must be a string, number or boolean'
            )


def _position(text: str, key: str) -> str:
    """`line L:C` of a key in the raw JSON, as protojson reports where it stopped."""
    match = re.search(re.escape(json.dumps(key)) + r"\s*:", text)
    offset = match.start() if match else 0
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}:{column}"


# --- service ---------------------------------------------------------------------------------


class DecisionService:
    """`POST /v2/{envId}/campaigns` (decides) and `POST /v2/activate` (records only)."""

    def __init__(
        self, campaigns: tuple[Campaign, ...], rate_limit: float, burst: float
    ) -> None:
        self._campaigns = campaigns
        self._api_keys: dict[str, str] = {}
        self._bucket = TokenBucket(rate_limit, burst)
        self._lock = threading.Lock()
        self.panic = False
        self.requests = RecordLog()
        self.activate_calls = RecordLog()

    def register_environment(self, env_id: str, api_key: str) -> None:
        with self._lock:
            self._api_keys[env_id] = api_key

    def reset(self) -> None:
        self.requests.clear()
        self.activate_calls.clear()

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        return json_response(status, {"message": message}, headers)

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if request.method == "POST" and parts == ["v2", "activate"]:
            self.activate_calls.append(_call_record(request))
            return Response(204)
        if (
            request.method == "POST"
            and len(parts) == 3
            and parts[0] == "v2"
            and parts[2] == "campaigns"
        ):
            response = self._campaigns_response(parts[1], request)
            self.requests.append(_decision_record(parts[1], request, response.status))
            return response
        return self.error(404, "not found")

    def _campaigns_response(self, env_id: str, request: Request) -> Response:
        wait = self._bucket.take()
        if wait:
            return self.error(429, "rate limit exceeded", {"Retry-After": str(wait)})
        with self._lock:
            api_key = self._api_keys.get(env_id)
        if api_key is None:
            return self.error(400, f"environment {env_id} not found")
        if request.header("x-api-key") != api_key:
            return self.error(
                403, "missing or invalid x-api-key header for this environment"
            )
        try:
            fields = parse_decision_body(request.body)
        except InvalidBody as error:
            return self.error(400, str(error))
        visitor_id = fields["visitor_id"]
        if self.panic:
            return json_response(
                200, {"visitorId": visitor_id, "campaigns": [], "panic": True}
            )
        return json_response(
            200, {"visitorId": visitor_id, "campaigns": self._decide(env_id, fields)}
        )

    def _decide(self, env_id: str, fields: dict[str, Any]) -> list[dict[str, Any]]:
        # Experience continuity: a visitor who logged in keeps the variations of the anonymous
        # visitor they were, so assignment hashes the anonymous id when one is given.
        bucketing_id = fields.get("anonymous_id") or fields["visitor_id"]
        context = fields.get("context", {})
        decided = []
        for campaign in self._campaigns:
            if not campaign.targets(context):
                continue
            variation = campaign.variation_for(env_id, bucketing_id)
            if variation is not None:
                decided.append(campaign.as_response(variation))
        return decided


class HitsService:
    """Stand-in of the FE&R hits endpoint (events.flagship.io): records whatever is posted."""

    def __init__(self) -> None:
        self.calls = RecordLog()

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        return json_response(status, {"message": message}, headers)

    def handle(self, request: Request) -> Response:
        self.calls.append(_call_record(request))
        return Response(200)


def _parsed_body(request: Request) -> Any:
    try:
        return json.loads(request.body) if request.body else None
    except (ValueError, UnicodeDecodeError):
        return None


def _call_record(request: Request) -> dict[str, Any]:
    return {
        "time": utc_now(),
        "method": request.method,
        "path": request.path,
        "body": _parsed_body(request),
    }


def _decision_record(env_id: str, request: Request, status: int) -> dict[str, Any]:
    body = _parsed_body(request)
    return {
        "env_id": env_id,
        "body": body,
        # Kept only when the body did not parse, so a test can still see what was sent.
        "raw_body": request.body.decode("utf-8", errors="replace")
        if body is None and request.body
        else None,
        "query": request.query,
        "status": status,
        "time": utc_now(),
        "user_agent": request.header("user-agent"),
    }
