"""Rate-limited warnings, so a flood of bad requests cannot flood the log."""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

__all__ = ["ThrottledLog"]


class ThrottledLog:
    """Log an event at most once per `interval_seconds` per key, with a count of the dropped ones.

    Example::

        rejected = ThrottledLog("signature.rejected", interval_seconds=10)
        rejected.warning(("default", "/intercom/default/uninstall"), app="default", reason=...)
    """

    def __init__(self, event: str, *, interval_seconds: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._event = event
        self._interval = interval_seconds
        self._clock = clock
        self._last: dict[object, float] = {}
        self._suppressed: dict[object, int] = {}
        self._log = structlog.get_logger("oauth")

    def warning(self, key: object, **fields: object) -> bool:
        """Log the event as a warning unless `key` was logged within the interval; return whether it was."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False

        self._last[key] = now
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            fields["suppressed_since_last"] = suppressed
        self._log.warning(self._event, **fields)
        return True
