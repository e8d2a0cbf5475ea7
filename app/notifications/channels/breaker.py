"""A circuit breaker per provider: after repeated failures, stop calling it for a while.

Rows wait and retry with backoff while the circuit is open; nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pybreaker

from app.notifications.channels import DeliveryError

T = TypeVar("T")


class ProviderBreaker:
    def __init__(self, name: str, fail_max: int = 5, reset_timeout: int = 60) -> None:
        # Only transient failures (provider down) trip the breaker; a refused recipient does not.
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            name=name,
            exclude=[lambda exc: isinstance(exc, DeliveryError) and not exc.transient],
        )

    @property
    def state(self) -> str:
        return self._breaker.current_state

    def call(self, fn: Callable[[], T]) -> T:
        try:
            return self._breaker.call(fn)
        except pybreaker.CircuitBreakerError as exc:
            raise DeliveryError(f"{self._breaker.name} circuit open", transient=True) from exc
