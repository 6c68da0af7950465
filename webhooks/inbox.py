"""The durable notification inbox: group-committed inserts into `notifications`.

Concurrent webhook requests share one `insert_many(ordered=False)`. Each request waits for the
outcome of its own document: stored, duplicate (the unique (`app`, `notification_id`) index
already contains it, whether from an earlier request or from the same batch), InboxUnavailable
when the database did not acknowledge it, or UnstorableDocument when the document cannot be
encoded as BSON. A batch with such a document is written again one document at a time, so
only that document fails. While a batch is in flight, new documents queue for the next one,
so a lone request is written at once and a burst is written in few round trips.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import pymongo
import structlog
from bson.errors import InvalidDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, PyMongoError

from webhooks.ingest_metrics import BATCH_SIZE

__all__ = ["Inbox", "InboxUnavailable", "StoreOutcome", "UnstorableDocument"]

log = structlog.get_logger(__name__)

DUPLICATE_KEY = 11000


class StoreOutcome(enum.Enum):
    """The result of storing one document."""

    STORED = "stored"
    DUPLICATE = "duplicate"


class InboxUnavailable(Exception):
    """Raised when the database did not acknowledge a document; the sender should retry later."""


class UnstorableDocument(Exception):
    """Raised when a document cannot be encoded as BSON. A retry would fail the same way."""


class Inbox:
    """Insert notification documents with group commit; one instance per process and collection."""

    def __init__(
        self,
        collection: AsyncCollection,
        *,
        max_batch: int = 512,
        max_in_flight: int = 2,
        timeout_seconds: float = 3.0,
    ) -> None:
        self._collection = collection
        self._max_batch = max_batch
        self._timeout_seconds = timeout_seconds
        self._slots = asyncio.Semaphore(max_in_flight)
        self._pending: list[tuple[dict[str, Any], asyncio.Future[StoreOutcome]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._batches: set[asyncio.Task[None]] = set()
        self.batches_written = 0
        self.documents_written = 0

    async def store(self, document: dict[str, Any]) -> StoreOutcome:
        """Insert `document` and wait until the database acknowledges it or rejects it as a duplicate.

        Raises InboxUnavailable when the database is unreachable, times out or reports a write error.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoreOutcome] = loop.create_future()
        # Mark the outcome retrieved, so a request that went away leaves no unread exception.
        future.add_done_callback(_retrieve_outcome)
        self._pending.append((document, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_pending())

        # The wait is bounded from enqueueing, because a request queued behind slow batches
        # would otherwise wait for them too. A document written after that still counts: the
        # 503 makes Intercom retry, and the retry is a duplicate. A client that disconnects
        # cancels only its own future, so the batch it joined is still written for the others.
        deadline = loop.call_later(self._timeout_seconds, self._expire, future)
        try:
            return await future
        finally:
            deadline.cancel()

    def _expire(self, future: asyncio.Future[StoreOutcome]) -> None:
        if not future.done():
            future.set_exception(
                InboxUnavailable(f"the insert was not acknowledged within {self._timeout_seconds} s")
            )

    async def _flush_pending(self) -> None:
        while self._pending:
            await self._slots.acquire()
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            task = asyncio.create_task(self._write(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)
            # Let queued requests join the next batch while this one is in flight.
            await asyncio.sleep(0)

    async def _write(self, batch: list[tuple[dict[str, Any], asyncio.Future[StoreOutcome]]]) -> None:
        try:
            outcomes = await self._insert([document for document, _ in batch])
        except Exception as error:  # every failure must reach every waiting request
            log.exception("inbox.batch_failed", documents=len(batch))
            outcomes = [InboxUnavailable(f"{type(error).__name__}: {error}")] * len(batch)
        finally:
            self._slots.release()

        self.batches_written += 1
        self.documents_written += len(batch)
        BATCH_SIZE.observe(len(batch))
        for (_, future), outcome in zip(batch, outcomes):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _insert(self, documents: list[dict[str, Any]]) -> list[StoreOutcome | InboxUnavailable]:
        outcomes: list[StoreOutcome | InboxUnavailable] = [StoreOutcome.STORED] * len(documents)
        try:
            with pymongo.timeout(self._timeout_seconds):
                await self._collection.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            return self._bulk_outcomes(error, outcomes)
        except (InvalidDocument, OverflowError) as error:
            return await self._insert_apart(documents, error)
        except PyMongoError as error:
            log.error("inbox.insert_failed", documents=len(documents), error=_describe(error))
            return [InboxUnavailable(_describe(error))] * len(documents)
        return outcomes

    async def _insert_apart(self, documents: list[dict[str, Any]], error: Exception) -> list:
        """Write each document of a batch that failed to encode on its own, so only the bad ones fail."""
        if len(documents) == 1:
            [document] = documents
            log.error(
                "inbox.unstorable_document",
                app=document.get("app"),
                workspace_id=document.get("workspace_id"),
                notification_id=document.get("notification_id"),
                error=f"{type(error).__name__}: {error}",
            )
            return [UnstorableDocument(f"{type(error).__name__}: {error}")]
        outcomes: list = []
        for document in documents:
            outcomes.extend(await self._insert([document]))
        return outcomes

    def _bulk_outcomes(self, error: BulkWriteError, outcomes: list) -> list:
        details = error.details or {}
        if details.get("writeConcernErrors"):
            # The documents may be inserted but are not acknowledged by a majority, so the request
            # gets 503 and Intercom retries. The retry is then a duplicate of a stored document.
            reason = details["writeConcernErrors"][0].get("errmsg", "write concern error")
            log.error("inbox.write_concern_failed", documents=len(outcomes), error=reason)
            return [InboxUnavailable(f"write concern not satisfied: {reason}")] * len(outcomes)

        for write_error in details.get("writeErrors", []):
            index = write_error["index"]
            if write_error.get("code") == DUPLICATE_KEY:
                outcomes[index] = StoreOutcome.DUPLICATE
            else:
                message = write_error.get("errmsg", "write error")
                log.error("inbox.write_error", code=write_error.get("code"), error=message)
                outcomes[index] = InboxUnavailable(message)
        return outcomes


def _retrieve_outcome(future: asyncio.Future[StoreOutcome]) -> None:
    if not future.cancelled():
        future.exception()


def _describe(error: PyMongoError) -> str:
    return f"{type(error).__name__}: {error}"
