"""Prometheus metrics of notification processing: queue depth, latency, outcomes, dead letters."""

from __future__ import annotations

from datetime import datetime, timezone

import structlog
from prometheus_client import Counter, Gauge, Histogram
from pymongo.asynchronous.database import AsyncDatabase

__all__ = [
    "DEAD_LETTERS",
    "OLDEST_PENDING_AGE",
    "OUTCOMES",
    "PROCESSING_SECONDS",
    "QUEUE_DEPTH",
    "refresh_queue_gauges",
    "topic_label",
]

log = structlog.get_logger(__name__)

QUEUE_DEPTH = Gauge(
    "intercom_notifications_pending",
    "Stored notifications waiting to be processed (status pending), by app key.",
    ["app"],
)
OLDEST_PENDING_AGE = Gauge(
    "intercom_notifications_oldest_pending_age_seconds",
    "Seconds since the oldest pending notification was received; 0 when none is pending.",
)
DEAD_LETTERS = Gauge(
    "intercom_notifications_dead",
    "Notifications whose handlers failed on every allowed attempt (status dead), by app key.",
    ["app"],
)
PROCESSING_SECONDS = Histogram(
    "intercom_notification_processing_seconds",
    "Seconds one attempt spent running the handlers of a notification, by topic.",
    ["topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
OUTCOMES = Counter(
    "intercom_notifications_processed_total",
    "Processing attempts by topic and outcome: done, skipped (uninstalled workspace), retry, "
    "dead, released (worker stopping) or parked (order key busy).",
    ["topic", "outcome"],
)

_apps_by_status: dict[str, set[str]] = {}

# Topics come from signed payloads, and Intercom's topic catalogue has roughly a hundred
# entries of under 60 characters (an estimate). The caps keep a misbehaving sender from growing
# the label set, and so the /metrics page, without bound.
MAX_TOPIC_LABELS = 300
MAX_TOPIC_LABEL_LENGTH = 100
OTHER_TOPIC_LABEL = "other"
_topic_labels: set[str] = set()


def topic_label(topic: str) -> str:
    """Return `topic` as a metric label, or "other" when it is too long or MAX_TOPIC_LABELS topics were seen."""
    if topic in _topic_labels:
        return topic
    if len(topic) > MAX_TOPIC_LABEL_LENGTH or len(_topic_labels) >= MAX_TOPIC_LABELS:
        return OTHER_TOPIC_LABEL
    _topic_labels.add(topic)
    return topic


async def refresh_queue_gauges(database: AsyncDatabase, now: datetime | None = None) -> None:
    """Count pending and dead notifications by app and measure the oldest pending one."""
    now = now or datetime.now(timezone.utc)

    for status, gauge in (("pending", QUEUE_DEPTH), ("dead", DEAD_LETTERS)):
        counts = await database.notifications.aggregate(
            [{"$match": {"status": status}}, {"$group": {"_id": "$app", "count": {"$sum": 1}}}]
        )
        seen = {str(row["_id"]): row["count"] async for row in counts}
        # An app that drained to zero keeps a sample of 0 instead of its last count.
        known = _apps_by_status.setdefault(status, set())
        known.update(seen)
        for app in known:
            gauge.labels(app).set(seen.get(app, 0))

    oldest = await database.notifications.find_one(
        {"status": "pending"}, {"received_at": 1}, sort=[("received_at", 1)]
    )
    received_at = _as_utc(oldest.get("received_at")) if oldest else None
    OLDEST_PENDING_AGE.set(max((now - received_at).total_seconds(), 0.0) if received_at else 0.0)


def _as_utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None
