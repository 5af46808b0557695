"""Fault injection and rate limiting: the ways real services misbehave that clients must survive."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from enum import Enum


class Fault(str, Enum):
    SERVER_ERROR = "server_error"  # 500 before the request is processed
    RATE_LIMITED = "rate_limited"  # 429 + Retry-After before the request is processed
    SLOW = "slow"  # processed normally, but only after a delay
    DROP_BEFORE = "drop_before_processing"  # connection closed, nothing processed
    # Processed (events ingested) yet no answer: the client retries what already succeeded,
    # which is how real duplicates arise and what messageId de-duplication exists for.
    DROP_AFTER = "drop_after_processing"


class FaultInjector:
    """Draws, per service request, whether to misbehave and how, from one seeded generator."""

    def __init__(self, rate: float, seed: int | None) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.rate = rate

    @property
    def rate(self) -> float:
        return self._rate

    @rate.setter
    def rate(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {value}")
        self._rate = value

    def draw(self) -> Fault | None:
        # Two draws per request whatever the outcome, so the sequence of faults for a seed does
        # not depend on the rate in force or on earlier outcomes: only on the order of arrival.
        with self._lock:
            roll = self._random.random()
            kind = self._random.choice(list(Fault))
        return kind if roll < self._rate else None


class TokenBucket:
    """Allows `rate` requests per second on average and `burst` at once; rate 0 means no limit."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> int:
        """Spend one token; 0 when allowed, else the whole seconds to wait (a Retry-After)."""
        if self._rate <= 0:
            return 0
        with self._lock:
            now = self._clock()
            self._tokens = min(
                self._burst, self._tokens + (now - self._last) * self._rate
            )
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0
            return max(1, math.ceil((1 - self._tokens) / self._rate))
