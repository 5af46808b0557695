"""The one HTTP layer every client uses: timeouts, bounded retries, and traces with secrets masked.

Retries cover what is worth trying again (5xx, 429 honouring ``Retry-After``, connection errors and
timeouts), are bounded in count and in total time, and resend the *same* request, so a payload that
carries a ``messageId`` keeps it on every try. Other 4xx answers are returned to the caller, who knows
what they mean for its service. ``httpx`` is imported here, and this module is imported only by
commands that talk to a service, which keeps it out of start-up.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from abseg import __version__
from abseg.errors import ServiceError
from abseg.secrets import redact

log = logging.getLogger("abseg.http")

USER_AGENT = f"abseg/{__version__}"
MASKED_HEADERS = {"authorization", "x-api-key", "proxy-authorization", "cookie"}


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Defaults suit a CLI: a few tries, seconds not minutes."""

    attempts: int = 4
    timeout: float = 10.0
    backoff: float = 0.25
    max_backoff: float = 4.0
    deadline: float = 30.0

    def delay(self, retry_number: int, rng: random.Random) -> float:
        ceiling = min(self.max_backoff, self.backoff * (2 ** (retry_number - 1)))
        return ceiling * rng.uniform(0.5, 1.0)


NO_RETRY = RetryPolicy(attempts=1)


def encode_json(body: Any) -> bytes:
    """The exact bytes ``request`` sends for ``json_body``, so callers can measure them (size limits)."""
    return json.dumps(body, separators=(",", ":")).encode()


def is_retryable(status: int) -> bool:
    return status == 429 or status >= 500


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date; our own backoff is a fine stand-in


class HttpClient:
    """A pooled ``httpx.Client`` for one service, named in every error it raises."""

    def __init__(
        self,
        service: str,
        *,
        policy: RetryPolicy = RetryPolicy(),
        retry_count_header: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 20,
        throttle: Callable[[], None] | None = None,
    ):
        self.service = service
        self.policy = policy
        self.retry_count_header = retry_count_header
        # Called before every attempt, retries included, so a client-side rate limit holds for them too.
        self._throttle = throttle
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._client = httpx.Client(
            timeout=httpx.Timeout(policy.timeout),
            headers={"User-Agent": USER_AGENT},
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=False,
        )

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> httpx.Response:
        """Send one logical request, retrying it as the policy allows; return the final answer.

        Raises ``ServiceError`` when the service cannot be reached or keeps failing. A non-retryable
        answer (2xx, 3xx, most 4xx) is returned for the caller to interpret.
        """
        content = None if json_body is None else encode_json(json_body)
        base_headers = dict(headers or {})
        if content is not None:
            base_headers.setdefault("Content-Type", "application/json")
        attempts = self.policy.attempts if retry else 1
        started = time.monotonic()
        problem = ""
        for attempt in range(1, attempts + 1):
            send_headers = dict(base_headers)
            if attempt > 1 and self.retry_count_header:
                send_headers[self.retry_count_header] = str(attempt - 1)
            if self._throttle is not None:
                self._throttle()
            _trace_request(method, url, send_headers, content, attempt)
            wait: float | None = None
            try:
                response = self._client.request(method, url, content=content, headers=send_headers)
            except httpx.TransportError as exc:
                problem = _describe_transport_error(exc)
                log.debug("!! %s", redact(problem))
            else:
                _trace_response(response, time.monotonic() - started)
                if not is_retryable(response.status_code):
                    return response
                problem = f"answered HTTP {response.status_code}"
                wait = retry_after_seconds(response) if response.status_code == 429 else None
            if attempt == attempts:
                break
            delay = wait if wait is not None else self.policy.delay(attempt, self._rng)
            remaining = self.policy.deadline - (time.monotonic() - started)
            if delay > remaining:
                problem += f" (next retry would wait {delay:.1f}s, past the {self.policy.deadline:.0f}s budget)"
                break
            log.debug("   retrying in %.2fs (%s)", delay, problem)
            self._sleep(delay)
        tries = f"{attempt} {'try' if attempt == 1 else 'tries'}"
        raise ServiceError(
            f"{self.service} {redact(problem)} after {tries}",
            hint="check the service URL and your network, or try again later",
        )


def _describe_transport_error(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"did not answer in time ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return "could not be reached (connection refused or host unknown)"
    return f"dropped the connection ({type(exc).__name__})"


def masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("***" if k.lower() in MASKED_HEADERS else redact(v)) for k, v in headers.items()}


def _trace_request(method: str, url: str, headers: Mapping[str, str], content: bytes | None, attempt: int) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return
    retry_note = f" (try {attempt})" if attempt > 1 else ""
    log.debug("-> %s %s%s", method, redact(url), retry_note)
    for key, value in masked_headers(headers).items():
        log.debug("   %s: %s", key, value)
    if content:
        log.debug("   %s", redact(content.decode("utf-8", "replace"))[:4000])


def _trace_response(response: httpx.Response, elapsed: float) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return
    log.debug("<- HTTP %s (%.0f ms)", response.status_code, elapsed * 1000)
    body = response.text
    if body:
        log.debug("   %s", redact(body)[:4000])


def basic_authorization(secret: str) -> str:
    """``Basic base64("SECRET:")``: how Segment takes a write key or a Profile API token (empty password)."""
    import base64

    return "Basic " + base64.b64encode(f"{secret}:".encode()).decode()


def joined(base: str, *parts: str) -> str:
    """``base`` (which may carry a path prefix, as the sandbox's do) joined with path parts."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def quoted_path_segment(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def first_message(response: httpx.Response, keys: Iterable[str] = ("message",)) -> str:
    """The server's own error text, shortened to one line (never trusted to be JSON)."""
    try:
        data = response.json()
    except ValueError:
        return " ".join(response.text.split())[:200]
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"][:200]
        for key in keys:
            if isinstance(data.get(key), str):
                return " ".join(data[key].split())[:200]
    return " ".join(response.text.split())[:200]
