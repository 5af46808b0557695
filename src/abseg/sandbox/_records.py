"""What the sandbox remembers for inspection, and the small helpers every service shares."""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime
from typing import Any


def utc_now() -> str:
    """ISO-8601 UTC with milliseconds, the way Segment writes timestamps."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def mask_secret(secret: str) -> str:
    """Enough of a key to tell two apart in inspection output, never enough to use it."""
    return secret[:4] + "…"


class RecordLog:
    """Append-only, thread-safe list of records; readers get copies they may freely mutate."""

    def __init__(self) -> None:
        self._records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            numbered = {"seq": len(self._records) + 1, **record}
            self._records.append(numbered)
        return numbered

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
