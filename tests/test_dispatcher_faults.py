"""Fault tests: workers killed or stopped, dead letters and replay, a database restart, worker metrics."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import app.embedded_db
from app.embedded_db import EmbeddedMongo
from app.services import build_services
from tests.conftest import REPO_ROOT, free_port
from tests.handlers.notifications import make_body, store_notifications
from webhooks.dispatcher import Dispatcher
from tests.handlers.fixtures import FAST, open_dispatcher, wait_for  # noqa: F401  (fixture)


def worker_environment(settings, **overrides: object) -> dict[str, str]:
    """Return the environment of a subprocess using the test's database and fast timings."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("WORKER_", "MONGODB_", "HANDLER_"))
    }
    environment.update({
        "APP_ENV": "development",
        "MONGODB_URI": settings.MONGODB_URI,
        "MONGODB_DATABASE": settings.MONGODB_DATABASE,
        "DATA_DIR": str(settings.DATA_DIR),
        "INTERCOM_CLIENT_SECRET": settings.INTERCOM_CLIENT_SECRET,
        "TOKEN_ENCRYPTION_KEYS": ",".join(settings.TOKEN_ENCRYPTION_KEYS),
        "LOG_FORMAT": "console",
        "WORKER_POLL_SECONDS": "0.05",
        "WORKER_BACKOFF_BASE_SECONDS": "0.01",
        "WORKER_BACKOFF_MAX_SECONDS": "0.05",
    })
    environment.update({key: str(value) for key, value in overrides.items()})
    return environment


def run_cli(settings, *arguments: str, **overrides: object) -> subprocess.CompletedProcess:
    """Run `intercom-app ARGUMENTS` to completion against the test's database."""
    return subprocess.run(
        [sys.executable, "-m", "app", *arguments],
        cwd=REPO_ROOT, env=worker_environment(settings, **overrides), capture_output=True, text=True, timeout=60,
    )


class WorkerProcess:
    """One `intercom-app` subprocess, `worker` by default, with its output in a log file."""

    def __init__(self, settings, log_path: Path, command: tuple[str, ...] = ("worker",), **overrides: object) -> None:
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", *command],
            cwd=REPO_ROOT, env=worker_environment(settings, **overrides), stdout=self._log, stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text()

    async def wait_exit(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"worker did not exit within {timeout} s; log:\n{self.log()}")
            await asyncio.sleep(0.02)
        return self.process.returncode

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


@pytest.fixture
def workers(tmp_path):
    """Return a function starting `intercom-app` subprocesses; all are killed at teardown."""
    started: list[WorkerProcess] = []

    def start(settings, command: tuple[str, ...] = ("worker",), **overrides: object) -> WorkerProcess:
        worker = WorkerProcess(settings, tmp_path / f"process-{len(started)}.log", command, **overrides)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.close()


@pytest.fixture
async def database_of(make_settings):
    """Return the settings and database of this test; the services close at teardown."""
    settings = make_settings(**FAST)
    services = await build_services(settings, settings.MONGODB_URI)
    yield settings, services.database
    await services.close()


async def _count(collection, expected: int, query: dict | None = None) -> bool:
    return await collection.count_documents(query or {}) == expected


async def test_killed_worker_loses_nothing(database_of, workers):
    settings, database = database_of
    [stored] = await store_notifications(database, [make_body("test.crash", {"type": "thing", "id": "1"})])
    doomed = workers(settings, HANDLER_MODULES="tests.handlers.blocking", WORKER_LEASE_SECONDS=1)
    await wait_for(lambda: _count(database.handler_starts, 1), timeout=20)

    doomed.process.send_signal(signal.SIGKILL)
    assert await doomed.wait_exit(5) == -signal.SIGKILL
    workers(settings, HANDLER_MODULES="tests.handlers.counting", WORKER_LEASE_SECONDS=1)
    document = await wait_for(lambda: database.notifications.find_one({"status": "done"}), timeout=20)

    assert document["notification_id"] == stored["notification_id"]
    assert document["attempts"] == 2
    assert "expired before the attempt finished" in document["errors"][0]["error"]
    assert await database.handler_runs.count_documents({}) == 1


async def test_sigterm_releases_within_deadline(database_of, workers):
    settings, database = database_of
    await store_notifications(database, [make_body("test.block", {"type": "thing", "id": str(i)}) for i in range(2)])
    worker = workers(settings, HANDLER_MODULES="tests.handlers.blocking", WORKER_SHUTDOWN_SECONDS=1, WORKER_LEASE_SECONDS=30)
    await wait_for(lambda: _count(database.handler_starts, 2), timeout=20)

    started = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    returncode = await worker.wait_exit(10)
    elapsed = time.monotonic() - started

    assert returncode == 0, worker.log()
    assert elapsed < 3.0
    documents = await database.notifications.find().to_list()
    assert [d["status"] for d in documents] == ["pending", "pending"]
    assert [d["attempts"] for d in documents] == [0, 0]
    assert all("lease_owner" not in d for d in documents)


async def test_sigterm_finishes_short_handlers(database_of, workers):
    settings, database = database_of
    await store_notifications(database, [make_body("test.slow", {"type": "thing", "sleep_seconds": 0.5})])
    worker = workers(settings, HANDLER_MODULES="tests.handlers.counting", WORKER_SHUTDOWN_SECONDS=5)
    await wait_for(lambda: _count(database.notifications, 1, {"status": "processing"}), timeout=20)

    worker.process.send_signal(signal.SIGTERM)

    assert await worker.wait_exit(10) == 0, worker.log()
    assert await database.notifications.count_documents({"status": "done"}) == 1
    assert await database.handler_runs.count_documents({}) == 1


async def test_two_workers_process_once(database_of, workers):
    settings, database = database_of
    bodies = [make_body("test.event", {"type": "conversation", "id": str(i % 40)}) for i in range(200)]
    await store_notifications(database, bodies)
    for _ in range(2):
        workers(settings, HANDLER_MODULES="tests.handlers.counting", WORKER_CONCURRENCY=4)

    await wait_for(lambda: _count(database.notifications, 200, {"status": "done"}), timeout=60)

    runs = await database.handler_runs.find().to_list()
    assert len(runs) == 200
    assert len({run["notification_id"] for run in runs}) == 200
    assert len({run["pid"] for run in runs}) == 2


async def test_replay_reruns_dead_after_fix(open_dispatcher):
    fixed = asyncio.Event()

    async def fails_until_fixed(context):
        if not fixed.is_set():
            raise RuntimeError("downstream rejected the update")

    async with open_dispatcher([("ticket.*", fails_until_fixed)], WORKER_MAX_ATTEMPTS=2) as (services, _):
        settings, database = services.settings, services.database
        [dead_one, other] = await store_notifications(database, [
            make_body("ticket.created", {"type": "ticket", "id": "1"}),
            make_body("ticket.created", {"type": "ticket", "id": "2"}, workspace_id="ws-other"),
        ])
        await wait_for(lambda: _count(database.notifications, 2, {"status": "dead"}))

        fixed.set()
        first = run_cli(settings, "replay", "--workspace", "ws7k2p9q", "--topic", "ticket.created")
        second = run_cli(settings, "replay", "--workspace", "ws7k2p9q")

        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == "re-queued 1 dead notification"
        assert second.stdout.strip() == "re-queued 0 dead notifications"
        document = await wait_for(lambda: database.notifications.find_one({"status": "done"}))
        assert document["notification_id"] == dead_one["notification_id"]
        assert document["attempts"] == 1
        assert [entry["attempt"] for entry in document["errors"]] == [1, 2]
        remaining = await database.notifications.find_one({"notification_id": other["notification_id"]})
        assert remaining["status"] == "dead"


async def test_replay_include_done_by_id(database_of):
    settings, database = database_of
    [done, dead] = await store_notifications(database, [
        make_body("contact.user.created", {"type": "contact", "id": "k1"}),
        make_body("contact.user.created", {"type": "contact", "id": "k2"}),
    ])
    await database.notifications.update_one({"_id": done["_id"]}, {"$set": {"status": "done"}})
    await database.notifications.update_one({"_id": dead["_id"]}, {"$set": {"status": "dead"}})

    by_id = run_cli(settings, "replay", "--id", done["notification_id"])
    with_done = run_cli(settings, "replay", "--id", done["notification_id"], "--include-done")
    bad_time = run_cli(settings, "replay", "--since", "yesterday")

    assert by_id.stdout.strip() == "re-queued 0 dead notifications"
    assert with_done.stdout.strip() == "re-queued 1 dead or done notification"
    assert (await database.notifications.find_one({"_id": done["_id"]}))["status"] == "pending"
    assert (await database.notifications.find_one({"_id": dead["_id"]}))["status"] == "dead"
    assert bad_time.returncode == 2
    assert "'yesterday' is not an ISO 8601 date or time" in bad_time.stderr


async def test_replay_include_ignored_by_topic(database_of):
    settings, database = database_of
    [ignored] = await store_notifications(database, [make_body("contact.user.created", {"type": "contact", "id": "k3"})])
    await database.notifications.update_one({"_id": ignored["_id"]}, {"$set": {"status": "ignored"}})

    without = run_cli(settings, "replay", "--topic", "contact.user.created", "--include-done")
    with_ignored = run_cli(settings, "replay", "--topic", "contact.user.created", "--include-ignored")

    assert without.stdout.strip() == "re-queued 0 dead or done notifications"
    assert with_ignored.stdout.strip() == "re-queued 1 dead or ignored notification"
    assert (await database.notifications.find_one({"_id": ignored["_id"]}))["status"] == "pending"


async def test_retry_policy_cli_sets_override(database_of):
    settings, database = database_of

    stored = run_cli(settings, "retry-policy", "set", "--workspace", "ws1", "--max-attempts", "3", "--backoff-base", "0.5")
    listed = run_cli(settings, "retry-policy", "list")
    missing = run_cli(settings, "retry-policy", "set", "--workspace", "ws1")
    cleared = run_cli(settings, "retry-policy", "clear", "--workspace", "ws1")

    assert stored.stdout.strip() == "app default, workspace ws1: max_attempts=3 backoff_base_seconds=0.5"
    assert "app default, workspace ws1: max_attempts=3 backoff_base_seconds=0.5" in listed.stdout
    assert missing.returncode == 2
    assert "give at least one of --max-attempts" in missing.stderr
    assert cleared.stdout.strip() == "cleared the override of app default, workspace ws1"
    assert await database.retry_policies.count_documents({}) == 0


async def test_worker_rejects_missing_module(database_of):
    settings, _ = database_of

    result = run_cli(settings, "worker", HANDLER_MODULES="tests.handlers.no_such_module")

    assert result.returncode == 1
    assert "HANDLER_MODULES entry 'tests.handlers.no_such_module' could not be imported" in result.stderr


async def test_worker_serves_processing_metrics(database_of, workers):
    settings, database = database_of
    port = free_port()
    await store_notifications(database, [make_body("metrics.worker", {"type": "thing"})])
    workers(settings, HANDLER_MODULES="tests.handlers.counting", METRICS_PORT=port, HOST="127.0.0.1")
    await wait_for(lambda: database.notifications.find_one({"status": "done"}), timeout=20)

    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/metrics")

    assert response.status_code == 200
    assert 'intercom_notifications_processed_total{outcome="done",topic="metrics.worker"} 1.0' in response.text


async def test_database_restart_loses_nothing(make_settings, tmp_path, monkeypatch):
    embedded = EmbeddedMongo(tmp_path / "restart-mongo")
    embedded.start()
    port = embedded.port
    settings = make_settings(**FAST, MONGODB_URI=embedded.uri, HANDLER_MODULES="tests.handlers.counting",
                             WORKER_MAX_ATTEMPTS=20)
    services = await build_services(settings, settings.MONGODB_URI)
    dispatcher = Dispatcher(services)
    try:
        database = services.database
        stored = await store_notifications(
            database, [make_body("test.outage", {"type": "thing", "id": str(i), "sleep_seconds": 0.01}) for i in range(200)]
        )
        await dispatcher.start()
        await wait_for(lambda: _runs_at_least(database, 30))
        done_before_outage = await database.notifications.count_documents({"status": "done"})

        await asyncio.to_thread(embedded.stop)
        await asyncio.sleep(1.5)
        monkeypatch.setattr(app.embedded_db, "_free_port", lambda: port)
        await asyncio.to_thread(embedded.start)

        await wait_for(lambda: _count(database.notifications, 200, {"status": "done"}), timeout=90)
        run_ids = {run["notification_id"] async for run in database.handler_runs.find()}
        assert run_ids == {document["notification_id"] for document in stored}
        assert await database.notifications.count_documents({"status": "dead"}) == 0
        assert done_before_outage < 200
    finally:
        await dispatcher.stop(2.0)
        await services.close()
        embedded.stop()


async def _runs_at_least(database, expected: int) -> bool:
    return await database.handler_runs.count_documents({}) >= expected
