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
from webhooks.logs import notification_fields

__all__ = ["Inbox", "InboxUnavailable", "StoreOutcome", "UnstorableDocument"]

log = structlog.get_logger(__name__)

DUPLICATE_KEY = 11000
# How long past a batch's deadline the inbox waits for PyMongo's timeout before cancelling the
# insert itself. PyMongo's server selection overran a short timeout by half a second in a test.
HANG_GRACE_SECONDS = 0.1


class StoreOutcome(enum.Enum):
    """The result of storing one document."""

    STORED = "stored"
    DUPLICATE = "duplicate"


class InboxUnavailable(Exception):
    """Raised when the database did not acknowledge a document; the sender should retry later."""


class UnstorableDocument(Exception):
    """Raised when a document cannot be encoded as BSON. A retry would fail the same way."""


Outcome = StoreOutcome | InboxUnavailable | UnstorableDocument
# A queued document, the future its request waits on, and its deadline in event-loop time.
Pending = tuple[dict[str, Any], "asyncio.Future[StoreOutcome]", float]


class Inbox:
    """Insert notification documents with group commit; one instance per process and collection."""

    def __init__(
        self,
        collection: AsyncCollection,
        *,
        max_batch: int = 512,
        timeout_seconds: float = 3.0,
    ) -> None:
        self._collection = collection
        self._max_batch = max_batch
        self._timeout_seconds = timeout_seconds
        self._pending: list[Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self.batches_written = 0
        self.documents_written = 0

    async def store(self, document: dict[str, Any], *, timeout_seconds: float | None = None) -> StoreOutcome:
        """Insert `document` and wait until the database acknowledges it or rejects it as a duplicate.

        Raises InboxUnavailable when the database is unreachable, times out or reports a write
        error. That happens about `timeout_seconds` (by default the inbox's) after the call at the
        latest (see `_write`).
        """
        timeout = self._timeout_seconds if timeout_seconds is None else timeout_seconds
        if timeout <= 0:
            raise InboxUnavailable(f"the insert was not attempted: the request had used up its {self._timeout_seconds} s")

        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoreOutcome] = loop.create_future()
        # Mark the outcome retrieved, so a request that went away leaves no unread exception.
        future.add_done_callback(_retrieve_outcome)
        started = loop.time()
        # Queued with at least the inbox's timeout, so the deadlines in the queue follow the order
        # of arrival and a short timeout never shortens the batch that the document joins.
        self._pending.append((document, future, started + max(timeout, self._timeout_seconds)))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_pending())

        # A client that disconnects cancels only its own future, so the batch it joined is
        # still written for the others.
        if timeout >= self._timeout_seconds:
            return await future
        # A shorter timeout (the caller spent part of it) gets its own timer: the request fails at
        # its deadline, and the document may still be written with its batch.
        try:
            async with asyncio.timeout_at(started + timeout):
                return await future
        except TimeoutError:
            raise self._expired() from None

    async def _flush_pending(self) -> None:
        # One batch at a time: documents that arrive while a batch is in flight form the next
        # one. In the ingest benchmark, two batches in flight cost more CPU per request than one.
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            batch = self._fail_expired(batch, loop.time())
            if batch:
                await self._write(batch)
            # Let the requests of the written batch run first: with 16 connections this gave batches
            # about a fifth larger in the ingest benchmark.
            await asyncio.sleep(0)

    async def _write(self, batch: list[Pending]) -> None:
        # A batch ends by the deadline of its oldest document, and earlier batches by earlier
        # deadlines, so no request waits much longer than `timeout_seconds`. A document written
        # late still counts, because Intercom retries after the 503 and finds a duplicate.
        deadline = batch[0][2]
        try:
            # PyMongo's own timeout ends the insert cleanly. This one cuts off its overruns.
            async with asyncio.timeout_at(deadline + HANG_GRACE_SECONDS):
                outcomes = await self._insert([document for document, _, _ in batch], deadline)
        except TimeoutError:
            log.error("inbox.insert_timed_out", documents=len(batch), timeout_seconds=self._timeout_seconds)
            outcomes = [self._expired()] * len(batch)
        except Exception as error:  # every failure must reach every waiting request
            log.exception("inbox.batch_failed", documents=len(batch))
            outcomes = [InboxUnavailable(f"{type(error).__name__}: {error}")] * len(batch)

        self.batches_written += 1
        self.documents_written += len(batch)
        BATCH_SIZE.observe(len(batch))
        for (_, future, _), outcome in zip(batch, outcomes):
            _settle(future, outcome)

    async def _insert(self, documents: list[dict[str, Any]], deadline: float) -> list[Outcome]:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return [self._expired()] * len(documents)

        outcomes: list[Outcome] = [StoreOutcome.STORED] * len(documents)
        try:
            with pymongo.timeout(remaining):
                await self._collection.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            return self._bulk_outcomes(error, outcomes)
        except (InvalidDocument, OverflowError) as error:
            return await self._insert_apart(documents, deadline, error)
        except PyMongoError as error:
            log.error("inbox.insert_failed", documents=len(documents), error=_describe(error))
            return [InboxUnavailable(_describe(error))] * len(documents)
        return outcomes

    async def _insert_apart(self, documents: list[dict[str, Any]], deadline: float, error: Exception) -> list[Outcome]:
        """Write each document of a batch that failed to encode on its own, so only the bad ones fail."""
        if len(documents) == 1:
            [document] = documents
            reason = f"{type(error).__name__}: {error}"
            log.error("inbox.unstorable_document", **notification_fields(document), error=reason)
            return [UnstorableDocument(reason)]
        outcomes: list[Outcome] = []
        for document in documents:
            outcomes.extend(await self._insert([document], deadline))
        return outcomes

    def _fail_expired(self, batch: list[Pending], now: float) -> list[Pending]:
        """Fail the documents whose deadline passed while they queued; return the others."""
        live = [entry for entry in batch if entry[2] > now]
        for _, future, deadline in batch:
            if deadline <= now:
                _settle(future, self._expired())
        return live

    def _expired(self) -> InboxUnavailable:
        return InboxUnavailable(f"the insert was not acknowledged within {self._timeout_seconds} s")

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


def _settle(future: asyncio.Future[StoreOutcome], outcome: Outcome) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _retrieve_outcome(future: asyncio.Future[StoreOutcome]) -> None:
    if not future.cancelled():
        future.exception()


def _describe(error: PyMongoError) -> str:
    return f"{type(error).__name__}: {error}"
