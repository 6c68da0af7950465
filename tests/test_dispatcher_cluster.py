"""Two web processes and two worker processes on one database: every notification runs once."""

from __future__ import annotations

import asyncio
import time

import httpx

from oauth.signing import sign_hub
from tests.conftest import TEST_CLIENT_SECRET, free_port
from tests.handlers.fixtures import wait_for
from tests.handlers.notifications import make_body
from tests.test_dispatcher_faults import database_of, workers  # noqa: F401  (fixtures)

WEBHOOK_PATH = "/intercom/default/webhooks"
# The bodies carry the current time, but a generous window keeps a slow run from ageing them out.
WINDOW = {"WEBHOOK_REPLAY_WINDOW_SECONDS": 3600}


async def wait_until_serving(url: str, worker) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=2.0) as client:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if worker.process.poll() is not None:
                raise AssertionError(f"the web process exited during start-up; log:\n{worker.log()}")
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the web process at {url} did not answer /healthz within 30 s")


async def test_cluster_processes_each_once(database_of, workers):
    settings, database = database_of
    common = {"HANDLER_MODULES": "tests.handlers.counting", "WORKER_CONCURRENCY": 4, **WINDOW}
    urls = []
    for _ in range(2):
        port = free_port()
        web = workers(settings, command=("serve", "--port", str(port)), **common)
        urls.append(f"http://127.0.0.1:{port}")
        await wait_until_serving(urls[-1], web)
    for _ in range(2):
        workers(settings, **common)

    now = int(time.time())
    bodies = [make_body("test.cluster", {"type": "conversation", "id": str(i % 25)}, created_at=now) for i in range(150)]
    async with httpx.AsyncClient(timeout=10.0) as client:
        # Every body goes to both web processes, as a retried delivery would.
        requests = [
            client.post(url + WEBHOOK_PATH, content=body,
                        headers={"Content-Type": "application/json", "X-Hub-Signature": sign_hub(body, TEST_CLIENT_SECRET)})
            for body in bodies for url in urls
        ]
        responses = await asyncio.gather(*requests)
    assert {response.status_code for response in responses} == {200}

    await wait_for(lambda: _done(database, 150), timeout=60)

    runs = await database.handler_runs.find().to_list()
    assert len(runs) == 150
    assert len({run["notification_id"] for run in runs}) == 150
    assert await database.notifications.count_documents({}) == 150
    assert len({run["pid"] for run in runs}) >= 2


async def _done(database, expected: int) -> bool:
    return await database.notifications.count_documents({"status": "done"}) == expected
