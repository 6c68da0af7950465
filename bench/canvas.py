"""Canvas initialize latency for a contact with 500 activity entries, over loopback HTTP.

Starts its own embedded MongoDB, seeds projection documents for one contact, starts
`intercom-app serve` as a separate process on a free loopback port, then times signed
Inbox initialize requests: sequentially, and with 4 in flight at once.
Responses that are the error canvas (the view missed CANVAS_TIME_BUDGET_SECONDS) are
counted and reported; any other failure fails the run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from pymongo import MongoClient

from app.embedded_db import EmbeddedMongo
from bench.ingest import ServerProcess, free_port
from canvas import sample_requests
from canvas.client import post_canvas

__all__ = ["run"]

SECRET = "bench_client_secret_not_real"
WORKSPACE = "ws7k2p9q"
CONTACT = "66b0f1a2c3d4e5f601234567"
DATABASE = "bench_canvas"
ACTIVITY_ENTRIES = 500
TICKETS = 20
CONVERSATIONS = 5
WARMUP = 20
SEQUENTIAL = 500
CONCURRENT_TOTAL = 500
CONCURRENCY = 4


def run() -> str:
    """Run the benchmark and return its Markdown section; raise when any request fails."""
    root = Path(tempfile.mkdtemp(prefix="bench-canvas-"))
    try:
        with EmbeddedMongo(root / "mongo") as mongo:
            _seed(mongo.uri)
            with _service(mongo.uri, root) as server:
                results = asyncio.run(_measure(server.url))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return _section(results)


def _seed(uri: str) -> None:
    now = datetime.now(timezone.utc)
    client = MongoClient(uri, tz_aware=True)
    try:
        database = client[DATABASE]
        base = {"app": "default", "workspace_id": WORKSPACE}
        database.activity.insert_many([
            {**base, "contact_id": CONTACT, "notification_id": f"notif-{n}", "topic": "conversation.user.replied",
             "occurred_at": now - timedelta(minutes=n), "summary": f"Customer replied in conversation {n}",
             "subject_type": "conversation", "subject_id": str(n)}
            for n in range(ACTIVITY_ENTRIES)
        ])
        database.tickets.insert_many([
            {**base, "ticket_id": str(600 + n), "ticket_number": str(n), "title": f"Ticket number {n}",
             "state": "in_progress", "state_internal_label": "With engineering", "state_external_label": "In progress",
             "contact_ids": [CONTACT], "created_at": now - timedelta(days=n + 1), "updated_at": now - timedelta(hours=n)}
            for n in range(TICKETS)
        ])
        database.conversations.insert_many([
            {**base, "conversation_id": str(9000 + n), "state": "closed", "contact_ids": [CONTACT], "rating": 5,
             "last_message": "Thanks!", "created_at": now - timedelta(days=n + 1), "updated_at": now - timedelta(hours=n)}
            for n in range(CONVERSATIONS)
        ])
    finally:
        client.close()


def _service(mongo_uri: str, root: Path) -> ServerProcess:
    """Return an `intercom-app serve` process on a free port, reading the seeded database."""
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "development",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MONGODB_URI": mongo_uri,
        "MONGODB_DATABASE": DATABASE,
        "DATA_DIR": str(root / "data"),
        "INTERCOM_CLIENT_SECRET": SECRET,
        "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "app", "serve"]
    return ServerProcess(command, port=port, env=env, log_path=root / "service.log")


async def _measure(url: str) -> dict[str, Any]:
    body = sample_requests.inbox_initialize(WORKSPACE, CONTACT)
    async with httpx.AsyncClient(base_url=url, timeout=10.0) as client:

        async def one() -> tuple[float, bool]:
            started = time.perf_counter()
            response = await post_canvas(client, "default", "inbox.initialize", body, SECRET)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"canvas request failed: HTTP {response.status_code} {response.text[:200]}")
            if "ticket:600" in response.text:
                return elapsed, True
            if '"id": "retry"' in response.text:
                return elapsed, False
            raise RuntimeError(f"canvas response is neither the activity canvas nor the error canvas: {response.text[:200]}")

        for _ in range(WARMUP):
            await one()
        sequential = [await one() for _ in range(SEQUENTIAL)]

        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def limited() -> tuple[float, bool]:
            async with semaphore:
                return await one()

        started = time.perf_counter()
        concurrent = await asyncio.gather(*(limited() for _ in range(CONCURRENT_TOTAL)))
        wall = time.perf_counter() - started
    return {"sequential": sequential, "concurrent": list(concurrent), "concurrent_wall": wall}


def _row(name: str, outcomes: list[tuple[float, bool]], wall: float) -> str:
    samples = [elapsed for elapsed, _ in outcomes]
    errors = sum(1 for _, complete in outcomes if not complete)
    p50 = statistics.median(samples) * 1000
    p99 = _percentile(samples, 0.99) * 1000
    rate = len(samples) / wall
    return f"| {name} | {len(samples)} | {p50:.1f} | {p99:.1f} | {max(samples) * 1000:.1f} | {rate:.0f} | {errors} |"


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _section(results: dict) -> str:
    sequential = results["sequential"]
    return "\n".join([
        "## canvas",
        "",
        "Command: `python -m bench canvas`. Signed Inbox initialize requests over loopback HTTP to a separate "
        f"`intercom-app serve` process (embedded MongoDB), for one contact with {ACTIVITY_ENTRIES} activity entries, "
        f"{TICKETS} tickets and {CONVERSATIONS} conversations, after {WARMUP} warm-up requests. Error canvases count "
        "responses where the view missed the default 0.8 s time budget and the service showed the retry canvas.",
        "",
        "| Run | Requests | p50 ms | p99 ms | max ms | Requests/s | Error canvases |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        _row("sequential", sequential, sum(elapsed for elapsed, _ in sequential)),
        _row(f"{CONCURRENCY} in flight", results["concurrent"], results["concurrent_wall"]),
        "",
    ])
