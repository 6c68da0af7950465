"""Retention sweeps, expiry times, and processing metrics."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from prometheus_client import REGISTRY

from tests.handlers.notifications import make_body, store_notifications
from tests.handlers.fixtures import database, open_dispatcher, wait_for  # noqa: F401  (fixtures)
from webhooks import processing_metrics
from webhooks.processing_metrics import refresh_queue_gauges
from webhooks.retention import expiry_for, sweep_expired

NOW = datetime(2026, 6, 12, 9, 0, tzinfo=timezone.utc)


def test_expiry_keeps_replay_window():
    created = NOW - timedelta(hours=1)

    short_retention = expiry_for(NOW, created, retention_days=1, replay_window_seconds=7 * 24 * 3600)
    long_retention = expiry_for(NOW, created, retention_days=30, replay_window_seconds=7 * 24 * 3600)
    no_created = expiry_for(NOW, None, retention_days=1, replay_window_seconds=3 * 24 * 3600)

    assert short_retention == created + timedelta(days=7)
    assert long_retention == NOW + timedelta(days=30)
    assert no_created == NOW + timedelta(days=3)


async def test_sweep_deletes_only_expired_done(database):
    # Expiry times lie in the future, so a TTL monitor deletes nothing; the sweep runs as if
    # two days had passed.
    now = datetime.now(timezone.utc)
    await database.notifications.insert_many([
        {"app": "default", "notification_id": "old", "status": "done", "expires_at": now + timedelta(days=1)},
        {"app": "default", "notification_id": "fresh", "status": "done", "expires_at": now + timedelta(days=3)},
        {"app": "default", "notification_id": "dead", "status": "dead", "expires_at": now + timedelta(days=1)},
        {"app": "default", "notification_id": "pending", "status": "pending"},
        {"app": "default", "notification_id": "too-old", "status": "ignored", "expires_at": now + timedelta(days=1)},
    ])

    deleted = await sweep_expired(database, now + timedelta(days=2))

    assert deleted == 2
    remaining = sorted(d["notification_id"] for d in await database.notifications.find().to_list())
    assert remaining == ["dead", "fresh", "pending"]


async def test_dispatcher_sweeps_after_done(open_dispatcher):
    overrides = {"NOTIFICATION_RETENTION_DAYS": 1, "WEBHOOK_REPLAY_WINDOW_SECONDS": 60, "RETENTION_SWEEP_SECONDS": 0.1}
    async with open_dispatcher(**overrides) as (services, _):
        database = services.database
        old = make_body("test.event", {"type": "thing"}, created_at=int((datetime.now(timezone.utc) - timedelta(days=3)).timestamp()))
        await store_notifications(database, [old])
        await wait_for(lambda: database.notifications.find_one({"status": "done"}))
        # Age the finished notification past its expiry, as two days passing would.
        await database.notifications.update_one({}, {"$set": {"expires_at": datetime.now(timezone.utc) - timedelta(seconds=1)}})

        await wait_for(lambda: _empty(database))


async def _empty(database) -> bool:
    return await database.notifications.count_documents({}) == 0


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_queue_gauges_count_by_app(database):
    received = datetime.now(timezone.utc) - timedelta(seconds=90)
    await database.notifications.insert_many([
        {"app": "metrics-a", "status": "pending", "received_at": received},
        {"app": "metrics-a", "status": "pending", "received_at": received + timedelta(seconds=60)},
        {"app": "metrics-b", "status": "dead", "received_at": received},
    ])

    await refresh_queue_gauges(database)

    assert sample("intercom_notifications_pending", app="metrics-a") == 2
    assert sample("intercom_notifications_dead", app="metrics-b") == 1
    assert 85 <= sample("intercom_notifications_oldest_pending_age_seconds") <= 120

    await database.notifications.delete_many({"app": "metrics-a"})
    await refresh_queue_gauges(database)
    assert sample("intercom_notifications_pending", app="metrics-a") == 0


async def test_outcomes_counted_by_topic(open_dispatcher):
    async def fails(context):
        raise RuntimeError("no")

    before_done = sample("intercom_notifications_processed_total", topic="metrics.ok", outcome="done") or 0
    async with open_dispatcher([("metrics.bad", fails)], WORKER_MAX_ATTEMPTS=2) as (services, _):
        await store_notifications(services.database, [make_body("metrics.ok", {}), make_body("metrics.bad", {})])
        await wait_for(lambda: services.database.notifications.find_one({"status": "dead"}))

    assert sample("intercom_notifications_processed_total", topic="metrics.ok", outcome="done") == before_done + 1
    assert sample("intercom_notifications_processed_total", topic="metrics.bad", outcome="retry") >= 1
    assert sample("intercom_notifications_processed_total", topic="metrics.bad", outcome="dead") >= 1
    assert sample("intercom_notification_processing_seconds_count", topic="metrics.ok") >= 1


def test_topic_labels_are_capped(monkeypatch):
    monkeypatch.setattr(processing_metrics, "_topic_labels", set())
    monkeypatch.setattr(processing_metrics, "MAX_TOPIC_LABELS", 2)

    labels = [processing_metrics.topic_label(topic) for topic in ("a.one", "b.two", "c.three", "a.one")]

    assert labels == ["a.one", "b.two", "other", "a.one"]
