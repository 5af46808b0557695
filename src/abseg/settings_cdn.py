"""Segment's settings CDN: the one place that tells whether a write key exists.

The Tracking API answers 200 even for a key that does not exist (the events are then discarded), so
abseg asks the CDN that browser analytics loads: 200 with the source's settings for a real key, 404
for an unknown one. Unofficial but widely relied upon.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from abseg.errors import ServiceError
from abseg.secrets import redact

DEFAULT_CDN_URL = "https://cdn-settings.segment.com"  # serves US and EU sources alike
CDN_URL_ENV = "ABSEG_SEGMENT_CDN_URL"

# Segment's Tracking API host per region: also what the settings name as the source's apiHost.
REGION_HOSTS = {"us": "api.segment.io", "eu": "events.eu1.segmentapis.com"}


def cdn_base_url(override: str | None = None) -> str:
    return os.environ.get(CDN_URL_ENV) or override or DEFAULT_CDN_URL


@dataclass(frozen=True)
class SourceSettings:
    """What the CDN says of a write key. ``exists`` False means Segment does not know the key."""

    exists: bool
    api_host: str | None = None

    @property
    def region(self) -> str | None:
        """``us`` or ``eu`` from the source's ingestion host, when the settings name one."""
        if not self.api_host:
            return None
        for region, host in REGION_HOSTS.items():
            if self.api_host.startswith(host):
                return region
        return None

    def as_json(self) -> dict[str, Any]:
        return {"exists": self.exists, "api_host": self.api_host, "region": self.region}


def fetch_source_settings(write_key: str, base_url: str | None = None, *, client: Any = None) -> SourceSettings:
    """Ask the CDN about ``write_key``. Raises ``ServiceError`` for anything but 200 or 404."""
    from abseg.http import HttpClient, joined, quoted_path_segment

    own_client = client is None
    http = client or HttpClient("Segment settings CDN")
    try:
        url = joined(cdn_base_url(base_url), "v1/projects", quoted_path_segment(write_key), "settings")
        response = http.request("GET", url)
    finally:
        if own_client:
            http.close()
    if response.status_code == 404:
        if "write key" in response.text.lower():  # "Invalid path or write key provided."
            return SourceSettings(exists=False)
        # Any other 404 is a wrong base URL, not an unknown key: saying "copy your key again"
        # would send the user after the wrong problem.
        raise ServiceError(
            f"Segment settings CDN answered HTTP 404 without saying the write key is unknown, at {redact(url)}",
            hint=f"check {CDN_URL_ENV} or the connector's [urls] cdn",
        )
    if response.status_code != 200:
        raise ServiceError(
            f"Segment settings CDN answered HTTP {response.status_code} for the write key check",
            hint="try again later, or check ABSEG_SEGMENT_CDN_URL",
        )
    try:
        document = response.json()
    except ValueError:
        raise ServiceError("Segment settings CDN answered 200 with a body that is not JSON") from None
    return SourceSettings(exists=True, api_host=_api_host(document))


def _api_host(document: Any) -> str | None:
    if not isinstance(document, dict):
        return None
    segment_io = (document.get("integrations") or {}).get("Segment.io")
    if isinstance(segment_io, dict) and isinstance(segment_io.get("apiHost"), str):
        return segment_io["apiHost"]
    return None
