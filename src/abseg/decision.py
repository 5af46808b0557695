"""The FE&R Decision API client: which campaigns and variations AB Tasty gives a visitor.

A dry-run must leave no trace in AB Tasty's reports, so every request carries ``trigger_hit: false``
and this module has no way to call ``/v2/activate`` or the hits endpoint. The request body holds
only the fields the API documents: the real service rejects any unknown field with a 400.

Error answers are errors, never "no campaigns" (the official SDK turns them into an empty flag set,
which is exactly how a wrong key goes unnoticed). ``httpx`` is imported only when a client is made.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from abseg.errors import BadInput, ServiceError
from abseg.service_client import ServiceClient

if TYPE_CHECKING:
    from abseg.http import HttpClient

SERVICE = "FE&R Decision API"

ContextValue = str | int | float | bool


@dataclass(frozen=True)
class Variation:
    id: str
    name: str | None
    reference: bool
    modifications_type: str | None
    flags: Mapping[str, Any]


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str | None
    slug: str | None
    type: str | None
    variation_group_id: str | None
    variation_group_name: str | None
    variation: Variation

    @property
    def label(self) -> str:
        """How a person recognises the campaign: its name, else its slug, else its id."""
        return self.name or self.slug or self.id

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "slug": self.slug,
            "type": self.type,
            "variation_group_id": self.variation_group_id,
            "variation_group_name": self.variation_group_name,
            "variation": {
                "id": self.variation.id,
                "name": self.variation.name,
                "reference": self.variation.reference,
                "modifications_type": self.variation.modifications_type,
                "flags": dict(self.variation.flags),
            },
        }


@dataclass(frozen=True)
class Decision:
    """The Decision API's answer for one visitor. ``panic``: every campaign of the env is stopped."""

    visitor_id: str
    campaigns: tuple[Campaign, ...]
    panic: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "visitor_id": self.visitor_id,
            "panic": self.panic,
            "campaigns": [campaign.as_json() for campaign in self.campaigns],
        }


def campaigns_request_body(
    visitor_id: str, anonymous_id: str | None = None, context: Mapping[str, ContextValue] | None = None
) -> dict[str, Any]:
    """The one body abseg ever sends: documented fields only, ``trigger_hit`` always false."""
    body: dict[str, Any] = {"visitor_id": visitor_id}
    if anonymous_id is not None:
        body["anonymous_id"] = anonymous_id
    if context:
        body["context"] = dict(context)
    body["trigger_hit"] = False
    return body


class DecisionClient(ServiceClient):
    """``POST {base}/v2/{env_id}/campaigns`` for one environment, with its API key."""

    service = SERVICE

    def __init__(self, base_url: str, env_id: str, api_key: str, *, http: HttpClient | None = None):
        from abseg.http import joined, quoted_path_segment

        super().__init__(http=http)
        self.env_id = env_id
        self._api_key = api_key
        self._url = joined(base_url, "v2", quoted_path_segment(env_id), "campaigns")

    def campaigns(
        self,
        visitor_id: str,
        *,
        anonymous_id: str | None = None,
        context: Mapping[str, ContextValue] | None = None,
    ) -> Decision:
        body = campaigns_request_body(visitor_id, anonymous_id, context)
        response = self._http.request("POST", self._url, json_body=body, headers={"x-api-key": self._api_key})
        if response.status_code == 200:
            return parse_decision(_json(response), visitor_id)
        raise self._refusal(response)

    def _refusal(self, response: Any) -> ServiceError:
        from abseg.http import first_message

        status = response.status_code
        message = first_message(response)
        details = {"service": SERVICE, "status": status, "server_message": message}
        if status in (401, 403):
            return ServiceError(
                f"{SERVICE} refused our credentials for environment {self.env_id!r} (HTTP {status}: {message})",
                hint="check the connector's Decision API key (abseg key set NAME --kind decision-api-key) "
                "and that it belongs to this environment",
                details={**details, "refused": True},
            )
        if status == 400 and "not found" in message.lower():
            # The env ID and its API key are one credential pair: the check cannot run for anyone.
            return ServiceError(
                f"{SERVICE} does not know the environment {self.env_id!r} ({message})",
                hint="copy the environment ID again from AB Tasty (Settings > Feature Experimentation > "
                "Environment settings) into the connector",
                details={**details, "refused": True},
            )
        if status == 400:
            return ServiceError(
                f"{SERVICE} rejected the request (HTTP 400: {message})",
                hint="check the --context values; if they are right this is a bug in abseg, please report it",
                details=details,
            )
        if status == 404:
            return ServiceError(
                f"{SERVICE} answered HTTP 404 at {self._url}",
                hint="check ABSEG_DECISION_URL or the connector's [urls] decision",
                details={**details, "refused": True},
            )
        return ServiceError(f"{SERVICE} answered HTTP {status} ({message})", details=details)


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ServiceError(f"{SERVICE} answered 200 with a body that is not JSON") from None


def parse_decision(document: Any, visitor_id: str) -> Decision:
    """A Decision from the API's JSON (camelCase, optional names); ServiceError if it is not one."""
    if not isinstance(document, dict) or not isinstance(document.get("campaigns", []), list):
        raise ServiceError(f"{SERVICE} answered 200 with an unexpected document (no campaigns list)")
    campaigns = tuple(_campaign(entry) for entry in document.get("campaigns") or [])
    answered_for = document.get("visitorId")
    return Decision(
        visitor_id=answered_for if isinstance(answered_for, str) and answered_for else visitor_id,
        campaigns=campaigns,
        panic=document.get("panic") is True,
    )


def _campaign(entry: Any) -> Campaign:
    variation = entry.get("variation") if isinstance(entry, dict) else None
    if not isinstance(variation, dict) or not _text(entry.get("id")) or not _text(variation.get("id")):
        raise ServiceError(f"{SERVICE} answered with a campaign that has no id or no variation id")
    modifications = variation.get("modifications") if isinstance(variation.get("modifications"), dict) else {}
    flags = modifications.get("value") if isinstance(modifications.get("value"), dict) else {}
    return Campaign(
        id=entry["id"],
        name=_text(entry.get("name")),
        slug=_text(entry.get("slug")),
        type=_text(entry.get("type")),
        variation_group_id=_text(entry.get("variationGroupId")),
        variation_group_name=_text(entry.get("variationGroupName")),
        variation=Variation(
            id=variation["id"],
            name=_text(variation.get("name")),
            reference=variation.get("reference") is True,
            modifications_type=_text(modifications.get("type")),
            flags=flags,
        ),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --- --context KEY=VALUE -------------------------------------------------------------------------

_NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")
_QUOTES = ("\"", "'")


def parse_context_value(raw: str) -> ContextValue:
    """``true``/``false`` → bool, JSON-style numbers → int/float, quotes keep a string, else string.

    A number with a leading zero (``007``, a zip code) stays a string: no JSON number looks like it,
    and turning it into 7 would target the wrong visitors.
    """
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in _QUOTES:
        return raw[1:-1]
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if _NUMBER.match(raw):
        if re.fullmatch(r"-?[0-9]+", raw):
            return int(raw)
        number = float(raw)
        if math.isfinite(number):
            return number
    return raw


def parse_context(pairs: Iterable[str]) -> dict[str, ContextValue]:
    """The ``--context KEY=VALUE`` options as the Decision API's context map; BadInput (exit 2)."""
    context: dict[str, ContextValue] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise BadInput(f"--context {pair!r} is not KEY=VALUE", hint="e.g. --context isVIP=true --context plan=gold")
        if not key or key != key.strip():
            raise BadInput(f"--context {pair!r} has an empty key or spaces around it", hint="write KEY=VALUE")
        if key in context:
            raise BadInput(f"--context key {key!r} is given twice", hint="give each context key once")
        context[key] = parse_context_value(raw)
    return context
