"""Prometheus metrics of the canvas endpoints."""

from __future__ import annotations

from prometheus_client import Histogram

__all__ = ["CANVAS_LATENCY"]

CANVAS_LATENCY = Histogram(
    "canvas_request_seconds",
    "Time to answer a Canvas Kit request, by endpoint (request kind) and outcome.",
    ["endpoint", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0),
)
"""Outcomes: `ok`, `error_canvas` (a view failed, timed out or did not fit), `not_found`,
`unauthorized` and `bad_request`."""
