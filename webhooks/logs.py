"""Logging helpers: rate-limited warnings, so a flood of bad requests cannot flood the log,
and the fields of every line about a notification.

Any package may use it: `RateLimitedLog(log).warning("webhook.bad_signature", key=app, app=app)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["RateLimitedLog", "notification_fields"]


def notification_fields(document: dict[str, Any]) -> dict[str, Any]:
    """Return `app`, `workspace_id`, `notification_id` and `topic` of a notification document."""
    return {
        "app": document.get("app"),
        "workspace_id": document.get("workspace_id"),
        "notification_id": document.get("notification_id"),
        "topic": document.get("topic"),
    }


class RateLimitedLog:
    """Emit each (event, key) at most once per `interval` seconds, counting the ones skipped.

    The next emitted line carries `suppressed=N`, the number of repeats dropped since the last
    one, so the log still shows how often the event happened.
    """

    def __init__(
        self,
        logger: Any,
        *,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._max_keys = max_keys
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def warning(self, event: str, *, key: str = "", **fields: Any) -> bool:
        """Log `event` at WARNING unless it was logged for `key` within the interval; return whether it was."""
        return self._emit(self._logger.warning, event, key, fields)

    def error(self, event: str, *, key: str = "", **fields: Any) -> bool:
        """Log `event` at ERROR unless it was logged for `key` within the interval; return whether it was."""
        return self._emit(self._logger.error, event, key, fields)

    def _emit(self, method: Callable[..., Any], event: str, key: str, fields: dict[str, Any]) -> bool:
        now = self._clock()
        slot = (event, key)
        last_at, suppressed = self._last.get(slot, (None, 0))
        if last_at is not None and now - last_at < self._interval:
            self._last[slot] = (last_at, suppressed + 1)
            return False

        if len(self._last) >= self._max_keys and slot not in self._last:
            # Keys may come from request data; forget old ones rather than grow without bound.
            self._last.clear()
        self._last[slot] = (now, 0)
        if suppressed:
            fields["suppressed"] = suppressed
        method(event, **fields)
        return True
