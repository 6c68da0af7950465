"""Retry policies: exponential backoff with full jitter and a maximum number of attempts.

A policy comes from the settings, can be overridden per app, and again per workspace.
Overrides live in the `retry_policies` collection, one document per (`app`, `workspace_id`),
where `workspace_id` is None for the app-wide override. Each override field is optional: a
missing field falls back to the app override, then to the settings.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

__all__ = ["RetryPolicies", "RetryPolicy", "backoff_seconds", "clear_override", "list_overrides", "set_override"]

# How long a resolved policy is reused before the overrides are read again.
CACHE_SECONDS = 5.0

OVERRIDE_FIELDS = ("max_attempts", "backoff_base_seconds", "backoff_max_seconds")


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failing notification is retried and how long it waits in between."""

    max_attempts: int
    backoff_base_seconds: float
    backoff_max_seconds: float

    @classmethod
    def from_settings(cls, settings: Any) -> RetryPolicy:
        """Build the default policy from WORKER_MAX_ATTEMPTS and the WORKER_BACKOFF_* settings."""
        return cls(
            max_attempts=settings.WORKER_MAX_ATTEMPTS,
            backoff_base_seconds=settings.WORKER_BACKOFF_BASE_SECONDS,
            backoff_max_seconds=settings.WORKER_BACKOFF_MAX_SECONDS,
        )

    def with_override(self, override: dict[str, Any] | None) -> RetryPolicy:
        """Return this policy with the non-null fields of an override document applied."""
        if not override:
            return self
        changes = {name: override[name] for name in OVERRIDE_FIELDS if override.get(name) is not None}
        return replace(self, **changes)


def backoff_seconds(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Return the delay before the run after failed `attempt` (1-based): full jitter.

    The cap grows as base * 2**(attempt-1) up to backoff_max_seconds, and the delay is drawn
    uniformly from [0, cap], so workers that failed together do not retry together.
    """
    exponent = min(max(attempt - 1, 0), 62)
    cap = min(policy.backoff_max_seconds, policy.backoff_base_seconds * (2**exponent))
    return (rng or random).uniform(0.0, cap)


class RetryPolicies:
    """Resolve the retry policy of an (app, workspace), caching overrides for a few seconds."""

    def __init__(self, database: AsyncDatabase, default: RetryPolicy) -> None:
        self._collection = database.retry_policies
        self._default = default
        self._cache: dict[tuple[str, str | None], tuple[float, RetryPolicy]] = {}

    async def resolve(self, app: str, workspace_id: str | None) -> RetryPolicy:
        """Return the settings' policy with the app and then the workspace override applied."""
        cache_key = (app, workspace_id)
        cached = self._cache.get(cache_key)
        if cached and cached[0] > time.monotonic():
            return cached[1]

        overrides = {
            document.get("workspace_id"): document
            async for document in self._collection.find({"app": app, "workspace_id": {"$in": [None, workspace_id]}})
        }
        policy = self._default.with_override(overrides.get(None))
        if workspace_id is not None:
            policy = policy.with_override(overrides.get(workspace_id))

        self._cache[cache_key] = (time.monotonic() + CACHE_SECONDS, policy)
        return policy


async def set_override(
    database: AsyncDatabase, app: str, workspace_id: str | None, **values: int | float | None
) -> dict[str, Any]:
    """Store the given policy fields for the app (workspace_id None) or one workspace; return the document."""
    unknown = set(values) - set(OVERRIDE_FIELDS)
    if unknown:
        raise ValueError(f"unknown retry policy fields {sorted(unknown)}; use {list(OVERRIDE_FIELDS)}")

    key = {"app": app, "workspace_id": workspace_id}
    current = await database.retry_policies.find_one(key) or {}
    document = {**key, **{name: current.get(name) for name in OVERRIDE_FIELDS}}
    document.update({name: value for name, value in values.items() if value is not None})
    await database.retry_policies.replace_one(key, document, upsert=True)
    return document


async def clear_override(database: AsyncDatabase, app: str, workspace_id: str | None) -> bool:
    """Delete the override of the app (workspace_id None) or one workspace; return whether one existed."""
    result = await database.retry_policies.delete_one({"app": app, "workspace_id": workspace_id})
    return result.deleted_count > 0


async def list_overrides(database: AsyncDatabase) -> list[dict[str, Any]]:
    """Return every stored override, app-wide ones first."""
    documents = [document async for document in database.retry_policies.find({}, {"_id": 0})]
    return sorted(documents, key=lambda d: (d["app"], d.get("workspace_id") is not None, d.get("workspace_id") or ""))

