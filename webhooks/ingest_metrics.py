"""Prometheus metrics and the pause-threshold warning of the webhook receiver."""

from __future__ import annotations

from typing import Any

import structlog
from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ACK_SECONDS",
    "BATCH_SIZE",
    "CONSECUTIVE_ERRORS",
    "RECEIVED",
    "ErrorStreaks",
    "LabelledChildren",
]

log = structlog.get_logger(__name__)

RECEIVED = Counter(
    "intercom_webhooks_received_total",
    "Webhook requests answered, by app key, topic and outcome "
    "(stored, duplicate, ignored_old, unknown_app, forbidden, too_large, timeout, bad_signature, bad_body, "
    "unstorable, unavailable).",
    ["app", "topic", "outcome"],
)
ACK_SECONDS = Histogram(
    "intercom_webhook_ack_seconds",
    "Seconds from the start of a webhook request to its answer, by app key and status code.",
    ["app", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
BATCH_SIZE = Histogram(
    "intercom_webhook_insert_batch_size",
    "Notifications written per group-commit insert_many.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
CONSECUTIVE_ERRORS = Gauge(
    "intercom_webhook_consecutive_errors",
    "Error responses in a row per app key since the last 2xx; Intercom pauses a topic after "
    "more than 1,000 consecutive errors within 15 minutes.",
    ["app"],
)


class LabelledChildren:
    """The children of one labelled metric, each looked up once.

    `labels()` checks the values and takes a lock on every call. The receiver needs two
    children per request, so it keeps those it has seen. Labels are never removed from
    these metrics, so a kept child stays the one the registry exports.
    """

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


# Intercom pauses a subscription's topics for 15 minutes after more than this many
# consecutive error responses within 15 minutes, according to Intercom's webhook delivery rules.
INTERCOM_PAUSE_THRESHOLD = 1000
WARNING_LEVELS = (100, 250, 500, 750, 900, 1000)


class ErrorStreaks:
    """Count consecutive error responses per app and warn as they approach Intercom's pause threshold."""

    def __init__(self, logger: Any = log) -> None:
        self._logger = logger
        self._streaks: dict[str, int] = {}

    def record(self, app: str, status: int) -> int:
        """Record one response for `app`; return its current streak of consecutive errors."""
        if status < 400:
            if self._streaks.pop(app, 0):
                CONSECUTIVE_ERRORS.labels(app).set(0)
            return 0

        streak = self._streaks.get(app, 0) + 1
        self._streaks[app] = streak
        CONSECUTIVE_ERRORS.labels(app).set(streak)
        if streak in WARNING_LEVELS:
            self._logger.warning(
                "webhook.error_streak",
                app=app,
                consecutive_errors=streak,
                pause_threshold=INTERCOM_PAUSE_THRESHOLD,
                last_status=status,
            )
        return streak
