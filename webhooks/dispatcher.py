"""The dispatcher: lease stored notifications, run the handlers of their topics, record the outcome.

Every step is a write to `notifications`, so any number of dispatchers in any number of
processes share one queue. A lease expires unless its worker renews it, so a crashed worker's
notifications are taken over; a stopping worker finishes or releases what it holds.

NOTE: nx-27017 0.8.1 stores a datetime written with `$set` as a string. Its queries still
compare such strings with datetimes correctly unless the filter also uses `$in` or `$nin`, so
the dispatcher only writes and queries `next_attempt_at`, `lease_until`, `processed_at` and
`expires_at`, never reads them back, and queries them without those operators.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import structlog
from pymongo.errors import PyMongoError

from webhooks import processing_metrics as metrics
from webhooks.leasing import FairLeaser
from webhooks.logs import RateLimitedLog, notification_fields
from webhooks.order_locks import OrderKeyGate
from webhooks.registry import NotificationContext
from webhooks.retention import expiry_for, sweep_expired
from webhooks.retry import RetryPolicies, RetryPolicy, backoff_seconds

__all__ = ["Dispatcher"]

log = structlog.get_logger(__name__)
# A database outage makes every loop fail on each turn; one line a minute per event is enough.
quiet_log = RateLimitedLog(log, interval=60.0)

# Installations in these states get no processing: their notifications are marked done.
INACTIVE_INSTALLATION_STATES = ("uninstalled", "revoked")
INSTALLATION_CACHE_SECONDS = 5.0
QUEUE_METRICS_SECONDS = 15.0
# Only the newest error entries are kept, so a notification replayed many times stays small.
MAX_ERROR_ENTRIES = 50
MAX_ERROR_CHARS = 2000
# How long a worker leaves a key out of its leases after finding it locked by another worker.
PARKED_KEY_HOLD_SECONDS = 0.25


class Dispatcher:
    """Lease due notifications and run the handlers registered for their topics."""

    def __init__(self, services, *, worker_id: str | None = None) -> None:
        self.services = services
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

        settings = services.settings
        self._database = services.database
        self._notifications = services.database.notifications
        self._concurrency = settings.WORKER_CONCURRENCY
        self._lease_seconds = settings.WORKER_LEASE_SECONDS
        self._poll_seconds = settings.WORKER_POLL_SECONDS
        self._handler_timeout = settings.WORKER_HANDLER_TIMEOUT_SECONDS
        self._leaser = FairLeaser(services.database, self.worker_id, self._lease_seconds)
        self._gate = OrderKeyGate(services.database, self.worker_id, self._lease_seconds, services.wakeup)
        self._policies = RetryPolicies(services.database, RetryPolicy.from_settings(settings))

        self._tasks_by_id: dict[Any, asyncio.Task] = {}
        self._installation_cache: dict[tuple[str, str | None], tuple[float, str | None]] = {}
        self._stopping = asyncio.Event()
        self._abandon = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._background: list[asyncio.Task] = []

    async def start(self) -> None:
        """Start processing in background tasks."""
        self._background = [
            asyncio.create_task(self._lease_loop(), name="dispatcher-lease"),
            asyncio.create_task(self._renew_loop(), name="dispatcher-renew"),
            asyncio.create_task(self._housekeeping_loop(), name="dispatcher-housekeeping"),
        ]
        log.info("dispatcher.started", worker_id=self.worker_id, concurrency=self._concurrency)

    async def stop(self, deadline: float | None = None) -> None:
        """Stop taking work, then finish or release the leased notifications within `deadline` seconds."""
        deadline = self.services.settings.WORKER_SHUTDOWN_SECONDS if deadline is None else deadline
        started = time.monotonic()
        self._stopping.set()
        self._slot_freed.set()
        self.services.wakeup.notify()

        # The lease loop exits after its current lease call, starting a task for what it got.
        lease_loop = self._background[0] if self._background else None
        if lease_loop is not None:
            await asyncio.wait([lease_loop], timeout=deadline / 2)

        # Leave a short margin at the end for releasing what is still running.
        margin = min(1.0, deadline * 0.2)
        running = list(self._tasks_by_id.values())
        if running:
            await asyncio.wait(running, timeout=max(deadline - margin - (time.monotonic() - started), 0.0))
        still_running = [task for task in self._tasks_by_id.values() if not task.done()]
        if still_running:
            self._abandon.set()
            await asyncio.wait(still_running, timeout=max(deadline - (time.monotonic() - started), 0.1))

        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        log.info("dispatcher.stopped", worker_id=self.worker_id, released=len(still_running),
                 seconds=round(time.monotonic() - started, 3))

    # The lease loop ---------------------------------------------------------------------

    async def _lease_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                while len(self._tasks_by_id) < self._concurrency and not self._stopping.is_set():
                    document = await self._leaser.lease(_now())
                    if document is None:
                        break
                    self._start_task(document)
            except PyMongoError as error:
                quiet_log.warning(
                    "dispatcher.lease_failed", key=self.worker_id, worker_id=self.worker_id, error=str(error)
                )
                await asyncio.sleep(self._poll_seconds)
                continue
            except Exception:
                # A bug must not end the loop silently: the worker would sit idle forever.
                log.exception("dispatcher.lease_crashed", worker_id=self.worker_id)
                await asyncio.sleep(self._poll_seconds)
                continue

            if self._stopping.is_set():
                return
            if len(self._tasks_by_id) >= self._concurrency:
                self._slot_freed.clear()
                if not self._stopping.is_set():
                    await self._slot_freed.wait()
            else:
                await self.services.wakeup.wait(self._poll_seconds)

    def _start_task(self, document: dict[str, Any]) -> None:
        task = asyncio.create_task(self._process(document))
        self._tasks_by_id[document["_id"]] = task

        def finished(_: asyncio.Task) -> None:
            self._tasks_by_id.pop(document["_id"], None)
            self._slot_freed.set()

        task.add_done_callback(finished)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            if not self._tasks_by_id:
                continue
            now = _now()
            held = list(self._tasks_by_id)
            try:
                await self._notifications.update_many(
                    {"_id": {"$in": held}, "lease_owner": self.worker_id, "status": "processing"},
                    {"$set": {"lease_until": now + timedelta(seconds=self._lease_seconds)}},
                )
                await self._gate.renew(held, now)
            except PyMongoError as error:
                quiet_log.warning(
                    "dispatcher.renew_failed", key=self.worker_id, worker_id=self.worker_id, held=len(held),
                    error=str(error),
                )

    async def _housekeeping_loop(self) -> None:
        settings = self.services.settings
        next_sweep = next_metrics = 0.0
        while True:
            clock = time.monotonic()
            try:
                if clock >= next_metrics:
                    next_metrics = clock + QUEUE_METRICS_SECONDS
                    await metrics.refresh_queue_gauges(self._database)
                if clock >= next_sweep:
                    next_sweep = clock + settings.RETENTION_SWEEP_SECONDS
                    await sweep_expired(self._database, _now())
            except PyMongoError as error:
                quiet_log.warning(
                    "dispatcher.housekeeping_failed", key=self.worker_id, worker_id=self.worker_id, error=str(error)
                )
            except Exception:
                log.exception("dispatcher.housekeeping_crashed", worker_id=self.worker_id)
            await asyncio.sleep(max(min(next_sweep, next_metrics) - time.monotonic(), 0.05))

    # One notification -------------------------------------------------------------------

    async def _process(self, document: dict[str, Any]) -> None:
        fields = notification_fields(document)
        topic = metrics.topic_label(document.get("topic") or "")
        started = time.perf_counter()
        try:
            outcome = await self._attempt(document, fields)
        except PyMongoError as error:
            # The lease expires and another worker (or this one) takes the notification over.
            log.error("notification.update_failed", **fields, error=str(error))
            return
        except Exception:
            log.exception("notification.dispatch_crashed", **fields)
            return
        metrics.OUTCOMES.labels(topic, outcome).inc()
        if outcome in ("done", "retry", "dead"):
            metrics.PROCESSING_SECONDS.labels(topic).observe(time.perf_counter() - started)

    async def _attempt(self, document: dict[str, Any], fields: dict[str, Any]) -> str:
        errors = list(document.get("errors") or [])
        if "expired_lease_owner" in document:
            errors.append(_error_entry(
                document["attempts"] - 1,
                f"lease of worker {document['expired_lease_owner']} expired before the attempt finished",
            ))
            log.warning("notification.lease_expired", **fields, previous_owner=document["expired_lease_owner"])

        policy = await self._policies.resolve(document["app"], document.get("workspace_id"))
        if document["attempts"] > policy.max_attempts:
            # Every allowed attempt ended in an expired lease (a crashed or killed worker), so
            # this lease runs nothing and does not count as an attempt.
            document["attempts"] -= 1
            await self._finish(document, "dead", errors=errors, fields=fields, uncount_attempt=True)
            log.error("notification.dead", **fields, attempts=document["attempts"], error=errors[-1]["error"])
            return "dead"

        order_key = document.get("order_key")
        pair = (document["app"], document.get("workspace_id"))
        if not await self._gate.enter(document):
            # Another notification about the same object runs: lease other work for a moment.
            self._leaser.hold_back(*pair, order_key, PARKED_KEY_HOLD_SECONDS)
            return "parked"
        if order_key:
            self._leaser.hold_back(*pair, order_key, float("inf"))
        try:
            return await self._run(document, errors, policy, fields)
        finally:
            if order_key:
                self._leaser.release(*pair, order_key)
            await self._gate.leave(document)

    async def _run(self, document: dict[str, Any], errors: list, policy: RetryPolicy, fields: dict[str, Any]) -> str:
        try:
            # The receiver stores the body as text. Older documents contain it as binary data,
            # which json.loads reads as well.
            envelope = json.loads(document["body"])
        except (KeyError, TypeError, ValueError) as error:
            errors.append(_error_entry(document["attempts"], f"stored body is not readable JSON: {error}"))
            log.error("notification.dead", **fields, attempts=document["attempts"], error=errors[-1]["error"])
            return await self._finish(document, "dead", errors=errors, fields=fields)

        status = await self._installation_status(document["app"], document.get("workspace_id"))
        if status in INACTIVE_INSTALLATION_STATES:
            note = f"not processed: the installation of workspace {document.get('workspace_id')} is {status}"
            await self._finish(document, "done", errors=errors, fields=fields, note=note)
            return "skipped"

        context = NotificationContext(
            app=document["app"],
            workspace_id=document.get("workspace_id"),
            notification_id=document["notification_id"],
            topic=document.get("topic") or "",
            envelope=envelope if isinstance(envelope, dict) else {},
            database=self._database,
        )
        handlers = self.services.handlers.handlers_for(context.topic)
        handler_task = asyncio.create_task(_run_handlers(context, handlers))
        abandon_task = asyncio.create_task(self._abandon.wait())
        done, _ = await asyncio.wait(
            {handler_task, abandon_task}, timeout=self._handler_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        abandon_task.cancel()

        if handler_task not in done:
            handler_task.cancel()
            await asyncio.gather(handler_task, return_exceptions=True)
            if self._abandon.is_set():
                await self._release(document, fields)
                return "released"
            error: str | None = f"handlers timed out after {self._handler_timeout:g} s"
        else:
            error = handler_task.result()

        if error is None:
            await self._finish(document, "done", errors=errors, fields=fields)
            return "done"
        return await self._fail(document, errors, policy, fields, error=error)

    async def _fail(
        self, document: dict[str, Any], errors: list, policy: RetryPolicy, fields: dict[str, Any], *, error: str
    ) -> str:
        attempt = document["attempts"]
        errors.append(_error_entry(attempt, error))
        if attempt >= policy.max_attempts:
            await self._finish(document, "dead", errors=errors, fields=fields)
            log.error("notification.dead", **fields, attempts=attempt, error=error)
            return "dead"

        delay = backoff_seconds(policy, attempt)
        await self._notifications.update_one(
            self._owned(document),
            {
                "$set": {
                    "status": "pending",
                    "next_attempt_at": _now() + timedelta(seconds=delay),
                    "errors": errors[-MAX_ERROR_ENTRIES:],
                    "last_error": errors[-1]["error"],
                },
                "$unset": {"lease_owner": "", "lease_until": ""},
            },
        )
        log.warning("notification.retry_scheduled", **fields, attempt=attempt, max_attempts=policy.max_attempts,
                    delay_seconds=round(delay, 3), error=errors[-1]["error"])
        return "retry"

    async def _finish(
        self,
        document: dict[str, Any],
        status: str,
        *,
        errors: list,
        fields: dict[str, Any],
        note: str | None = None,
        uncount_attempt: bool = False,
    ) -> str:
        now = _now()
        values: dict[str, Any] = {"status": status, "processed_at": now, "errors": errors[-MAX_ERROR_ENTRIES:]}
        if errors:
            values["last_error"] = errors[-1]["error"]
        if note:
            values["note"] = note
        if status == "done":
            settings = self.services.settings
            values["expires_at"] = expiry_for(
                now,
                _as_utc(document.get("created_at")),
                retention_days=settings.NOTIFICATION_RETENTION_DAYS,
                replay_window_seconds=settings.WEBHOOK_REPLAY_WINDOW_SECONDS,
            )

        update: dict[str, Any] = {"$set": values, "$unset": {"lease_owner": "", "lease_until": ""}}
        if uncount_attempt:
            update["$inc"] = {"attempts": -1}
        result = await self._notifications.update_one(self._owned(document), update)
        if result.matched_count == 0:
            log.warning("notification.lease_lost", **fields, status=status)
        else:
            log.debug("notification.finished", **fields, status=status, attempts=document["attempts"], note=note)
        return status

    async def _release(self, document: dict[str, Any], fields: dict[str, Any]) -> None:
        """Hand a notification back unprocessed: pending, due now, and the attempt not counted."""
        await self._notifications.update_one(
            self._owned(document),
            {
                "$set": {"status": "pending", "next_attempt_at": _now()},
                "$unset": {"lease_owner": "", "lease_until": ""},
                "$inc": {"attempts": -1},
            },
        )
        log.info("notification.released", **fields, worker_id=self.worker_id)

    # Helpers ------------------------------------------------------------------------------

    async def _installation_status(self, app: str, workspace_id: str | None) -> str | None:
        key = (app, workspace_id)
        cached = self._installation_cache.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        installation = await self._database.installations.find_one(
            {"app": app, "workspace_id": workspace_id}, {"status": 1}
        )
        status = installation.get("status") if installation else None
        self._installation_cache[key] = (time.monotonic() + INSTALLATION_CACHE_SECONDS, status)
        return status

    def _owned(self, document: dict[str, Any]) -> dict[str, Any]:
        return {"_id": document["_id"], "lease_owner": self.worker_id, "status": "processing"}


async def _run_handlers(context: NotificationContext, handlers: list) -> str | None:
    """Run every handler in order; return the first failure as text, or None when all succeed."""
    for name, handler in handlers:
        try:
            await handler(context)
        except Exception as error:  # the caller records the failure and schedules a retry
            return f"{name}: {type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
    return None


def _error_entry(attempt: int, error: str) -> dict[str, Any]:
    return {"attempt": attempt, "at": _now(), "error": error[:MAX_ERROR_CHARS]}


def _as_utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def _now() -> datetime:
    return datetime.now(timezone.utc)
