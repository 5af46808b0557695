"""Local stand-ins, on 127.0.0.1, for Segment (Tracking API, settings CDN, Profile API) and the
AB Tasty FE&R Decision API (plus its activate and hits endpoints, which only record).

Written from the services' documented behaviour with the standard library only, and sharing no
code with abseg's clients: it is what those clients are tested against.

    with Sandbox() as sb:
        os.environ.update(sb.environ())
        ...
        assert sb.events()[0]["status"] == "accepted"
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ._app import SandboxApp, Settings
from ._http import SandboxHTTPServer

__all__ = [
    "DEMO_DECISION_API_KEY",
    "DEMO_ENV_ID",
    "DEMO_PROFILE_TOKEN",
    "DEMO_SPACE_ID",
    "DEMO_WRITE_KEY",
    "Sandbox",
]

# Throw-away credentials that say what they are wherever they end up being printed.
DEMO_WRITE_KEY = (
    "sandboxDEMOwriteKEY0000000000001"  # 32 alphanumerics, like a real write key
)
DEMO_PROFILE_TOKEN = "sandbox-demo-profile-token"
DEMO_SPACE_ID = "spa_sandbox"
DEMO_ENV_ID = "sandbox-env"
DEMO_DECISION_API_KEY = "sandbox-demo-decision-api-key"

HOST = "127.0.0.1"


class Sandbox:
    def __init__(
        self,
        port: int = 0,
        fault_rate: float = 0.0,
        seed: int | None = None,
        profile_rate_limit: float = 100.0,
        decision_rate_limit: float = 200.0,
        decision_burst: int = 600,
        campaigns_path: str | Path | None = None,
        retry_after_seconds: int = 1,
        slow_seconds: float = 0.5,
    ) -> None:
        """A rate limit of 0 disables that limit. A bad campaigns file raises ValueError here."""
        self._requested_port = port
        self._app = SandboxApp(
            Settings(
                fault_rate=fault_rate,
                seed=seed,
                profile_rate_limit=profile_rate_limit,
                decision_rate_limit=decision_rate_limit,
                decision_burst=decision_burst,
                campaigns_path=str(campaigns_path)
                if campaigns_path is not None
                else None,
                retry_after_seconds=retry_after_seconds,
                slow_seconds=slow_seconds,
            )
        )
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.register_space(DEMO_SPACE_ID, DEMO_PROFILE_TOKEN)
        self.register_write_key(DEMO_WRITE_KEY, region="us")
        self.register_environment(DEMO_ENV_ID, DEMO_DECISION_API_KEY)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self._server = SandboxHTTPServer(
            (HOST, self._requested_port), self._app.dispatch
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="abseg-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_open_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- where the services are ------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the sandbox is not running: call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def segment_url(self) -> str:
        return f"{self.url}/segment"

    @property
    def cdn_url(self) -> str:
        return f"{self.url}/cdn"

    @property
    def profile_url(self) -> str:
        return f"{self.url}/profiles"

    @property
    def decision_url(self) -> str:
        return f"{self.url}/decision"

    @property
    def hits_url(self) -> str:
        return f"{self.url}/hits"

    def environ(self) -> dict[str, str]:
        """The variables that point abseg at this sandbox."""
        return {
            "ABSEG_SEGMENT_URL": self.segment_url,
            "ABSEG_SEGMENT_CDN_URL": self.cdn_url,
            "ABSEG_PROFILE_URL": self.profile_url,
            "ABSEG_DECISION_URL": self.decision_url,
        }

    # --- configuration ---------------------------------------------------------------------------

    def register_write_key(
        self, key: str, region: str = "us", space_id: str | None = DEMO_SPACE_ID
    ) -> None:
        """A Segment source; its accepted events feed the profiles of `space_id` (None: no space)."""
        if space_id is not None and self._app.profiles.store(space_id) is None:
            raise ValueError(f"unknown space {space_id!r}: register_space() it first")
        self._app.sources.register(key, region, space_id)

    def register_space(self, space_id: str, token: str) -> None:
        """A Unify space and its Profile API access token (re-registering keeps its profiles)."""
        self._app.profiles.register_space(space_id, token)

    def register_environment(self, env_id: str, api_key: str) -> None:
        self._app.decision.register_environment(env_id, api_key)

    def set_panic(self, panic: bool) -> None:
        self._app.decision.panic = panic

    def set_fault_rate(self, fault_rate: float) -> None:
        self._app.faults.rate = fault_rate

    # --- inspection ------------------------------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        return self._app.tracking.events.snapshot()

    def decision_requests(self) -> list[dict[str, Any]]:
        return self._app.decision.requests.snapshot()

    def activate_calls(self) -> list[Any]:
        return [
            record["body"] for record in self._app.decision.activate_calls.snapshot()
        ]

    def hit_calls(self) -> list[Any]:
        return [record["body"] for record in self._app.hits.calls.snapshot()]

    def faults(self) -> list[dict[str, Any]]:
        return self._app.injected_faults.snapshot()

    def profiles(self) -> dict[str, Any]:
        """Profiles by space: segment_id, external_ids, traits and event_count of each."""
        spaces: dict[str, Any] = self._app.profiles_view()["spaces"]
        return spaces

    def reset(self) -> None:
        """Forget events, profiles, calls and faults; registrations, panic and fault rate stay."""
        self._app.reset()
