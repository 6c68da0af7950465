"""Prometheus metrics of Intercom API calls."""

from __future__ import annotations

from prometheus_client import Counter

__all__ = ["API_CALLS", "API_RATE_LIMITED", "API_RETRIES"]

API_CALLS = Counter(
    "intercom_api_calls_total",
    "Requests sent to Intercom's REST API, by app, region and response status.",
    ["app", "region", "status"],
)
API_RATE_LIMITED = Counter(
    "intercom_api_rate_limited_total",
    "Intercom API replies with status 429 (rate limit exceeded), by app.",
    ["app"],
)
API_RETRIES = Counter(
    "intercom_api_retries_total",
    "Intercom API requests sent again after a 429, a 5xx or a transport error, by app.",
    ["app"],
)
