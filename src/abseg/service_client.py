"""What every service client shares: one pooled HTTP client, its own unless a shared one is passed.

Kept apart from ``abseg.http`` so that defining a client does not import httpx; only making one does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    from abseg.http import HttpClient


class ServiceClient:
    service: ClassVar[str]

    def __init__(self, *, http: HttpClient | None = None, **http_settings: Any):
        from abseg.http import HttpClient

        self._own_http = http is None
        self._http = http or HttpClient(self.service, **http_settings)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._own_http:
            self._http.close()
