"""Fixtures and helpers shared by the dispatcher and projection tests; import them by name."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from app.services import build_services
from webhooks.dispatcher import Dispatcher
from webhooks.projections import register_projections
from webhooks.registry import HandlerRegistry

# Settings that keep retries and polling short so tests finish quickly.
FAST = {
    "WORKER_POLL_SECONDS": 0.05,
    "WORKER_LEASE_SECONDS": 2.0,
    "WORKER_BACKOFF_BASE_SECONDS": 0.01,
    "WORKER_BACKOFF_MAX_SECONDS": 0.05,
}


async def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Await `predicate()` until it returns a truthy value, and fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def open_dispatcher(make_settings):
    """Return an async context manager running a dispatcher on services built from overrides."""

    @contextlib.asynccontextmanager
    async def open_(handlers=None, **overrides):
        settings = make_settings(**{**FAST, **overrides})
        services = await build_services(settings, settings.MONGODB_URI)
        for pattern, handler in handlers or ():
            services.handlers.add(pattern, handler)
        dispatcher = Dispatcher(services, worker_id="test-worker")
        await dispatcher.start()
        try:
            yield services, dispatcher
        finally:
            await dispatcher.stop(2.0)
            await services.close()

    return open_


@pytest.fixture
async def database(make_settings):
    """The database of this test, with every index created."""
    settings = make_settings()
    services = await build_services(settings, settings.MONGODB_URI)
    yield services.database
    await services.close()


@pytest.fixture
def registry() -> HandlerRegistry:
    """A handler registry with only the built-in projections."""
    registry = HandlerRegistry()
    register_projections(registry)
    return registry
