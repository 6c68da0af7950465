"""Human-readable ages such as "2 hours ago", relative to a given now."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["describe_age"]

_UNITS = (
    (365 * 24 * 3600, "year"),
    (30 * 24 * 3600, "month"),
    (7 * 24 * 3600, "week"),
    (24 * 3600, "day"),
    (3600, "hour"),
    (60, "minute"),
)


def describe_age(then: datetime | None, now: datetime) -> str:
    """Return how long before `now` the moment `then` was, e.g. "2 hours ago" or "just now"."""
    if then is None:
        return "at an unknown time"
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    seconds = (now - then).total_seconds()
    if seconds < 60:
        # A moment slightly in the future is clock skew between Intercom and us.
        return "just now"
    for unit_seconds, name in _UNITS:
        if seconds >= unit_seconds:
            count = int(seconds // unit_seconds)
            return f"{count} {name}{'s' if count != 1 else ''} ago"
    return "just now"
