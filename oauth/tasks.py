"""Background tasks of the service that must not outlive it: backfills and token checks."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

__all__ = ["BackgroundTasks"]

log = structlog.get_logger(__name__)


class BackgroundTasks:
    """Keep references to running tasks, log their failures, cancel them on close.

    A task here is never the only copy of its work: backfill keeps a checkpoint in the
    installation document and token checks are repeated on the next health check.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task:
        """Run `coroutine` in the background under `name`."""
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    async def close(self) -> None:
        """Cancel every task still running and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("background_task.failed", task=task.get_name(), error=str(error),
                      error_type=type(error).__name__)
