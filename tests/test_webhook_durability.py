"""Group commit, database outages and replay protection of the webhook receiver."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import time
from datetime import timedelta

import httpx
import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

import app.embedded_db
import oauth.apps
from app.embedded_db import EmbeddedMongo
from tests.handlers.fixtures import database  # noqa: F401  (fixture)
from tests.test_webhook_observability import RecordingLogger, metric_value
from tests.webhook_requests import fixture_files, make_body, post_signed
from oauth.apps import AppRegistry, AppStore, RegisteredApp
from webhooks.logs import RateLimitedLog
from webhooks.inbox import Inbox, InboxUnavailable, StoreOutcome, UnstorableDocument


async def test_concurrent_requests_share_batches(live_server):
    bodies = [make_body() for _ in range(64)]
    duplicate = make_body()
    receiver = live_server.app.extensions["webhook_receiver"]

    responses = await asyncio.gather(
        *(post_signed(live_server.client, body) for body in bodies),
        *(post_signed(live_server.client, duplicate) for _ in range(8)),
    )

    assert all(response.status_code == 200 for response in responses)
    statuses = [response.json()["status"] for response in responses]
    assert statuses[:64] == ["stored"] * 64
    assert sorted(statuses[64:]) == ["duplicate"] * 7 + ["stored"]
    assert receiver.inbox.documents_written == 72
    assert receiver.inbox.batches_written < 72
    assert await live_server.database.notifications.count_documents({}) == 65


async def test_unstorable_document_fails_alone(database):
    inbox = Inbox(database.notifications)
    documents = [{"app": "default", "notification_id": f"notif_{index}", "status": "pending"} for index in range(5)]
    unstorable = {"app": "default", "notification_id": "notif_huge", "delivery_attempts": 2**70}

    # Stored in one event-loop turn, so all six join one batch.
    outcomes = await asyncio.gather(
        *(inbox.store(document) for document in [*documents[:3], unstorable, *documents[3:]]),
        return_exceptions=True,
    )

    assert isinstance(outcomes[3], UnstorableDocument)
    assert "8-byte ints" in str(outcomes[3])
    assert outcomes[:3] + outcomes[4:] == [StoreOutcome.STORED] * 5
    assert await database.notifications.count_documents({}) == 5


@pytest.fixture
def stallable_mongo(tmp_path):
    """An embedded MongoDB of this test only, which the test may stop with SIGSTOP."""
    embedded = EmbeddedMongo(tmp_path / "stalled-mongo")
    embedded.start()
    yield embedded
    embedded.stop()


@contextlib.contextmanager
def stalled(embedded: EmbeddedMongo):
    """Stop the server's process while the block runs, as a database that never responds."""
    os.kill(embedded.running_pid(), signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(embedded.running_pid(), signal.SIGCONT)


@pytest.fixture
async def stallable_inbox(stallable_mongo):
    """An inbox on `stallable_mongo` with a 0.5 s timeout, which has stored one document."""
    client = AsyncMongoClient(stallable_mongo.uri, directConnection=True)
    inbox = Inbox(client.stalled.notifications, timeout_seconds=0.5)
    assert await inbox.store({"app": "default", "notification_id": "notif_first"}) is StoreOutcome.STORED
    yield inbox
    await client.close()


async def test_stalled_database_bounds_every_wait(stallable_mongo, stallable_inbox):
    inbox = stallable_inbox
    documents = [{"app": "default", "notification_id": f"notif_{index}"} for index in range(3)]

    with stalled(stallable_mongo):
        started = time.monotonic()
        # The second document queues behind the first one's batch, which the stopped database never acknowledges.
        first = asyncio.create_task(inbox.store(documents[1]))
        await asyncio.sleep(0.3)
        queued_at = time.monotonic()
        outcomes = await asyncio.gather(first, inbox.store(documents[2]), return_exceptions=True)
        finished = time.monotonic()

    assert all(isinstance(outcome, InboxUnavailable) for outcome in outcomes), outcomes
    assert finished - started < 0.5 + 0.5
    assert finished - queued_at < 0.5 + 0.3


async def test_shorter_timeout_ends_before_batch(stallable_mongo, stallable_inbox):
    inbox = stallable_inbox
    documents = [{"app": "default", "notification_id": f"notif_{index}"} for index in range(3)]

    with stalled(stallable_mongo):
        in_flight = asyncio.create_task(inbox.store(documents[1]))
        await asyncio.sleep(0.1)
        # As after an app lookup that used most of the budget: this deadline comes before the
        # deadline of the batch in flight.
        started = time.monotonic()
        with pytest.raises(InboxUnavailable):
            await inbox.store(documents[2], timeout_seconds=0.2)
        short_after = time.monotonic() - started

        started = time.monotonic()
        with pytest.raises(InboxUnavailable) as spent:
            await inbox.store(documents[2], timeout_seconds=0.0)
        spent_after = time.monotonic() - started
        with pytest.raises(InboxUnavailable):
            await in_flight

    assert short_after < 0.2 + 0.1
    assert spent_after < 0.05
    assert str(spent.value) == "the insert was not attempted: the request had used up its 0.5 s"


async def test_short_timeout_keeps_batch_deadline(database):
    inbox = Inbox(database.notifications, timeout_seconds=5.0)
    short = {"app": "default", "notification_id": "notif_short"}
    large = [{"app": "default", "notification_id": f"notif_large_{index}", "body": "x" * 100_000} for index in range(300)]

    # Stored in one event-loop turn, so all join one batch led by `short`. Writing 30 MB takes
    # longer than its 0.1 s (about 0.35 s on the embedded server here).
    outcomes = await asyncio.gather(
        inbox.store(short, timeout_seconds=0.1), *(inbox.store(document) for document in large), return_exceptions=True
    )

    assert outcomes[1:] == [StoreOutcome.STORED] * len(large)
    assert outcomes[0] is StoreOutcome.STORED or isinstance(outcomes[0], InboxUnavailable)
    assert await database.notifications.count_documents({}) == len(large) + 1


async def test_stalled_database_bounds_late_batches(stallable_mongo):
    # Fast heartbeats let the client mark the stalled server unknown within the test. Server
    # selection then waits in half-second steps, past a short timeout.
    client = AsyncMongoClient(
        stallable_mongo.uri, directConnection=True, heartbeatFrequencyMS=500, connectTimeoutMS=200
    )
    inbox = Inbox(client.stalled.notifications, timeout_seconds=0.5)

    async def timed_store(index: int) -> float:
        started = time.monotonic()
        with contextlib.suppress(InboxUnavailable):
            await inbox.store({"app": "default", "notification_id": f"notif_{index}"})
        return time.monotonic() - started

    await inbox.store({"app": "default", "notification_id": "notif_first"})
    with stalled(stallable_mongo):
        # Requests keep arriving, so some batches start with only milliseconds left.
        tasks = []
        for index in range(30):
            tasks.append(asyncio.create_task(timed_store(index)))
            await asyncio.sleep(0.09)
        waits = await asyncio.gather(*tasks)
    await client.close()

    assert max(waits) < 0.5 + 0.2, waits


async def test_app_lookup_bounded_while_database_stalls(stallable_mongo):
    client = AsyncMongoClient(stallable_mongo.uri, directConnection=True)
    await client.stalled.apps.insert_one({"_id": "second", "client_id": "cid-second"})
    # Every lookup goes to the database, as after the cache entry expired.
    apps = AppRegistry(client.stalled, None, cache_seconds=0.0)
    assert (await apps.get("second")).client_id == "cid-second"

    with stalled(stallable_mongo):
        started = time.monotonic()
        cached = await apps.get("second", timeout=0.5)
        cached_after = time.monotonic() - started

        started = time.monotonic()
        burst = await asyncio.gather(*(apps.get("second", timeout=0.5) for _ in range(20)))
        burst_after = time.monotonic() - started

        started = time.monotonic()
        with pytest.raises((TimeoutError, PyMongoError)):
            await apps.get("third", timeout=0.5)
        missing_after = time.monotonic() - started
    await client.close()

    assert cached.client_id == "cid-second"
    assert cached_after < 0.5 + 0.2
    assert [app.client_id for app in burst] == ["cid-second"] * 20
    assert burst_after < 0.5 + 0.2
    assert missing_after < 0.5 + 0.2


SECOND_APP_PATH = "/intercom/second/webhooks"


async def start_with_second_app(start_server, stallable_mongo):
    """Start a server on `stallable_mongo` with the app `second` registered but not cached."""
    server = await start_server(
        MONGODB_URI=stallable_mongo.uri, WEBHOOK_INSERT_TIMEOUT_SECONDS=0.5, WORKERS_IN_PROCESS=False
    )
    services = server.services
    store = AppStore(services.database, encrypt=services.cipher.encrypt, registry=services.apps)
    # Adding the app drops its cached lookup, so the next request for it reads the database.
    await store.add("second", "cid-second", "second-secret")
    return server


async def test_lookup_and_insert_share_one_timeout(start_server, stallable_mongo):
    server = await start_with_second_app(start_server, stallable_mongo)
    path = SECOND_APP_PATH
    assert (await post_signed(server.client, make_body(), secret="second-secret", path=path)).status_code == 200
    # Every lookup now reaches the database, as after the cache entry expired, and falls back
    # to the cached app when the database times out.
    server.services.apps._cache_seconds = 0.0

    with stalled(stallable_mongo):
        started = time.monotonic()
        response = await post_signed(server.client, make_body(), secret="second-secret", path=path)
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert elapsed < 0.5 + 0.3


async def test_lookup_failures_logged_once(start_server, stallable_mongo):
    server = await start_with_second_app(start_server, stallable_mongo)
    recorder = RecordingLogger()
    server.app.extensions["webhook_receiver"].warnings = RateLimitedLog(recorder)
    received = {"app": "unknown", "topic": "", "outcome": "unavailable"}
    before = metric_value((await server.client.get("/metrics")).text, "intercom_webhooks_received_total", **received)

    with stalled(stallable_mongo):
        responses = [
            await post_signed(server.client, make_body(), secret="second-secret", path=SECOND_APP_PATH)
            for _ in range(2)
        ]
        responses.append(await post_signed(server.client, make_body(), path="/intercom/made-up/webhooks"))
    metrics = (await server.client.get("/metrics")).text

    for response in responses:
        assert response.status_code == 503
        assert response.json() == {"error": "the database is unavailable; retry later"}
    assert metric_value(metrics, "intercom_webhooks_received_total", **received) - before == 3
    assert [event for _, event, _ in recorder.calls] == ["webhook.app_lookup_failed"]


async def test_unreadable_app_secret_gets_503(live_server):
    # A secret encrypted with a key that is no longer in TOKEN_ENCRYPTION_KEYS.
    await live_server.database.apps.insert_one(
        {"_id": "second", "client_id": "cid-second", "client_secrets_encrypted": ["gAAAAAB-not-a-token"]}
    )
    path = "/intercom/second/webhooks"

    webhook = await post_signed(live_server.client, make_body(), secret="second-secret", path=path)
    head = await live_server.client.head(path)
    install = await live_server.client.get("/intercom/second/install")

    assert webhook.status_code == 503
    assert webhook.json() == {"error": "the service cannot read this app's client secret; retry later"}
    assert head.status_code == 503
    assert install.status_code == 503
    assert "client secret" in install.json()["error"]


async def test_made_up_app_keys_bounded(database, monkeypatch):
    monkeypatch.setattr(oauth.apps, "MAX_CACHED_LOOKUPS", 8)
    await database.apps.insert_one({"_id": "second", "client_id": "cid-second"})
    apps = AppRegistry(database, None)
    found = await apps.get("second")

    for index in range(20):
        assert await apps.get(f"made-up-{index}") is None
    assert await apps.get("Not A Key!") is None

    assert apps.cached_lookups == 8
    assert apps.peek("second") is found, "lookups of made-up keys evicted a registered app"


async def test_app_peek_reads_only_memory(database):
    await database.apps.insert_one({"_id": "second", "client_id": "cid-second"})
    default = RegisteredApp("default", "cid-default", ("secret",))
    apps = AppRegistry(database, default)

    assert apps.peek("default") is default
    assert apps.peek("second") is None, "an app not looked up yet needs the database"
    found = await apps.get("second")
    assert found.client_id == "cid-second"
    assert apps.peek("second") is found

    apps.forget("second")
    assert apps.peek("second") is None


async def test_concurrent_lookups_share_one_read(database, monkeypatch):
    await database.apps.insert_one({"_id": "second", "client_id": "cid-second"})
    apps = AppRegistry(database, None)
    reads = counted_reads(apps, monkeypatch, delay=0.05)

    first = asyncio.create_task(apps.get("second"))
    await asyncio.sleep(0.01)
    found = await asyncio.gather(*(apps.get("second") for _ in range(49)))
    # The caller that started the read goes away, and the read still returns the app to the others.
    first.cancel()

    assert [app.client_id for app in found] == ["cid-second"] * 49
    assert reads == ["second"]
    assert apps.peek("second") is found[0]


async def test_joined_lookup_keeps_its_own_timeout(database, monkeypatch):
    await database.apps.insert_one({"_id": "second", "client_id": "cid-second"})
    apps = AppRegistry(database, None)
    reads = counted_reads(apps, monkeypatch, delay=1.0)

    slow = asyncio.create_task(apps.get("second", timeout=5.0))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await apps.get("second", timeout=0.2)
    joined_after = time.monotonic() - started

    assert (await slow).client_id == "cid-second"
    assert joined_after < 0.2 + 0.2
    assert reads == ["second"]


async def test_lookup_before_forget_is_not_cached(database, monkeypatch):
    await database.apps.insert_one({"_id": "second", "client_id": "cid-old"})
    apps = AppRegistry(database, None)
    # The read that started first returns last.
    reads = counted_reads(apps, monkeypatch, delay=0.2, later_delay=0.0)

    before = asyncio.create_task(apps.get("second"))
    await asyncio.sleep(0.05)
    await database.apps.update_one({"_id": "second"}, {"$set": {"client_id": "cid-new"}})
    apps.forget("second")
    after = await apps.get("second")

    assert (await before).client_id == "cid-old"
    assert after.client_id == "cid-new"
    assert (await apps.get("second")).client_id == "cid-new"
    assert reads == ["second", "second"]


async def test_abandoned_lookup_error_retrieved(stallable_mongo):
    client = AsyncMongoClient(stallable_mongo.uri, directConnection=True)
    apps = AppRegistry(client.stalled, None)
    loop = asyncio.get_running_loop()
    unhandled: list[dict] = []
    loop.set_exception_handler(lambda _, context: unhandled.append(context))

    with stalled(stallable_mongo):
        with pytest.raises((TimeoutError, PyMongoError)):
            await asyncio.wait_for(apps.get("second", timeout=0.3), 0.1)
        # The read goes on without callers until its own timeout.
        await asyncio.sleep(0.6)
    gc.collect()
    await client.close()
    loop.set_exception_handler(None)

    assert unhandled == []


async def test_lookup_without_timeout_ends(stallable_mongo, monkeypatch):
    monkeypatch.setattr(oauth.apps, "DEFAULT_LOOKUP_TIMEOUT_SECONDS", 0.3)
    client = AsyncMongoClient(stallable_mongo.uri, directConnection=True)
    apps = AppRegistry(client.stalled, None)

    with stalled(stallable_mongo):
        started = time.monotonic()
        with pytest.raises((TimeoutError, PyMongoError)):
            await apps.get("second")
        elapsed = time.monotonic() - started
    await client.close()

    assert elapsed < 0.3 + 0.3


async def test_made_up_keys_keep_expired_apps(database, monkeypatch):
    monkeypatch.setattr(oauth.apps, "MAX_CACHED_LOOKUPS", 8)
    await database.apps.insert_one({"_id": "second", "client_id": "cid-second"})
    apps = AppRegistry(database, None, cache_seconds=0.05)
    await apps.get("second")
    await asyncio.sleep(0.1)

    for index in range(20):
        await apps.get(f"made-up-{index}")

    # The expired entry still serves as the fallback while the database is down.
    assert "second" in apps._cache


def counted_reads(apps: AppRegistry, monkeypatch, *, delay: float, later_delay: float | None = None) -> list[str]:
    """Record the key of each database read of `apps` and delay its result.

    The first read returns after `delay` seconds, later ones after `later_delay` (default `delay`).
    """
    reads: list[str] = []
    load = apps._load

    async def slow_load(key: str):
        wait = delay if not reads or later_delay is None else later_delay
        reads.append(key)
        found = await load(key)
        await asyncio.sleep(wait)
        return found

    monkeypatch.setattr(apps, "_load", slow_load)
    return reads


async def test_database_outage_loses_nothing(start_server, tmp_path, monkeypatch):
    embedded = EmbeddedMongo(tmp_path / "outage-mongo")
    embedded.start()
    port = embedded.port
    try:
        server = await start_server(
            MONGODB_URI=embedded.uri, WEBHOOK_INSERT_TIMEOUT_SECONDS=0.5, WORKERS_IN_PROCESS=False
        )
        bodies = [make_body() for _ in range(240)]
        outcomes: dict[bytes, int] = {}
        sent = 0

        async def send_all(worker: int) -> None:
            nonlocal sent
            for body in bodies[worker::8]:
                try:
                    response = await post_signed(server.client, body)
                    outcomes[body] = response.status_code
                except httpx.TransportError:
                    outcomes[body] = 0
                sent += 1
                await asyncio.sleep(0.005)

        async def stop_and_restart() -> None:
            while sent < 60:
                await asyncio.sleep(0.005)
            await asyncio.to_thread(embedded.stop)
            await asyncio.sleep(1.0)
            monkeypatch.setattr(app.embedded_db, "_free_port", lambda: port)
            await asyncio.to_thread(embedded.start)

        await asyncio.gather(stop_and_restart(), *(send_all(worker) for worker in range(8)))
        # Every request has a response now: 200 means stored, anything else means Intercom retries.
        retried = [body for body, status in outcomes.items() if status != 200]
        for body in retried:
            assert (await post_signed(server.client, body)).status_code == 200

        acknowledged = [body for body, status in outcomes.items() if status == 200]
        assert set(outcomes.values()) <= {0, 200, 503}
        assert 503 in outcomes.values()
        assert len(acknowledged) > 60
        stored = {document["body"].encode() for document in await server.database.notifications.find({}).to_list()}
        assert set(acknowledged) <= stored
        assert len(stored) == len(bodies)
    finally:
        embedded.stop()


async def test_old_notification_ignored(start_server):
    server = await start_server(WEBHOOK_REPLAY_PROTECTION="on", WEBHOOK_REPLAY_WINDOW_SECONDS=3600)
    old = make_body(created_at=int(time.time()) - 7200)
    fresh = make_body(created_at=int(time.time()) - 60)

    old_response = await post_signed(server.client, old)
    replayed = await post_signed(server.client, old)
    fresh_response = await post_signed(server.client, fresh)

    assert old_response.status_code == 200
    assert old_response.json()["status"] == "ignored_old"
    assert replayed.status_code == 200
    assert replayed.json()["status"] == "duplicate"
    assert fresh_response.json()["status"] == "stored"
    document = await server.database.notifications.find_one({"notification_id": json.loads(old)["id"]})
    assert document["status"] == "ignored"
    assert document["expires_at"] - document["received_at"] >= timedelta(days=30)
    assert await server.database.notifications.count_documents({"status": "pending"}) == 1


async def test_production_ignores_old_fixtures(start_server):
    server = await start_server(APP_ENV="production", PUBLIC_URL="http://127.0.0.1", ADMIN_PASSWORD="test-only")
    path = next(p for p in fixture_files() if p.name == "webhook.ticket.created.json")

    response = await post_signed(server.client, path.read_bytes())

    assert response.status_code == 200
    assert response.json()["status"] == "ignored_old"


async def test_development_processes_old_fixtures(live_server):
    path = next(p for p in fixture_files() if p.name == "webhook.ticket.created.json")

    response = await post_signed(live_server.client, path.read_bytes())

    assert response.json()["status"] == "stored"
