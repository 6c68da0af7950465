"""Worker throughput: notifications per second from `pending` to `done` with the built-in
projections, for 1 and 2 `intercom-app worker` processes on one embedded database.

Each run stores NOTIFICATIONS notifications built from the shared webhook fixtures (fresh
notification ids, 10 workspaces, 200 distinct tickets, conversations and contacts), starts
the workers, releases the notifications at once, and times until every one is done. A run
fails when any notification ends dead or is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from app.database import connect, create_indexes
from app.embedded_db import EmbeddedMongo

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT.parent / "shared" / "fixtures" / "intercom"
NOTIFICATIONS = 1000
WORKER_COUNTS = (1, 2)
CONCURRENCY = 8
WORKSPACES = 10
OBJECTS = 200
TIMEOUT_SECONDS = 600
POLL_SECONDS = 1.0


def run() -> str:
    """Run the benchmark and return its Markdown section."""
    bodies = _bodies(NOTIFICATIONS)
    rows = []
    external_uri = os.environ.get("MONGODB_URI")
    with tempfile.TemporaryDirectory(prefix="bench-worker-") as root:
        if external_uri:
            server = "the MongoDB server at MONGODB_URI"
            for count in WORKER_COUNTS:
                rows.append(asyncio.run(_measure(external_uri, Path(root), bodies, count)))
        else:
            server = "the embedded nx-27017 server on the same machine"
            with EmbeddedMongo(Path(root) / "mongo") as mongo:
                for count in WORKER_COUNTS:
                    rows.append(asyncio.run(_measure(mongo.uri, Path(root), bodies, count)))

    lines = [
        "## Worker throughput",
        "",
        "Command: `make bench` (or `.venv/bin/python -m bench worker`). "
        f"{NOTIFICATIONS} notifications cycled from the shared webhook fixtures over {WORKSPACES} workspaces "
        f"and {OBJECTS} objects each kind, built-in projections only, WORKER_CONCURRENCY={CONCURRENCY}, "
        f"database: {server} (set MONGODB_URI to measure another). Time runs from releasing the stored "
        "notifications to the last one done.",
        "",
        "| Worker processes | Notifications | Seconds | Notifications per second | Dead | Missing |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for workers, total, seconds, dead, missing in rows:
        lines.append(f"| {workers} | {total} | {seconds:.2f} | {total / seconds:.0f} | {dead} | {missing} |")
    ratio = (rows[-1][1] / rows[-1][2]) / (rows[0][1] / rows[0][2])
    lines += ["", f"Two workers reach {ratio:.2f}× the throughput of one.", ""]
    if not external_uri:
        lines += [
            "On nx-27017 0.8.1 the lease queries scan the `notifications` collection, so the single "
            "database process is the bottleneck, and throughput falls as notifications accumulate. "
            "A second worker adds commands that this process runs one at a time, so two workers are "
            "not faster than one here. On a MongoDB replica set the lease queries use indexes; workers "
            "there have not been measured.",
            "",
        ]
    return "\n".join(lines)


def _bodies(total: int) -> list[bytes]:
    templates = [
        json.loads(path.read_bytes())
        for path in sorted(FIXTURES.glob("webhook.*.json"))
        if "ping" not in path.name
    ]
    bodies = []
    for index in range(total):
        envelope = json.loads(json.dumps(templates[index % len(templates)]))
        suffix = f"b{(index // len(templates)) % OBJECTS}"
        envelope["id"] = f"notif_bench_{index}"
        envelope["app_id"] = f"ws-bench-{index % WORKSPACES}"
        item = envelope["data"]["item"]
        target = item.get("ticket") if isinstance(item.get("ticket"), dict) else item
        if target.get("id"):
            target["id"] = f"{target['id']}{suffix}"
        bodies.append(json.dumps(envelope).encode())
    return bodies


async def _measure(uri: str, root: Path, bodies: list[bytes], workers: int) -> tuple[int, int, float, int, int]:
    database_name = f"bench_worker_{workers}"
    client = connect(uri)
    database = client[database_name]
    await create_indexes(database)
    now = datetime.now(timezone.utc)
    await database.notifications.insert_many([_document(body, now) for body in bodies])

    processes = [_start_worker(uri, database_name, root, number) for number in range(workers)]
    try:
        await asyncio.sleep(3.0)  # let the workers import, connect and start polling
        released_at = datetime.now(timezone.utc)
        await database.notifications.update_many({"status": "held"}, {"$set": {"status": "pending"}})
        deadline = time.monotonic() + TIMEOUT_SECONDS
        # Counting scans the collection on nx-27017 and competes with the workers, so poll once
        # a second, and take the finish from the last `processed_at` rather than from the poll.
        while await database.notifications.count_documents({"status": {"$in": ["pending", "processing", "held"]}}):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{workers} worker(s) did not finish {len(bodies)} notifications in {TIMEOUT_SECONDS} s")
            await asyncio.sleep(POLL_SECONDS)
        seconds = (await _last_processed_at(database) - released_at).total_seconds()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)

    done = await database.notifications.count_documents({"status": "done"})
    dead = await database.notifications.count_documents({"status": "dead"})
    missing = len(bodies) - done - dead
    await client.drop_database(database_name)
    await client.close()
    if dead or missing:
        raise RuntimeError(f"{workers} worker(s): {dead} dead and {missing} missing of {len(bodies)} notifications")
    return workers, len(bodies), seconds, dead, missing


async def _last_processed_at(database) -> datetime:
    """Return when the last notification reached `done` or `dead`."""
    times = []
    for status in ("done", "dead"):
        last = await database.notifications.find_one({"status": status}, {"processed_at": 1}, sort=[("processed_at", -1)])
        if last is not None:
            times.append(_as_datetime(last["processed_at"]))
    return max(times)


def _as_datetime(value: datetime | str) -> datetime:
    # NOTE: nx-27017 0.8.1 returns a datetime written with `$set` as a naive UTC string.
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return value


def _document(body: bytes, now: datetime) -> dict:
    envelope = json.loads(body)
    item = envelope["data"]["item"]
    if isinstance(item.get("ticket"), dict):
        target = item["ticket"]
    elif item.get("type") == "contact_tag":
        target = item.get("contact")
    else:
        target = item
    kind = "contact" if item.get("type") == "contact_tag" else target.get("type")
    return {
        "app": "default",
        "notification_id": envelope["id"],
        "workspace_id": envelope["app_id"],
        "topic": envelope["topic"],
        "body": body.decode(),
        "created_at": datetime.fromtimestamp(envelope["created_at"], tz=timezone.utc),
        "delivery_attempts": envelope.get("delivery_attempts"),
        "received_at": now,
        "status": "held",
        "attempts": 0,
        "next_attempt_at": now,
        "errors": [],
        "order_key": f"{kind}:{target['id']}" if kind in ("ticket", "conversation", "contact") else None,
    }


def _start_worker(uri: str, database_name: str, root: Path, number: int) -> subprocess.Popen:
    environment = {
        **os.environ,
        "APP_ENV": "development",
        "MONGODB_URI": uri,
        "MONGODB_DATABASE": database_name,
        "DATA_DIR": str(root / f"worker-{number}"),
        "WORKER_CONCURRENCY": str(CONCURRENCY),
        "WORKER_POLL_SECONDS": "0.05",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app", "worker"], cwd=REPO_ROOT, env=environment,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
