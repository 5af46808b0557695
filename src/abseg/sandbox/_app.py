"""Routing, fault injection and the `/_sandbox` inspection endpoints, over the five services."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Protocol

from ._decision import DecisionService, HitsService, load_campaigns
from ._faults import Fault, FaultInjector
from ._http import Request, Response, json_response
from ._profiles import ProfileService
from ._records import RecordLog, mask_secret, utc_now
from ._segment import SettingsCdnService, SourceRegistry, TrackingService

CONTROL_PREFIX = "/_sandbox"


class Service(Protocol):
    def handle(self, request: Request) -> Response: ...

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response: ...


@dataclasses.dataclass(frozen=True)
class Settings:
    fault_rate: float
    seed: int | None
    profile_rate_limit: float
    decision_rate_limit: float
    decision_burst: float
    campaigns_path: str | None
    retry_after_seconds: int
    slow_seconds: float


class SandboxApp:
    """All state of one sandbox, and the answer to every request it receives."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sources = SourceRegistry()
        self.profiles = ProfileService(settings.profile_rate_limit)
        self.tracking = TrackingService(self.sources, self.profiles)
        self.decision = DecisionService(
            load_campaigns(settings.campaigns_path),
            settings.decision_rate_limit,
            settings.decision_burst,
        )
        self.hits = HitsService()
        self.faults = FaultInjector(settings.fault_rate, settings.seed)
        self.injected_faults = RecordLog()
        # The first path segment names the service: /segment/v1/track -> tracking, "/v1/track".
        self._services: dict[str, Service] = {
            "segment": self.tracking,
            "cdn": SettingsCdnService(self.sources),
            "profiles": self.profiles,
            "decision": self.decision,
            "hits": self.hits,
        }

    def reset(self) -> None:
        self.tracking.reset()
        for store in self.profiles.spaces().values():
            store.clear()
        self.decision.reset()
        self.hits.calls.clear()
        self.injected_faults.clear()

    def dispatch(self, request: Request) -> Response | None:
        """The response to send, or None to close the connection without answering."""
        if request.path == CONTROL_PREFIX or request.path.startswith(
            CONTROL_PREFIX + "/"
        ):
            return self._control(request)
        prefix, _, rest = request.path.lstrip("/").partition("/")
        service = self._services.get(prefix)
        if service is None:
            return json_response(
                404,
                {
                    "message": f"no sandbox service at {request.path}; see {CONTROL_PREFIX}/"
                },
            )
        return self._serve(
            prefix, service, dataclasses.replace(request, path="/" + rest)
        )

    def _serve(self, name: str, service: Service, request: Request) -> Response | None:
        fault = self.faults.draw()
        if fault is not None:
            self.injected_faults.append(
                {
                    "time": utc_now(),
                    "service": name,
                    "method": request.method,
                    "path": _loggable_path(name, request.path),
                    "fault": fault.value,
                }
            )
        if fault is Fault.SERVER_ERROR:
            return service.error(500, "sandbox: injected server error")
        if fault is Fault.RATE_LIMITED:
            retry_after = {"Retry-After": str(self.settings.retry_after_seconds)}
            return service.error(429, "sandbox: injected rate limit", retry_after)
        if fault is Fault.DROP_BEFORE:
            return None
        if fault is Fault.SLOW:
            time.sleep(self.settings.slow_seconds)
        response = service.handle(request)
        return None if fault is Fault.DROP_AFTER else response

    # --- /_sandbox: never faulted or rate limited ------------------------------------------------

    def _control(self, request: Request) -> Response:
        action = request.path.removeprefix(CONTROL_PREFIX).strip("/")
        if request.method == "GET":
            views = {
                "": self.index,
                "events": lambda: {"events": self.tracking.events.snapshot()},
                "decision-requests": lambda: {
                    "decision_requests": self.decision.requests.snapshot()
                },
                "calls": lambda: {
                    "activate": self.decision.activate_calls.snapshot(),
                    "hits": self.hits.calls.snapshot(),
                },
                "faults": lambda: {
                    "fault_rate": self.faults.rate,
                    "faults": self.injected_faults.snapshot(),
                },
                "profiles": self.profiles_view,
            }
            if action in views:
                return json_response(200, views[action]())
        if request.method == "POST" and action in ("reset", "panic", "fault-rate"):
            return self._control_change(action, request)
        return json_response(
            404, {"message": f"unknown sandbox control {request.method} {request.path}"}
        )

    def _control_change(self, action: str, request: Request) -> Response:
        if action == "reset":
            self.reset()
            return json_response(200, {"reset": True})
        try:
            document = json.loads(request.body or b"{}")
        except ValueError:
            return json_response(400, {"message": "the body must be JSON"})
        if action == "panic":
            if not isinstance(document.get("panic"), bool):
                return json_response(400, {"message": 'expected {"panic": true|false}'})
            self.decision.panic = document["panic"]
            return json_response(200, {"panic": self.decision.panic})
        try:
            self.faults.rate = float(document["fault_rate"])
        except (KeyError, TypeError, ValueError) as error:
            return json_response(
                400, {"message": f'expected {{"fault_rate": 0..1}}: {error}'}
            )
        return json_response(200, {"fault_rate": self.faults.rate})

    def index(self) -> dict[str, Any]:
        return {
            "services": {
                "segment_tracking": "POST /segment/v1/{identify,track,page,screen,group,alias,batch}",
                "segment_settings_cdn": "GET /cdn/v1/projects/{writeKey}/settings",
                "segment_profiles": "GET /profiles/v1/spaces/{space}/collections/users/profiles/{id}/"
                "{traits,external_ids,metadata,events}",
                "decision": "POST /decision/v2/{envId}/campaigns",
                "decision_activate": "POST /decision/v2/activate (recorded only)",
                "hits": "POST /hits/ (recorded only)",
            },
            "inspection": {
                "GET /_sandbox/events": "every Tracking API event and what became of it",
                "GET /_sandbox/profiles": "profiles built from accepted events, by space",
                "GET /_sandbox/decision-requests": "every Decision API request, body as received",
                "GET /_sandbox/calls": "activate and hits calls",
                "GET /_sandbox/faults": "faults injected so far",
                "POST /_sandbox/reset": "forget events, profiles, calls and faults",
                "POST /_sandbox/panic": '{"panic": true|false}',
                "POST /_sandbox/fault-rate": '{"fault_rate": 0..1}',
            },
            "fault_rate": self.faults.rate,
            "panic": self.decision.panic,
        }

    def profiles_view(self) -> dict[str, Any]:
        return {
            "spaces": {
                space_id: [
                    {
                        "segment_id": profile.segment_id,
                        "external_ids": [
                            {"type": record.id_type, "id": record.value}
                            for record in profile.external_ids.values()
                        ],
                        "traits": profile.traits,
                        "event_count": len(profile.events),
                    }
                    for profile in store.profiles()
                ]
                for space_id, store in self.profiles.spaces().items()
            }
        }


def _loggable_path(service: str, path: str) -> str:
    """The request path for inspection, with the write key the settings CDN URL carries masked."""
    parts = path.split("/")
    if service == "cdn" and len(parts) > 3 and parts[1:3] == ["v1", "projects"]:
        parts[3] = mask_secret(parts[3])
    return "/".join(parts)
